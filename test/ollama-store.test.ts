import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { blobPath, writeBlobBytes } from "../src/ollama/blobs.ts";
import { readManifest, writeManifest, writeManifests } from "../src/ollama/manifest.ts";
import { parseModelName } from "../src/ollama/names.ts";
import { copyModel, executePrune, planPrune, removeModel, verifyStore } from "../src/ollama/store-maintain.ts";
import { STORE_LOCK_NAME, STORE_TEMP_DIR_NAME, withStoreLock } from "../src/ollama/store-fs.ts";
import { runCli } from "./helpers/cli.ts";
import { installTestModel, snapshotFiles } from "./helpers/ollama-store-builder.ts";

const CLI_MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gguf-tool-store-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const blobs = () => readdirSync(join(dir, "blobs")).sort();
const cli = (...args: string[]) => runCli([...args, "--models-dir", dir]);
const manifestFile = (...parts: string[]) => join(dir, "manifests", ...parts);

describe("cp and rm", () => {
  it("cp copies the manifest byte for byte and adds no blob (ollama-observed.md §8)", async () => {
    const bytes = await installTestModel(dir, "tiny", { template: "{{ .Prompt }}" });
    const before = blobs();
    const r = cli("cp", "TINY", "myns/copied:t1");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("copied 'tiny:latest' to 'myns/copied:t1'\n");
    expect(readFileSync(manifestFile("registry.ollama.ai", "myns", "copied", "t1"))).toEqual(bytes);
    expect(blobs()).toEqual(before);
    expect(cli("cp", "nope", "x").stderr).toMatch(/^gguf-tool: nope:latest: model not found/);
    expect(() => parseModelName("../x")).toThrow(/invalid model name/);
  });

  it("rm keeps blobs another model uses, then removes them with the last user, and empty folders", async () => {
    await installTestModel(dir, "handmade:v1", { params: '{"num_predict":8}\n' });
    await installTestModel(dir, "other", { variant: "x", params: '{"num_predict":8}\n' });
    await copyModel(dir, parseModelName("handmade:v1"), parseModelName("myns/copied:t1"));
    const all = blobs();
    expect(all).toHaveLength(4); // model, config, params shared; other's model
    const r = cli("rm", "handmade:v1");
    expect(r.stdout).toMatch(/^deleted 'handmade:v1' \(0 blobs, 0 B freed, 3 kept/);
    expect(existsSync(manifestFile("registry.ollama.ai", "library", "handmade"))).toBe(false);
    expect(blobs()).toEqual(all);
    const second = await removeModel(dir, parseModelName("myns/copied:t1"));
    expect([second.removed.length, second.shared.length]).toEqual([1, 2]);
    expect(existsSync(manifestFile("registry.ollama.ai", "myns"))).toBe(false);
    expect(existsSync(manifestFile("registry.ollama.ai", "library", "other", "latest"))).toBe(true);
    // the other model is intact
    expect((await verifyStore(dir)).problems).toEqual([]);
    await removeModel(dir, parseModelName("other"));
    expect(blobs()).toEqual([]);
    expect(readdirSync(join(dir, "manifests"))).toEqual([]);
    await expect(removeModel(dir, parseModelName("other"))).rejects.toThrow(/model not found/);
  });

  it("rm keeps blobs when some manifest cannot be read", async () => {
    await installTestModel(dir, "a");
    mkdirSync(manifestFile("registry.ollama.ai", "library", "broken"), { recursive: true });
    writeFileSync(manifestFile("registry.ollama.ai", "library", "broken", "latest"), "{oops");
    const r = cli("rm", "a");
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/warning: kept its blobs because these manifests cannot be read/);
    expect(blobs()).toHaveLength(2);
  });
});

