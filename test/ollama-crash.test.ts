/**
 * Store safety under concurrency and crashes: two imports at once, and `kill -9` of an import at
 * spread-out moments; each time the store must be exactly as before or complete, with every file
 * in blobs/ whole (hashing to its name) and nothing half-written under manifests/.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeBlobBytes } from "../src/ollama/blobs.ts";
import { exportModels } from "../src/ollama/export.ts";
import { encodeManifest, MANIFEST_MEDIA_TYPE, MEDIA_TYPES, writeManifest } from "../src/ollama/manifest.ts";
import { parseModelName } from "../src/ollama/names.ts";
import { planPrune, verifyStore } from "../src/ollama/store-maintain.ts";
import { STORE_LOCK_NAME, STORE_TEMP_DIR_NAME, withStoreLock } from "../src/ollama/store-fs.ts";
import { listModels } from "../src/ollama/store-read.ts";
import { installTestModel } from "./helpers/ollama-store-builder.ts";

const CHILD = fileURLToPath(new URL("./helpers/cli-child.ts", import.meta.url));

let work: string;
/** a store holding one model, the "before" state every trial starts from */
let baseStore: string;
let tarAB: string;
let tarBC: string;

/** A model with `blobCount` random blobs of `blobBytes` each (model + projector layers), sharing `shared`. */
async function installBigModel(store: string, name: string, seed: string, shared: Buffer[]): Promise<void> {
  const layers = [];
  for (const b of [randomBytes(6 << 20), ...shared]) {
    const r = await writeBlobBytes(store, b);
    layers.push({ mediaType: layers.length === 0 ? MEDIA_TYPES.model : MEDIA_TYPES.projector, digest: r.digest, size: r.size });
  }
  const config = await writeBlobBytes(store, Buffer.from(`{"model_format":"gguf","seed":"${seed}"}\n`));
  const bytes = encodeManifest({ schemaVersion: 2, mediaType: MANIFEST_MEDIA_TYPE, config: { mediaType: MEDIA_TYPES.config, digest: config.digest, size: config.size }, layers });
  await writeManifest(store, parseModelName(name), bytes);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "gguf-tool-crash-"));
  baseStore = join(work, "base");
  await installTestModel(baseStore, "existing");
  const source = join(work, "source");
  const shared = [randomBytes(6 << 20), randomBytes(4 << 20), randomBytes(1 << 20)];
  await installBigModel(source, "a", "a", shared);
  await installBigModel(source, "b", "b", shared);
  await installBigModel(source, "c", "c", shared.slice(1));
  tarAB = join(work, "ab.tar");
  tarBC = join(work, "bc.tar");
  await exportModels(source, [parseModelName("a"), parseModelName("b")], tarAB);
  await exportModels(source, [parseModelName("b"), parseModelName("c")], tarBC);
}, 60_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Starts a pre-loaded CLI child and resolves when it is ready to run `args`. */
function startChild(args: string[]): Promise<{ child: ChildProcess; go: () => void; exit: Promise<{ code: number | null; signal: string | null; stderr: string }> }> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exit = new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, stderr })),
  );
  return new Promise((resolve, reject) => {
    child.stdout!.once("data", () => resolve({ child, go: () => child.stdin!.write("go\n"), exit }));
    child.once("error", reject);
  });
}

type Rows = string[][];
const rowsOf = async (store: string): Promise<Rows> => (await listModels(store)).models.map((m) => [m.displayName, m.id, String(m.size)]).sort();

/** Checks the store's integrity: every blob whole and named by its hash, all manifests readable and complete. */
async function checkIntegrity(store: string): Promise<void> {
  const { skipped } = await listModels(store);
  expect(skipped).toEqual([]);
  const v = await verifyStore(store);
  expect(v.problems).toEqual([]);
  expect(v.unreadable).toEqual([]);
  for (const f of readdirSync(join(store, "blobs"))) {
    expect(f).toMatch(/^sha256-[0-9a-f]{64}$/);
    expect(createHash("sha256").update(readFileSync(join(store, "blobs", f))).digest("hex")).toBe(f.slice(7));
  }
}

describe("concurrent writers", () => {
  it("three imports into one store at once (shared blobs, shared models) all succeed and corrupt nothing", async () => {
    const store = join(work, "concurrent");
    cpSync(baseStore, store, { recursive: true });
    // the CLIs load first, then all run at the same moment
    const children = await Promise.all([tarAB, tarBC, tarAB].map((tar) => startChild(["import", tar, "--models-dir", store])));
    for (const c of children) c.go();
    const results = await Promise.all(children.map((c) => c.exit));
    expect(results.map((r) => [r.code, r.stderr])).toEqual([
      [0, ""],
      [0, ""],
      [0, ""],
    ]);
    expect((await rowsOf(store)).map((r) => r[0])).toEqual(["a:latest", "b:latest", "c:latest", "existing:latest"]);
    await checkIntegrity(store);
    expect(readdirSync(join(store, STORE_TEMP_DIR_NAME))).toEqual([]);
  }, 180_000);
});

