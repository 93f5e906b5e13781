import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ToolError } from "../src/formats/errors.ts";
import { blobPath } from "../src/ollama/blobs.ts";
import { exportGguf, exportModels } from "../src/ollama/export.ts";
import { importModels } from "../src/ollama/import.ts";
import { manifestBlobs, readManifest } from "../src/ollama/manifest.ts";
import { parseModelfile } from "../src/ollama/modelfile.ts";
import { parseModelName } from "../src/ollama/names.ts";
import { listModels } from "../src/ollama/store-read.ts";
import { verifyStore } from "../src/ollama/store-maintain.ts";
import { TarWriter } from "../src/ollama/tar.ts";
import { runCli } from "./helpers/cli.ts";
import { FIXTURE_GGUF, installTestModel, snapshotFiles } from "./helpers/ollama-store-builder.ts";

const FULL = {
  template: "{{ if .System }}<|system|>{{ .System }}<|end|>{{ end }}{{ if .Prompt }}<|user|>{{ .Prompt }}<|end|>{{ end }}<|assistant|>{{ .Response }}",
  system: "You are a tiny test model.",
  license: ["Test license text.", "Second\nlicense"],
  params: '{"num_ctx":256,"num_predict":8,"seed":42,"stop":["\\u003c|end|\\u003e","\\u003c|user|\\u003e"],"temperature":0.5}\n',
  messages: '[{"role":"user","content":"hello"},{"role":"assistant","content":"hi there"}]\n',
};