describe("verify", () => {
  it("finds missing and corrupt blobs and names the models they break; exit 1", async () => {
    await installTestModel(dir, "good", { variant: "g" });
    await installTestModel(dir, "bad", { variant: "b", system: "hello" });
    expect(await verifyStore(dir)).toMatchObject({ problems: [], blobsChecked: 4 });
    const bad = await readManifest(dir, parseModelName("bad"));
    const model = bad.manifest.layers[0];
    const sys = bad.manifest.layers[1];
    const p = blobPath(dir, model.digest);
    const b = readFileSync(p);
    b[1000] ^= 1;
    writeFileSync(p, b);
    rmSync(blobPath(dir, sys.digest));
    const r = cli("verify");
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`CORRUPT ${model.digest} (model): content hashes to`);
    expect(r.stdout).toContain(`MISSING ${sys.digest} (system): blob file is missing; breaks bad:latest`);
    expect(r.stdout).toMatch(/2 bad blobs, 1 broken model/);
    expect((await verifyStore(dir, [parseModelName("good")])).problems).toEqual([]);
    const res = await verifyStore(dir);
    expect(res.models).toEqual([
      { name: "bad:latest", ok: false },
      { name: "good:latest", ok: true },
    ]);
  });

  it("a truncated blob is reported", async () => {
    await installTestModel(dir, "t");
    const m = (await readManifest(dir, parseModelName("t"))).manifest.layers[0];
    writeFileSync(blobPath(dir, m.digest), readFileSync(blobPath(dir, m.digest)).subarray(0, 100));
    const r = await verifyStore(dir, [parseModelName("t")]);
    expect(r.problems.map((p) => p.problem)).toEqual(["corrupt"]);
  });
});

describe("prune", () => {
  it("lists orphans and Ollama leftovers with sizes, deletes only with --yes, never a referenced blob", async () => {
    await installTestModel(dir, "keep", { system: "s" });
    const orphan = await writeBlobBytes(dir, Buffer.from("orphan bytes"));
    const young = await writeBlobBytes(dir, Buffer.from("young orphan"));
    const partial = join(dir, "blobs", `sha256-${"a".repeat(64)}-partial`);
    writeFileSync(partial, Buffer.alloc(100));
    writeFileSync(`${partial}-0`, '{"N":0,"Offset":0,"Size":100,"Completed":0}');
    writeFileSync(join(dir, "blobs", "COPY2313783326"), "x");
    mkdirSync(join(dir, STORE_TEMP_DIR_NAME), { recursive: true });
    writeFileSync(join(dir, STORE_TEMP_DIR_NAME, "999999999-abcdef.blob"), "dead writer");
    const old = Date.now() / 1000 - 2 * 3600;
    for (const p of [blobPath(dir, orphan.digest), partial, `${partial}-0`, join(dir, "blobs", "COPY2313783326")]) utimesSync(p, old, old);
    // every referenced blob is old too: age must not matter for them
    for (const f of blobs()) if (!f.includes("partial") && !f.startsWith("COPY")) utimesSync(join(dir, "blobs", f), old, old);
    utimesSync(blobPath(dir, young.digest), Date.now() / 1000, Date.now() / 1000);

    const before = snapshotFiles(dir);
    const dry = cli("prune");
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain(`12 B  orphaned blob  ${blobPath(dir, orphan.digest)}`);
    expect(dry.stdout).toContain(`100 B  Ollama partial download  ${partial}\n`);
    expect(dry.stdout).toContain("Ollama temporary file");
    expect(dry.stdout).toContain("gguf-tool temporary file");
    expect(dry.stdout).toMatch(/orphaned blob \(kept: modified .* ago\)/);
    expect(dry.stdout).toMatch(/5 files, 167 B: run again with --yes/);
    expect(snapshotFiles(dir)).toEqual(before);

    const r = cli("prune", "--yes");
    expect(r.stdout).toMatch(/deleted 5 files, 167 B freed/);
    expect(existsSync(blobPath(dir, orphan.digest))).toBe(false);
    expect(existsSync(blobPath(dir, young.digest))).toBe(true);
    expect(readdirSync(join(dir, STORE_TEMP_DIR_NAME))).toEqual([]);
    expect((await verifyStore(dir)).problems).toEqual([]);
    expect(blobs()).toHaveLength(4);
    // --min-age 0 also takes the young orphan; referenced blobs stay
    const all = await executePrune(dir, await planPrune(dir, 0));
    expect(all.deleted.map((d) => [d.kind, d.path, d.size])).toEqual([["orphaned blob", blobPath(dir, young.digest), 12]]);
    expect(blobs()).toHaveLength(3);
    expect((await verifyStore(dir)).problems).toEqual([]);
    expect(cli("prune", "--min-age", "soon").status).toBe(2);
  });

  it("holds back orphans while a manifest is unreadable, and never deletes a blob referenced since the plan", async () => {
    await installTestModel(dir, "a");
    const orphan = await writeBlobBytes(dir, Buffer.from("orphan"));
    const old = Date.now() / 1000 - 7200;
    utimesSync(blobPath(dir, orphan.digest), old, old);
    mkdirSync(manifestFile("registry.ollama.ai", "library", "broken"), { recursive: true });
    writeFileSync(manifestFile("registry.ollama.ai", "library", "broken", "latest"), "[1");
    let plan = await planPrune(dir);
    expect(plan.items).toEqual([]);
    expect(plan.heldBackOrphans).toBe(1);
    rmSync(manifestFile("registry.ollama.ai", "library", "broken"), { recursive: true });
    plan = await planPrune(dir);
    expect(plan.items.map((i) => i.kind)).toEqual(["orphaned blob"]);
    // a model that uses the orphan is installed between plan and execution
    await installTestModel(dir, "late", { system: "orphan" });
    const done = await executePrune(dir, plan);
    expect(done.deleted).toEqual([]);
    expect(existsSync(blobPath(dir, orphan.digest))).toBe(true);
  });
});