describe("Ctrl-C during an import", () => {
  it("SIGINT mid-work removes the temp files and leaves the store whole", async () => {
    const store = join(work, "sigint");
    cpSync(baseStore, store, { recursive: true });
    const c = await startChild(["import", tarAB, "--models-dir", store]);
    c.go();
    // wait until the import is writing a blob, then interrupt it
    const tempDir = join(store, STORE_TEMP_DIR_NAME);
    for (let i = 0; i < 2000 && !(existsSync(tempDir) && readdirSync(tempDir).length > 0); i++) await new Promise((r) => setTimeout(r, 2));
    expect(readdirSync(tempDir).length).toBeGreaterThan(0);
    c.child.kill("SIGINT");
    const exited = await c.exit;
    expect(exited.code).toBe(130);
    expect(readdirSync(tempDir)).toEqual([]);
    await checkIntegrity(store);
  }, 180_000);
});

describe("kill -9 during an import", () => {
  it("leaves the store either as before or complete, at every moment tried", async () => {
    const before = await rowsOf(baseStore);
    // one undisturbed run: the complete state, and how long the work takes once the CLI is loaded
    const full = join(work, "full");
    cpSync(baseStore, full, { recursive: true });
    const probe = await startChild(["import", tarAB, "--models-dir", full]);
    const t0 = performance.now();
    probe.go();
    expect((await probe.exit).code).toBe(0);
    const workMs = performance.now() - t0;
    const complete = await rowsOf(full);
    expect(complete).not.toEqual(before);

    const trials = 8;
    const outcomes: string[] = [];
    let leftovers = 0;
    /** trials killed after the import had started writing (blobs placed or temp files left) */
    let midWork = 0;
    let orphaned = 0;
    const beforeBlobs = readdirSync(join(baseStore, "blobs")).length;
    const stores = Array.from({ length: trials }, (_, i) => join(work, `trial-${i}`));
    for (const store of stores) cpSync(baseStore, store, { recursive: true });
    // every CLI loads at once, then waits for its turn
    const children = await Promise.all(stores.map((store) => startChild(["import", tarAB, "--models-dir", store])));
    for (let i = 0; i < trials; i++) {
      const store = stores[i];
      const running = children[i];
      // moments from the first instant to well past the end, denser early: a warm process works
      // faster than the measured first run, and runs vary under load
      const delay = workMs * 1.5 * (i / (trials - 1)) ** 2 + Math.random() * 5;
      running.go();
      await new Promise((r) => setTimeout(r, delay));
      running.child.kill("SIGKILL");
      const exited = await running.exit;
      const rows = await rowsOf(store);
      const outcome = rows.join() === before.join() ? "before" : rows.join() === complete.join() ? "complete" : `partial(${exited.signal})`;
      outcomes.push(outcome);
      await checkIntegrity(store);
      // a killed writer's temp files are recognised as dead and offered to prune
      // a lock left by the killed process is stale (dead pid): the next writer takes it at once
      const lockedAt = performance.now();
      await withStoreLock(store, async () => undefined);
      expect(performance.now() - lockedAt).toBeLessThan(5000);
      const temp = readdirSync(join(store, STORE_TEMP_DIR_NAME)).filter((f) => f !== STORE_LOCK_NAME);
      const blobsChanged = readdirSync(join(store, "blobs")).length !== beforeBlobs;
      if (outcome === "before" && (blobsChanged || temp.length > 0)) midWork++;
      // blobs are staged outside blobs/ and moved in just before the manifest: only a kill in those few renames leaves orphans
      if (outcome === "before" && blobsChanged) orphaned++;
      if (temp.length > 0) {
        leftovers++;
        const plan = await planPrune(store);
        expect(plan.items.filter((p) => p.kind === "gguf-tool temporary file")).toHaveLength(temp.length);
      }
    }
    expect(outcomes.every((o) => o === "before" || o === "complete")).toBe(true);
    // the kills did land inside the work, not only before or after it
    expect(outcomes[0]).toBe("before");
    expect(midWork).toBeGreaterThan(0);
    // the report a human reads when this fails or is tuned
    console.log(`kill -9 trials (work ${workMs.toFixed(0)} ms): ${outcomes.join(", ")}; ${midWork} killed mid-work, ${leftovers} left temp files for prune, ${orphaned} left orphaned blobs`);
  }, 180_000);
});
