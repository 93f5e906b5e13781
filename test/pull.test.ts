/**
 * `pull` against a registry written for the tests (test/helpers/registry-server.ts, 127.0.0.1 and
 * localhost only), serving a model installed from a fixture GGUF: install, a redirect to a second
 * host, ranged parts, a dropped connection then a resumed pull, a corrupt blob, 404 and 401.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { installModel } from "../src/ollama/install.ts";
import { blobPath } from "../src/ollama/blobs.ts";
import { manifestBlobs, parseManifest } from "../src/ollama/manifest.ts";
import { manifestPath, parseModelName } from "../src/ollama/names.ts";
import { pullModel } from "../src/ollama/registry.ts";
import { runCliAsync as runCli, SHARED } from "./helpers/cli.ts";
import { startTestRegistry, type TestRegistry } from "./helpers/registry-server.ts";
import { snapshotFiles } from "./helpers/ollama-store-builder.ts";

const storeFileNames = (dir: string) => [...snapshotFiles(dir).keys()];

const work = mkdtempSync(join(tmpdir(), "gguf-tool-pull-"));
const origin = join(work, "origin");
let registry: TestRegistry;
let modelDigest: string;
let manifestBytes: Buffer;

/** Pull tuning for small blobs: 64 KiB parts, quick retries. */
const fast = { partSize: () => 64 * 1024, retryDelayMs: () => 10, stallTimeoutMs: 5000 };

beforeAll(async () => {
  await installModel({ modelsDir: origin, name: "tiny:latest", ggufPath: join(SHARED, "fixtures/ref/mistral-tiny/mistral-tiny.q8_0.gguf") });
  manifestBytes = readFileSync(manifestPath(origin, parseModelName("tiny:latest")));
  const manifest = parseManifest(manifestBytes, "tiny");
  const blobs = new Map(manifestBlobs(manifest).map((l) => [l.digest, readFileSync(blobPath(origin, l.digest))]));
  modelDigest = manifest.layers.find((l) => l.mediaType.endsWith(".model"))!.digest;
  registry = await startTestRegistry([{ ref: "library/tiny:latest", manifest: manifestBytes }], blobs);
});
afterAll(async () => {
  await registry?.close();
  rmSync(work, { recursive: true, force: true });
});
beforeEach(() => {
  for (const k of Object.keys(registry.faults)) delete registry.faults[k as keyof typeof registry.faults];
  registry.log.length = 0;
});

let storeCount = 0;
const freshStore = () => join(work, `store-${++storeCount}`);