describe("the store lock", () => {
  it("rm waits for a writer holding the lock, and a manifest whose blob was removed meanwhile is refused, not written", async () => {
    const yBytes = await installTestModel(dir, "y", { system: "shared" });
    const y = (await readManifest(dir, parseModelName("y"))).manifest;
    let release!: () => void;
    let acquired!: () => void;
    const isHeld = new Promise<void>((r) => (acquired = r));
    const held = withStoreLock(dir, () => new Promise<void>((r) => ((release = r), acquired())));
    await isHeld;
    let removed = false;
    const rm = removeModel(dir, parseModelName("y")).then(() => (removed = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(removed).toBe(false); // blocked by the lock
    release();
    await held;
    await rm;
    expect(removed).toBe(true);
    // a writer that saw y's blobs before the rm now tries to commit a manifest using them
    await expect(writeManifest(dir, parseModelName("x"), yBytes)).rejects.toThrow(
      new RegExp(`x:latest: blob ${y.config!.digest} is not in the store \\(removed by another process\\?\\); nothing was written`),
    );
    expect(existsSync(manifestFile("registry.ollama.ai", "library", "x"))).toBe(false);
    expect(readdirSync(join(dir, STORE_TEMP_DIR_NAME))).toEqual([]);
  });

  it("writes several manifests together, and none when one names a missing blob", async () => {
    const yBytes = await installTestModel(dir, "y", { system: "only-y" });
    const zBytes = await installTestModel(dir, "z", { system: "only-z" });
    await removeModel(dir, parseModelName("y")); // y's own blobs are gone now
    await expect(writeManifests(dir, [{ name: parseModelName("z2"), bytes: zBytes }, { name: parseModelName("y2"), bytes: yBytes }])).rejects.toThrow(
      /y2:latest: blob sha256:[0-9a-f]{64} is not in the store/,
    );
    expect(existsSync(manifestFile("registry.ollama.ai", "library", "z2"))).toBe(false);
    expect(readdirSync(join(dir, STORE_TEMP_DIR_NAME))).toEqual([]); // no temp file, and the lock released
    const paths = await writeManifests(dir, [{ name: parseModelName("z2"), bytes: zBytes }, { name: parseModelName("z3"), bytes: zBytes }]);
    expect(paths).toEqual([manifestFile("registry.ollama.ai", "library", "z2", "latest"), manifestFile("registry.ollama.ai", "library", "z3", "latest")]);
    expect(readFileSync(paths[1])).toEqual(Buffer.from(zBytes));
  });

  it("exists only with its holder's pid in it, and is gone (with its temp file) once released", async () => {
    const tempDir = join(dir, STORE_TEMP_DIR_NAME);
    await withStoreLock(dir, async () => {
      expect(readFileSync(join(tempDir, STORE_LOCK_NAME), "utf8")).toBe(`${process.pid}\n`);
      expect(readdirSync(tempDir)).toEqual([STORE_LOCK_NAME]);
    });
    expect(readdirSync(tempDir)).toEqual([]);
  });

  it("takes a lock left without a pid once it is older than writing one takes, and a dead process's at once", async () => {
    const tempDir = join(dir, STORE_TEMP_DIR_NAME);
    mkdirSync(tempDir, { recursive: true });
    const lock = join(tempDir, STORE_LOCK_NAME);
    // a writer killed between creating the lock and writing its pid (filesystems without hard links)
    writeFileSync(lock, "");
    const past = new Date(Date.now() - 3000);
    utimesSync(lock, past, past);
    let started = performance.now();
    await withStoreLock(dir, async () => expect(readFileSync(lock, "utf8")).toBe(`${process.pid}\n`));
    expect(performance.now() - started).toBeLessThan(1000);
    // a holder that died: its pid names no process
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    writeFileSync(lock, `${dead.stdout}\n`);
    started = performance.now();
    await withStoreLock(dir, async () => undefined);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(readdirSync(tempDir)).toEqual([]);
  });
});

describe("ownership and permissions", () => {
  it("as root, new folders and files get the models dir's owner; as another user, the error names the permission", async () => {
    if (process.getuid!() === 0) {
      chownSync(dir, 4321, 4322);
      await installTestModel(dir, "owned/m:t");
      for (const p of [join(dir, "blobs"), ...blobs().map((b) => join(dir, "blobs", b)), manifestFile("registry.ollama.ai", "owned"), manifestFile("registry.ollama.ai", "owned", "m", "t")]) {
        expect([statSync(p).uid, statSync(p).gid]).toEqual([4321, 4322]);
      }
      expect(statSync(manifestFile("registry.ollama.ai", "owned", "m", "t")).mode & 0o777).toBe(0o644);
      expect(statSync(manifestFile("registry.ollama.ai", "owned")).mode & 0o777).toBe(0o755);
      // a store owned by root, written by an unprivileged user: one line naming the folder and the permission
      const rootOwned = mkdtempSync(join(tmpdir(), "gguf-tool-rootowned-"));
      try {
        await installTestModel(rootOwned, "m");
        chmodSync(rootOwned, 0o755);
        const nobodyTmp = join(rootOwned, "..", `${rootOwned.split("/").pop()}-nobody`);
        mkdirSync(nobodyTmp);
        chownSync(nobodyTmp, 65534, 65534);
        const child = spawnSync(process.execPath, ["--import", "tsx", CLI_MAIN, "cp", "m", "n", "--models-dir", rootOwned], {
          encoding: "utf8",
          uid: 65534,
          gid: 65534,
          env: { ...process.env, HOME: nobodyTmp, TMPDIR: nobodyTmp },
        });
        const r = { status: child.status, stderr: child.stderr };
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/^gguf-tool: .*: cannot [a-z ]+: write permission denied on .* \(owned by uid 0, gid 0, mode 755\); run as the store.s owner/);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
      } finally {
        rmSync(rootOwned, { recursive: true, force: true });
        rmSync(`${rootOwned}-nobody`, { recursive: true, force: true });
      }
    } else {
      const ro = join(dir, "ro");
      mkdirSync(ro, { mode: 0o555 });
      const r = runCli(["import", dir, "--models-dir", ro]);
      expect(r.stderr).toMatch(/permission denied/);
    }
  });
});