let work: string;
let store: string;
beforeEach(async () => {
  work = mkdtempSync(join(tmpdir(), "gguf-tool-xport-"));
  store = join(work, "store");
  await installTestModel(store, "tiny-full", FULL);
  await installTestModel(store, "alice/tiny:v1", { params: '{"num_predict":8}\n' });
  await installTestModel(store, "other", { variant: "other" });
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

/** NAME/ID/SIZE rows of a store (the list a user compares). */
async function rows(modelsDir: string) {
  return (await listModels(modelsDir)).models.map((m) => [m.displayName, m.id, m.size]).sort();
}

/** The store's manifests and blobs, byte for byte. */
function storeContent(modelsDir: string) {
  return [...snapshotFiles(modelsDir)].filter(([p]) => p.startsWith("manifests") || p.startsWith("blobs"));
}

describe("export -> import", () => {
  for (const kind of ["folder", "tar"] as const) {
    it(`round-trips through a ${kind} into an empty models dir: same list, same bytes`, async () => {
      const out = join(work, kind === "tar" ? "models.tar" : "exported");
      const r = await exportModels(store, [parseModelName("tiny-full"), parseModelName("Alice/Tiny:V1")], out);
      expect(r.models).toEqual(["tiny-full:latest", "alice/tiny:v1"]);
      expect(r.blobs).toBe(9); // model, config, 5 tiny-full text layers (2 licenses), alice's params
      const target = join(work, "empty-store");
      const imported = await importModels(target, out);
      expect(imported.models.map((m) => `${m.status} ${m.name}`).sort()).toEqual(["imported alice/tiny:v1", "imported tiny-full:latest"]);
      expect(imported.blobsWritten).toBe(9);
      const wanted = (await rows(store)).filter(([n]) => n !== "other:latest");
      expect(await rows(target)).toEqual(wanted);
      const exported = storeContent(store).filter(([p]) => !p.includes("other") && existsSync(join(target, p)));
      expect(storeContent(target)).toEqual(exported);
      expect(storeContent(target)).toHaveLength(11);
      // nothing else: the private temp folder is left empty
      expect(readdirSync(target).sort()).toEqual([".gguf-tool-tmp", "blobs", "manifests"]);
      expect(readdirSync(join(target, ".gguf-tool-tmp"))).toEqual([]);
      // importing again changes nothing
      const again = await importModels(target, out);
      expect(again.models.map((m) => m.status)).toEqual(["unchanged", "unchanged"]);
      expect(again.blobsWritten).toBe(0);
    });
  }

  it("reports byte progress for export, import and verify, ending at the totals", async () => {
    type P = { item: number; itemCount: number; bytesDone: number; bytesTotal: number };
    const last = (seen: P[]) => seen.at(-1)!;
    const blobs = manifestBlobs((await readManifest(store, parseModelName("tiny-full"))).manifest);
    const total = blobs.reduce((s, l) => s + l.size, 0);
    const n = blobs.length;
    const seenExport: P[] = [];
    await exportModels(store, [parseModelName("tiny-full")], join(work, "p.tar"), (p) => seenExport.push(p));
    expect(last(seenExport)).toMatchObject({ item: n, itemCount: n, bytesDone: total, bytesTotal: total });
    expect(seenExport.every((p, i) => i === 0 || p.bytesDone >= seenExport[i - 1].bytesDone)).toBe(true);
    const seenImport: P[] = [];
    await importModels(join(work, "p-store"), join(work, "p.tar"), { onProgress: (p) => seenImport.push(p) });
    expect(last(seenImport)).toMatchObject({ item: n, itemCount: n, bytesDone: total, bytesTotal: total });
    const seenVerify: P[] = [];
    await verifyStore(join(work, "p-store"), undefined, (p) => seenVerify.push(p));
    expect(last(seenVerify)).toMatchObject({ item: n, itemCount: n, bytesDone: total, bytesTotal: total });
  });

  it("the folder is Ollama's layout with Windows-safe blob names; the tar lists the same files, manifests first", async () => {
    const folder = join(work, "f");
    const tar = join(work, "f.tar");
    await exportModels(store, [parseModelName("tiny-full")], folder);
    await exportModels(store, [parseModelName("tiny-full")], tar);
    const inFolder = [...snapshotFiles(folder).keys()];
    expect(inFolder.every((p) => /^(blobs\/sha256-[0-9a-f]{64}|manifests\/registry\.ollama\.ai\/library\/tiny-full\/latest)$/.test(p))).toBe(true);
    const listed = execFileSync("tar", ["-tf", tar], { encoding: "utf8" }).trim().split("\n").filter((p) => !p.endsWith("/"));
    expect(listed[0]).toBe("manifests/registry.ollama.ai/library/tiny-full/latest");
    expect([...listed].sort()).toEqual([...inFolder].sort());
  });

  it("CLI: export to a tar, import with --as, list shows it", () => {
    const tar = join(work, "m.tar");
    let r = runCli(["export", "tiny-full", "alice/tiny:v1", "-o", tar, "--models-dir", store]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/exported 'tiny-full:latest'\nexported 'alice\/tiny:v1'\n.*m\.tar: 2 models, 9 blobs/);
    const target = join(work, "t");
    r = runCli(["import", tar, "--as", "x:y", "--models-dir", target]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--as needs exactly one model in the export, found 2/);
    expect(existsSync(join(target, "manifests"))).toBe(false);
    r = runCli(["export", "alice/tiny:v1", "-o", tar, "--models-dir", store]);
    r = runCli(["import", tar, "--as", "bob/renamed:v2", "--models-dir", target]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^imported 'bob\/renamed:v2'\n3 blobs written/);
    r = runCli(["list", "--models-dir", target]);
    expect(r.stdout).toMatch(/\nbob\/renamed:v2 +[0-9a-f]{12} +421 KB +(Less than a second|\d+ seconds?) ago\n$/);
  });

  it("CLI: export -o - | gzip | import - (moving a model over a pipe)", () => {
    const main = join(import.meta.dirname, "..", "src", "cli", "main.ts");
    const cli = `"${process.execPath}" --import tsx "${main}"`;
    const target = join(work, "piped");
    const out = execFileSync("sh", ["-c", `${cli} export other tiny-full -o - --models-dir "${store}" | gzip | ${cli} import - --models-dir "${target}"`], {
      encoding: "utf8",
    });
    expect(out).toMatch(/^imported 'other:latest'\nimported 'tiny-full:latest'\n9 blobs written/);
    return rows(target).then(async (got) => expect(got).toEqual((await rows(store)).filter(([n]) => n !== "alice/tiny:v1")));
  });

  it("warns when a name cannot live on Windows; takes blobs named sha256:<hex> (copied from an old store)", async () => {
    await installTestModel(store, "127.0.0.1:5000/alice/m:t", { variant: "port" });
    const out = join(work, "port");
    const r = await exportModels(store, [parseModelName("127.0.0.1:5000/alice/m:t")], out);
    expect(r.warnings).toEqual(['127.0.0.1:5000/alice/m:t: its host has a ":" (a port), so this export cannot be copied onto Windows']);
    for (const f of readdirSync(join(out, "blobs"))) renameSync(join(out, "blobs", f), join(out, "blobs", f.replace("sha256-", "sha256:")));
    const target = join(work, "port-store");
    expect((await importModels(target, out)).models).toEqual([{ name: "127.0.0.1:5000/alice/m:t", status: "imported" }]);
    expect(readdirSync(join(target, "blobs")).every((f) => /^sha256-[0-9a-f]{64}$/.test(f))).toBe(true);
    expect((await verifyStore(target)).problems).toEqual([]);
  });

  it("imports a gzipped tar (export itself refuses compressed names)", async () => {
    await expect(exportModels(store, [parseModelName("other")], join(work, "m.tar.gz"))).rejects.toThrow(/-o - \| gzip > file\.tar\.gz/);
    expect(existsSync(join(work, "m.tar.gz"))).toBe(false);
    const tar = join(work, "m.tar");
    await exportModels(store, [parseModelName("other")], tar);
    writeFileSync(`${tar}.gz`, gzipSync(readFileSync(tar)));
    const target = join(work, "gz");
    expect((await importModels(target, `${tar}.gz`)).models).toEqual([{ name: "other:latest", status: "imported" }]);
    expect(await rows(target)).toEqual((await rows(store)).filter(([n]) => n === "other:latest"));
  });
});

describe("import refuses bad exports and leaves the store as it was", () => {
  async function exportAndCorrupt(kind: "folder" | "tar", mutate: (folder: string) => void): Promise<string> {
    const folder = join(work, "bad");
    await exportModels(store, [parseModelName("tiny-full")], folder);
    mutate(folder);
    if (kind === "folder") return folder;
    const tar = join(work, "bad.tar");
    execFileSync("tar", ["-cf", tar, "-C", folder, "manifests", "blobs"]);
    return tar;
  }

  for (const kind of ["folder", "tar"] as const) {
    it(`a corrupted blob (${kind})`, async () => {
      const target = join(work, "target");
      await installTestModel(target, "existing", { variant: "e" });
      const before = storeContent(target);
      const model = (await readManifest(store, parseModelName("tiny-full"))).manifest.layers[0];
      const src = await exportAndCorrupt(kind, (f) => {
        const p = join(f, "blobs", `sha256-${model.digest.slice(7)}`);
        const b = readFileSync(p);
        b[b.length - 1] ^= 0x55;
        writeFileSync(p, b);
      });
      await expect(importModels(target, src)).rejects.toThrow(/corrupt blob, refused: content does not match its digest/);
      expect(storeContent(target)).toEqual(before);
      expect((await verifyStore(target)).problems).toEqual([]);
    });

    it(`a missing blob (${kind})`, async () => {
      const target = join(work, "target");
      const sys = (await readManifest(store, parseModelName("tiny-full"))).manifest.layers[2];
      const src = await exportAndCorrupt(kind, (f) => rmSync(join(f, "blobs", `sha256-${sys.digest.slice(7)}`)));
      await expect(importModels(target, src)).rejects.toThrow(new RegExp(`blob ${sys.digest} is missing from the export`));
      expect(storeContent(target)).toEqual([]);
    });
  }

  it("a truncated tar", async () => {
    const tar = join(work, "t.tar");
    await exportModels(store, [parseModelName("tiny-full")], tar);
    const bytes = readFileSync(tar);
    writeFileSync(tar, bytes.subarray(0, bytes.length - 200_000));
    const target = join(work, "target");
    await expect(importModels(target, tar)).rejects.toThrow(/t\.tar: not a valid tar file: truncated at byte/);
    expect(storeContent(target)).toEqual([]);
  });

  it("a blob the store has corrupt is found by verify; a corrupt blob in the store is refused by export", async () => {
    const model = (await readManifest(store, parseModelName("other"))).manifest.layers[0];
    const b = readFileSync(blobPath(store, model.digest));
    b[12345] ^= 1;
    writeFileSync(blobPath(store, model.digest), b);
    expect((await verifyStore(store)).problems.map((p) => [p.problem, p.models])).toEqual([["corrupt", ["other:latest"]]]);
    await expect(exportModels(store, [parseModelName("other")], join(work, "o.tar"))).rejects.toThrow(/blob in the store is corrupt/);
    expect(existsSync(join(work, "o.tar"))).toBe(false);
    expect(readdirSync(work).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  it("never replaces a different installed model without --force; with it, old unshared blobs go", async () => {
    const out = join(work, "e");
    await exportModels(store, [parseModelName("other")], out);
    const target = join(work, "target");
    await installTestModel(target, "other", { variant: "different", system: "old system" });
    const before = storeContent(target);
    await expect(importModels(target, out)).rejects.toThrow(/other:latest: a different model with this name is already installed; pass --force/);
    expect(storeContent(target)).toEqual(before);
    const r = await importModels(target, out, { force: true });
    expect(r.models).toEqual([{ name: "other:latest", status: "replaced" }]);
    expect(await rows(target)).toEqual((await rows(store)).filter(([n]) => n === "other:latest"));
    expect(readdirSync(join(target, "blobs"))).toHaveLength(2); // the old model and system blobs are gone
  });
});

describe("tar entries cannot escape the store", () => {
  async function craftTar(entries: Array<{ path: string; body?: string; dir?: boolean; link?: boolean }>): Promise<string> {
    const parts: Buffer[] = [];
    const w = new TarWriter(async (c) => void parts.push(Buffer.from(c)));
    for (const e of entries) {
      if (e.dir) await w.addDirectory(e.path, new Date());
      else await w.addFile(e.path, Buffer.byteLength(e.body ?? ""), [Buffer.from(e.body ?? "")], new Date());
    }
    await w.finish();
    let tar = Buffer.concat(parts);
    if (entries.some((e) => e.link)) {
      // turn the first entry into a symlink header (typeflag 2) and fix its checksum
      tar = Buffer.from(tar);
      tar.write("2", 156, 1, "latin1");
      tar.write("/etc/passwd", 157, 100, "latin1");
      tar.fill(0x20, 148, 156);
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += tar[i];
      tar.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
    }
    const p = join(work, `crafted-${parts.length}-${Math.random().toString(16).slice(2)}.tar`);
    writeFileSync(p, tar);
    return p;
  }

  const cases: Array<[string, Array<{ path: string; body?: string; dir?: boolean; link?: boolean }>, RegExp]> = [
    ["../ path", [{ path: "../escaped", body: "x" }], /refusing tar entry "\.\.\/escaped": paths with \.\. are not allowed/],
    ["nested ../", [{ path: "blobs/../../escaped", body: "x" }], /paths with \.\. are not allowed/],
    ["absolute path", [{ path: "/tmp/escaped", body: "x" }], /absolute paths are not allowed/],
    ["Windows drive path", [{ path: "C:/escaped", body: "x" }], /absolute paths are not allowed/],
    ["backslashes", [{ path: "blobs\\..\\..\\escaped", body: "x" }], /absolute paths are not allowed/],
    ["a symlink", [{ path: "blobs/sha256-" + "0".repeat(64), body: "", link: true }], /links are not allowed/],
    ["a manifest path that is not a name", [{ path: "manifests/registry.ollama.ai/library/..x/latest", body: "{}" }], /not a manifest path/],
    ["a too-deep manifest", [{ path: "manifests/a/b/c/d/e", body: "{}" }], /not a manifest path/],
  ];
  for (const [what, entries, error] of cases) {
    it(`refuses ${what}, writing nothing`, async () => {
      const target = join(work, "target");
      mkdirSync(target);
      const tar = await craftTar(entries);
      const err = await importModels(target, tar).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ToolError);
      expect(String((err as Error).message)).toMatch(error);
      expect(snapshotFiles(target).size).toBe(0);
      expect(existsSync(join(work, "escaped"))).toBe(false);
    });
  }

  it("a blob whose content does not match its name is refused even when no manifest names it", async () => {
    const target = join(work, "target");
    const tar = await craftTar([{ path: `blobs/sha256-${"0".repeat(64)}`, body: "not that" }]);
    await expect(importModels(target, tar)).rejects.toThrow(/corrupt blob, refused/);
    expect(storeContent(target)).toEqual([]);
  });

  it("skips files that are not part of an export, with a warning", async () => {
    const out = join(work, "e");
    await exportModels(store, [parseModelName("other")], out);
    writeFileSync(join(out, "README"), "notes");
    const tar = join(work, "e.tar");
    execFileSync("tar", ["-cf", tar, "-C", out, "README", "manifests", "blobs"]);
    const r = await importModels(join(work, "target"), tar);
    expect(r.warnings).toEqual(["README: not part of an Ollama export, skipped"]);
    expect(r.models).toEqual([{ name: "other:latest", status: "imported" }]);
  });
});

describe("export --gguf", () => {
  it("writes the exact GGUF bytes and a Modelfile that recreates the model", async () => {
    const out = join(work, "gguf", "tiny-full.gguf");
    mkdirSync(join(work, "gguf"));
    const r = await exportGguf(store, parseModelName("tiny-full"), out);
    expect(r.inexact).toEqual([]);
    expect(readFileSync(out)).toEqual(readFileSync(FIXTURE_GGUF));
    const text = readFileSync(join(work, "gguf", "Modelfile"), "utf8");
    expect(text).toContain("\nFROM ./tiny-full.gguf\n");
    expect(text).toContain(`\nTEMPLATE ${FULL.template}\n`);
    expect(text).toContain("\nPARAMETER stop <|end|>\nPARAMETER stop <|user|>\nPARAMETER temperature 0.5\n");
    const m = parseModelfile(text, { source: "Modelfile", baseDir: join(work, "gguf") });
    expect(m.from).toEqual(["./tiny-full.gguf"]);
    expect(m.template).toBe(FULL.template);
    expect(m.system).toBe(FULL.system);
    expect(m.licenses).toEqual(FULL.license);
    expect(m.messages).toEqual([
      { role: "user", content: "hello" },
      { role: "assistant", content: "hi there" },
    ]);
    expect(Object.fromEntries([...m.params].map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v]))).toEqual({
      num_ctx: 256,
      num_predict: 8,
      seed: 42,
      stop: ["<|end|>", "<|user|>"],
      temperature: 0.5,
    });
  });

  it("writes projector GGUFs beside the model, refuses to overwrite without --force (CLI)", async () => {
    await installTestModel(store, "vision", { projector: "GGUF-projector-bytes" });
    const out = join(work, "v", "model.gguf");
    mkdirSync(join(work, "v"));
    let r = runCli(["export", "--gguf", "vision", "-o", out, "--models-dir", store]);
    expect(r.stderr).toBe("");
    expect(r.stdout.split("\n").filter(Boolean)).toEqual([`wrote ${out}`, `wrote ${join(work, "v", "model-projector.gguf")}`, `wrote ${join(work, "v", "Modelfile")}`]);
    expect(readFileSync(join(work, "v", "model-projector.gguf"), "utf8")).toBe("GGUF-projector-bytes");
    expect(readFileSync(join(work, "v", "Modelfile"), "utf8")).toMatch(/\nFROM \.\/model\.gguf\nFROM \.\/model-projector\.gguf\n/);
    const old = Date.now() / 1000 - 100;
    utimesSync(out, old, old);
    r = runCli(["export", "--gguf", "vision", "-o", out, "--models-dir", store]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`gguf-tool: ${out}: already exists; pass --force to replace it\n`);
    r = runCli(["export", "--gguf", "vision", "-o", out, "--force", "--models-dir", store]);
    expect(r.status).toBe(0);
  });
});