describe("pull", () => {
  it("installs a model that list, show and verify accept, with the registry's exact manifest bytes", async () => {
    const store = freshStore();
    const r = await runCli(["pull", "tiny", "--registry", registry.url, "--insecure", "--models-dir", store]);
    expect(r.stderr).not.toMatch(/gguf-tool:/);
    expect(r.status).toBe(0);
    expect(readFileSync(manifestPath(store, parseModelName("tiny")))).toEqual(manifestBytes);
    expect(readFileSync(blobPath(store, modelDigest))).toEqual(readFileSync(blobPath(origin, modelDigest)));
    expect((await runCli(["list", "--models-dir", store])).stdout).toMatch(/^tiny:latest\s/m);
    expect((await runCli(["show", "tiny", "--models-dir", store])).stdout).toMatch(/architecture\s+llama/);
    expect((await runCli(["verify", "--models-dir", store])).status).toBe(0);
    // the blobs came from the second host, after the registry's 307
    expect(registry.log.some((l) => l.startsWith("cdn GET /blobs/"))).toBe(true);
    expect(registry.log.some((l) => l.startsWith("registry GET /v2/library/tiny/blobs/"))).toBe(true);
  });

  it("refuses plain http without --insecure", async () => {
    const r = await runCli(["pull", "tiny", "--registry", registry.url, "--models-dir", freshStore()]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--insecure/);
  });

  it("downloads large blobs in ranged parts", async () => {
    const store = freshStore();
    await pullModel({ modelsDir: store, name: "tiny", registry: registry.url, insecure: true, ...fast });
    const ranges = registry.log.filter((l) => l.startsWith("cdn GET") && l.includes(modelDigest)).map((l) => l.split(" ").pop());
    const size = readFileSync(blobPath(origin, modelDigest)).length;
    expect(ranges.length).toBe(Math.ceil(size / (64 * 1024)));
    expect(ranges).toContain(`bytes=65536-131071`);
  });

  it("resumes an interrupted pull from what it already has", async () => {
    const store = freshStore();
    registry.faults.dropDigest = modelDigest;
    registry.faults.dropAfterBytes = 10_000;
    await expect(pullModel({ modelsDir: store, name: "tiny", registry: registry.url, insecure: true, ...fast, retries: 0 })).rejects.toThrow(
      /download failed/,
    );
    expect(existsSync(manifestPath(store, parseModelName("tiny")))).toBe(false);
    expect(existsSync(blobPath(store, modelDigest))).toBe(false);

    registry.log.length = 0;
    await pullModel({ modelsDir: store, name: "tiny", registry: registry.url, insecure: true, ...fast });
    // the first part was asked again from byte 10000, not from 0
    expect(registry.log.filter((l) => l.includes(modelDigest) && l.startsWith("cdn GET"))).toContain(`cdn GET /blobs/${modelDigest} bytes=10000-65535`);
    expect(readFileSync(blobPath(store, modelDigest))).toEqual(readFileSync(blobPath(origin, modelDigest)));
    expect(storeFileNames(store).filter((f) => f.includes("partial"))).toEqual([]);
  });

  it("retries a dropped connection within one pull", async () => {
    const store = freshStore();
    registry.faults.dropDigest = modelDigest;
    registry.faults.dropAfterBytes = 1000;
    await pullModel({ modelsDir: store, name: "tiny", registry: registry.url, insecure: true, ...fast });
    expect(readFileSync(blobPath(store, modelDigest))).toEqual(readFileSync(blobPath(origin, modelDigest)));
  });

  it("discards a corrupt blob and installs nothing", async () => {
    const store = freshStore();
    registry.faults.corruptDigest = modelDigest;
    const r = await runCli(["pull", "tiny", "--registry", registry.url, "--insecure", "--models-dir", store, "-q"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^gguf-tool: tiny:latest: blob ${modelDigest} from the registry has sha256 sha256:[0-9a-f]{64}: discarded, nothing installed\\n$`));
    const files = storeFileNames(store);
    expect(files.filter((f) => f.startsWith("manifests/"))).toEqual([]);
    expect(files).not.toContain(`blobs/sha256-${modelDigest.slice(7)}`);
    expect(files.filter((f) => f.includes("partial"))).toEqual([]);
  });

  it("says when a model is not in the registry (404)", async () => {
    const r = await runCli(["pull", "nosuch:1b", "--registry", registry.url, "--insecure", "--models-dir", freshStore()]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`gguf-tool: nosuch:1b: not found in the registry at ${registry.url} (no such model or tag)\n`);
  });

  it("gets a bearer token when the registry asks for one, and says unauthorized when it is refused (401)", async () => {
    registry.faults.requireToken = true;
    const store = freshStore();
    await pullModel({ modelsDir: store, name: "tiny", registry: registry.url, insecure: true, ...fast });
    expect(existsSync(manifestPath(store, parseModelName("tiny")))).toBe(true);

    registry.faults.denyToken = true;
    const r = await runCli(["pull", "tiny", "--registry", registry.url, "--insecure", "--models-dir", freshStore()]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^gguf-tool: tiny:latest: unauthorized \(401\)/);
  });

  it("--to writes an export folder that import installs on another machine", async () => {
    const folder = join(work, "carry");
    expect((await runCli(["pull", "tiny", "--registry", registry.url, "--insecure", "--to", folder, "-q"])).status).toBe(0);
    const offline = freshStore();
    const r = await runCli(["import", folder, "--models-dir", offline]);
    expect(r.status).toBe(0);
    expect(readFileSync(manifestPath(offline, parseModelName("tiny")))).toEqual(manifestBytes);
    expect((await runCli(["verify", "--models-dir", offline])).status).toBe(0);
  });
});
