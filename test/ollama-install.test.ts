import { createHash } from "node:crypto";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ToolError } from "../src/formats/errors.ts";
import { readGgufHeader } from "../src/formats/gguf/reader.ts";
import { GgufValueType } from "../src/formats/gguf/types.ts";
import { blobPath } from "../src/ollama/blobs.ts";
import { installModel } from "../src/ollama/install.ts";
import { readManifest } from "../src/ollama/manifest.ts";
import { parseModelfile } from "../src/ollama/modelfile.ts";
import { parseModelName } from "../src/ollama/names.ts";
import { storeTempPath } from "../src/ollama/store-fs.ts";
import { verifyStore } from "../src/ollama/store-maintain.ts";
import { listModels } from "../src/ollama/store-read.ts";
import { LIBRARY_TEMPLATES } from "../src/ollama/templates/library.ts";
import { TINY_FULL_MODELFILE } from "./helpers/ollama-observed-store.ts";
import { writeTinyGguf, writeTinyProjector } from "./helpers/tiny-gguf.ts";

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** ollama-observed.md §2: the config blob Ollama wrote for tiny-f32.gguf (153 bytes, sha256-ea81f5…). */
const OBSERVED_F32_CONFIG =
  '{"model_format":"gguf","model_family":"llama","model_families":["llama"],"model_type":"1.45M","file_type":"unknown","architecture":"amd64","os":"linux"}\n';
const OBSERVED_F32_CONFIG_DIGEST = "ea81f510a01e7c0dead7587827e1196d90b08a67736e2c43ad862ac124c57caa";

/** §2's manifest; Ollama's model layer (its llama-quantize COPY rewrite) is replaced by ours. */
function observedTinyManifest(modelDigest: string, modelSize: number): string {
  return (
    '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:ea81f510a01e7c0dead7587827e1196d90b08a67736e2c43ad862ac124c57caa","size":153},"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:eba020943f4151357f566c8669f88064c16aaa47dc26211860c22dbdb90dcf07","size":5817376}]}\n'
  )
    .replace("eba020943f4151357f566c8669f88064c16aaa47dc26211860c22dbdb90dcf07", modelDigest)
    .replace("5817376", String(modelSize));
}

/** §4's manifest for tiny-full, model layer replaced as above. */
function observedTinyFullManifest(modelDigest: string, modelSize: number): string {
  return (
    '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:ea81f510a01e7c0dead7587827e1196d90b08a67736e2c43ad862ac124c57caa","size":153},"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:eba020943f4151357f566c8669f88064c16aaa47dc26211860c22dbdb90dcf07","size":5817376},{"mediaType":"application/vnd.ollama.image.template","digest":"sha256:e6f7decdcfb351bc741ea31a5604a6945ab6188f58794d25d45ae062bbe4091d","size":136},{"mediaType":"application/vnd.ollama.image.system","digest":"sha256:58ed9d82d104e72543685c0384b7ea6c5c3c253b86f100501c2baf7443faf239","size":26},{"mediaType":"application/vnd.ollama.image.license","digest":"sha256:2dcbc4706b14d11c444f879a1e937c22a05e05852fc739511db91caa63117602","size":18},{"mediaType":"application/vnd.ollama.image.params","digest":"sha256:dd4a4b060e871ff1de819e1ed6616b9fd772c4b78294b2d9652b0c7ac50d82f7","size":110},{"mediaType":"application/vnd.ollama.image.messages","digest":"sha256:534289adfe5924042077b990eb91f71564e244ae5196a21856eedb6310f412fa","size":78}]}\n'
  )
    .replace("eba020943f4151357f566c8669f88064c16aaa47dc26211860c22dbdb90dcf07", modelDigest)
    .replace("5817376", String(modelSize));
}


/** Every path under `dir` with its size and content hash: "exactly as before" means equal snapshots. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        out[`${p}/`] = "dir";
        walk(p);
      } else out[p] = sha256(readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

let work: string;
let f32Path: string;
let f32: { sha256: string; size: number };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "gguf-tool-install-"));
  f32Path = join(work, "tiny-f32.gguf");
  f32 = await writeTinyGguf(f32Path);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

let storeCount = 0;
function freshStore(): string {
  return join(work, `models-${++storeCount}`);
}

describe("installModel against what Ollama wrote (ollama-observed.md)", () => {
  it("tiny-f32 with no Modelfile: config and manifest byte-identical (§2)", async () => {
    const modelsDir = freshStore();
    const r = await installModel({ modelsDir, name: "tiny", ggufPath: f32Path });
    expect(r.name).toBe("tiny:latest");
    const config = readFileSync(blobPath(modelsDir, `sha256:${OBSERVED_F32_CONFIG_DIGEST}`), "utf8");
    expect(config).toBe(OBSERVED_F32_CONFIG);
    const manifest = readFileSync(join(modelsDir, "manifests/registry.ollama.ai/library/tiny/latest"), "utf8");
    expect(manifest).toBe(observedTinyManifest(f32.sha256, f32.size));
    expect(r.manifestDigest).toBe(sha256(manifest));
    // the model blob is the input file, byte for byte; no template (the GGUF has no chat template)
    expect(sha256(readFileSync(blobPath(modelsDir, `sha256:${f32.sha256}`)))).toBe(f32.sha256);
    expect(r.templateChoice).toMatch(/^none: the GGUF has no tokenizer.chat_template/);
    // files 0644, folders 0755, nothing left in the private temp folder
    expect(statSync(blobPath(modelsDir, `sha256:${f32.sha256}`)).mode & 0o777).toBe(0o644);
    expect(statSync(join(modelsDir, "blobs")).mode & 0o777).toBe(0o755);
    expect(readdirSync(join(modelsDir, ".gguf-tool-tmp"))).toEqual([]);
  });

  it("tiny-full Modelfile: every text layer, params and manifest byte-identical (§4)", async () => {
    const modelsDir = freshStore();
    const modelfile = parseModelfile(TINY_FULL_MODELFILE, { source: "Modelfile.full", baseDir: work });
    const r = await installModel({ modelsDir, name: "tiny-full", modelfile });
    const manifest = readFileSync(join(modelsDir, "manifests/registry.ollama.ai/library/tiny-full/latest"), "utf8");
    expect(manifest).toBe(observedTinyFullManifest(f32.sha256, f32.size));
    expect(r.templateChoice).toBe("TEMPLATE from the Modelfile");
    const blob = (hex: string) => readFileSync(blobPath(modelsDir, `sha256:${hex}`), "utf8");
    expect(blob("dd4a4b060e871ff1de819e1ed6616b9fd772c4b78294b2d9652b0c7ac50d82f7")).toBe(
      '{"num_ctx":256,"num_predict":8,"seed":42,"stop":["\\u003c|end|\\u003e","\\u003c|user|\\u003e"],"temperature":0.5}\n',
    );
    expect(blob("534289adfe5924042077b990eb91f71564e244ae5196a21856eedb6310f412fa")).toBe(
      '[{"role":"user","content":"hello"},{"role":"assistant","content":"hi there"}]\n',
    );
    expect(blob("58ed9d82d104e72543685c0384b7ea6c5c3c253b86f100501c2baf7443faf239")).toBe("You are a tiny test model.");
  });

  it("F16, the ascii vocabulary, Q4_K_M: config blobs as Ollama wrote them (§6)", async () => {
    const cases: Array<[string, Parameters<typeof writeTinyGguf>[1], string, string | undefined]> = [
      ["tiny-f16", { dtype: "F16" }, '"model_type":"1.45M","file_type":"F16"', undefined],
      ["tiny-ascii", { dtype: "F16", ascii: true }, '"model_type":"1.39M","file_type":"F16"', undefined],
      // config depends on the tensor shapes and general.file_type only: a file tagged Q4_K_M (15)
      ["tiny-q4km", { dtype: "F16", fileType: 15 }, '"model_type":"1.45M","file_type":"Q4_K_M"', "29a004b3b1a3e5dd8bf2b40809f1009c398e94cfede40b6123d296b163722cee"],
    ];
    for (const [name, options, fields, digest] of cases) {
      const modelsDir = freshStore();
      const path = join(work, `${name}.gguf`);
      await writeTinyGguf(path, options);
      const r = await installModel({ modelsDir, name, ggufPath: path });
      const cfg = readFileSync(blobPath(modelsDir, (await readManifest(modelsDir, parseModelName(name))).manifest.config!.digest), "utf8");
      expect(cfg).toBe(`{"model_format":"gguf","model_family":"llama","model_families":["llama"],${fields},"architecture":"amd64","os":"linux"}\n`);
      if (digest) expect(sha256(cfg)).toBe(digest);
      expect(r.config.model_family).toBe("llama");
    }
  });

  it("reports the GGUF bytes copied, up to the file size", async () => {
    const modelsDir = freshStore();
    const seen: number[] = [];
    await installModel({ modelsDir, name: "p", ggufPath: f32Path, onProgress: (p) => {
      expect(p).toMatchObject({ item: 1, itemCount: 1, label: "tiny-f32.gguf", bytesTotal: f32.size });
      seen.push(p.bytesDone);
    } });
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.at(-1)).toBe(f32.size);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });

  it("an install shows up in list, with Ollama's details", async () => {
    const modelsDir = freshStore();
    await installModel({ modelsDir, name: "alice/tiny:v2", ggufPath: f32Path });
    const { models, skipped } = await listModels(modelsDir);
    expect(skipped).toEqual([]);
    expect(models.map((m) => m.displayName)).toEqual(["alice/tiny:v2"]);
    expect(models[0].details).toMatchObject({ format: "gguf", family: "llama", parameter_size: "1.45M", quantization_level: "unknown" });
    expect(models[0].size).toBe(f32.size + 153);
  });
});

describe("installModel: templates, projectors, splits, links", () => {
  it("detects the chat template from the GGUF and installs the library template and stop list", async () => {
    const modelsDir = freshStore();
    const path = join(work, "tiny-chatml.gguf");
    const jinja = readFileSync(new URL("../../shared/fixtures/hf/qwen2-tiny/tokenizer_config.json", import.meta.url), "utf8");
    await writeTinyGguf(path, { chatTemplate: JSON.parse(jinja).chat_template });
    const r = await installModel({ modelsDir, name: "chat", ggufPath: path, modelfile: parseModelfile("PARAMETER temperature 0.2", { source: "M", requireFrom: false }) });
    expect(r.templateChoice).toMatch(/^qwen2 \(Ollama library\/qwen2:0\.5b; fingerprint chatml\)$/);
    const entry = LIBRARY_TEMPLATES.find((t) => t.id === "qwen2")!;
    const layers = r.layers.map((l) => l.mediaType.replace("application/vnd.ollama.image.", ""));
    expect(layers).toEqual(["model", "template", "params"]);
    expect(readFileSync(blobPath(modelsDir, r.layers[1].digest), "utf8")).toBe(entry.template);
    // detected stop merged with the Modelfile's parameters, keys sorted
    expect(readFileSync(blobPath(modelsDir, r.layers[2].digest), "utf8")).toBe(
      '{"stop":["\\u003c|im_start|\\u003e","\\u003c|im_end|\\u003e"],"temperature":0.2}\n',
    );
  });

  it("a Gemma 3 style Modelfile with a model and a projector FROM gives a projector layer", async () => {
    const modelsDir = freshStore();
    const dir = join(work, "gemma-like");
    mkdirSync(dir, { recursive: true });
    await writeTinyGguf(join(dir, "model.gguf"), { dtype: "F16" });
    const proj = await writeTinyProjector(join(dir, "mmproj.gguf"));
    const modelfile = parseModelfile("FROM ./model.gguf\nFROM ./mmproj.gguf\nPARAMETER stop <end_of_turn>\nPARAMETER stop <eos>\n", {
      source: join(dir, "Modelfile"),
      baseDir: dir,
    });
    const r = await installModel({ modelsDir, name: "vision", modelfile });
    expect(r.layers.map((l) => l.mediaType.replace("application/vnd.ollama.image.", ""))).toEqual(["model", "projector", "params"]);
    expect(r.layers[1]).toMatchObject({ digest: `sha256:${proj.sha256}`, size: proj.size });
    expect(r.config.model_families).toEqual(["llama", "clip"]);
    expect(r.config.model_type).toBe("1.45M"); // the model's count, not the projector's
  });

  it("FROM a folder takes its model and projector GGUFs; ADAPTER gives an adapter layer", async () => {
    const modelsDir = freshStore();
    const dir = join(work, "folder-model");
    mkdirSync(dir, { recursive: true });
    await writeTinyGguf(join(dir, "a-model.gguf"), { dtype: "F16" });
    await writeTinyProjector(join(dir, "b-mmproj.gguf"));
    const lora = join(work, "lora.gguf");
    await writeTinyGguf(lora, { dtype: "F16", extra: [["general.type", { type: GgufValueType.STRING, value: "adapter" }]] });
    const modelfile = parseModelfile(`FROM ./folder-model\nADAPTER ${lora}\n`, { source: "M", baseDir: work });
    const r = await installModel({ modelsDir, name: "folder", modelfile });
    expect(r.layers.map((l) => l.mediaType.replace("application/vnd.ollama.image.", ""))).toEqual(["model", "projector", "adapter"]);
  });

  it("merges a split GGUF into one blob with every tensor, the whole vocabulary and no split.* keys", async () => {
    const modelsDir = freshStore();
    const dir = join(work, "split");
    mkdirSync(dir, { recursive: true });
    const all = Array.from({ length: 21 }, (_, i) => i);
    // a vocabulary of 1774 tokens: the header reader leaves it lazy, the merge must still copy it
    const options = { extraTokens: 1500 };
    await writeTinyGguf(join(dir, "whole.gguf"), options);
    await writeTinyGguf(join(dir, "tiny-00001-of-00002.gguf"), { ...options, split: { no: 0, count: 2, tensorIndices: all.slice(0, 10) } });
    await writeTinyGguf(join(dir, "tiny-00002-of-00002.gguf"), { ...options, split: { no: 1, count: 2, tensorIndices: all.slice(10) } });
    const r = await installModel({ modelsDir, name: "split", ggufPath: join(dir, "tiny-00001-of-00002.gguf") });
    const blob = blobPath(modelsDir, r.layers[0].digest);
    const ref = await readGgufHeader(join(dir, "whole.gguf"), { eagerArrays: true });
    const h = await readGgufHeader(blob, { eagerArrays: true });
    expect(h.tensors.map((t) => t.name)).toEqual(ref.tensors.map((t) => t.name));
    expect([...h.metadata.keys()]).toEqual([...ref.metadata.keys()]);
    expect(h.metadata.get("tokenizer.ggml.tokens")).toEqual(ref.metadata.get("tokenizer.ggml.tokens"));
    // the merged file is the unsplit file, byte for byte
    expect(sha256(readFileSync(blob))).toBe(sha256(readFileSync(join(dir, "whole.gguf"))));
    expect(r.config.model_type).toBe("2.22M");
    expect(readdirSync(join(modelsDir, ".gguf-tool-tmp"))).toEqual([]);
  });

  it("--link hard-links the GGUF into blobs/", async () => {
    const modelsDir = freshStore();
    const r = await installModel({ modelsDir, name: "linked", ggufPath: f32Path, link: true });
    const blob = statSync(blobPath(modelsDir, r.layers[0].digest));
    expect(blob.ino).toBe(statSync(f32Path).ino);
  });

  it("renames a GGUF the converter wrote into the store's temp folder instead of copying it", async () => {
    const modelsDir = freshStore();
    const temp = await storeTempPath(modelsDir, ".gguf");
    const written = await writeTinyGguf(temp, { dtype: "F16" });
    const ino = statSync(temp).ino;
    const r = await installModel({ modelsDir, name: "converted:q", ggufPath: temp, ggufDigest: `sha256:${written.sha256}` });
    expect(existsSync(temp)).toBe(false);
    expect(statSync(blobPath(modelsDir, r.layers[0].digest)).ino).toBe(ino);
  });

  it("replacing a model removes the old blobs nothing else uses", async () => {
    const modelsDir = freshStore();
    const first = await installModel({ modelsDir, name: "m", ggufPath: f32Path, modelfile: parseModelfile("SYSTEM one", { source: "M", requireFrom: false }) });
    const oldSystem = first.layers.find((l) => l.mediaType.endsWith(".system"))!.digest;
    await installModel({ modelsDir, name: "m", ggufPath: f32Path, modelfile: parseModelfile("SYSTEM two", { source: "M", requireFrom: false }) });
    expect(existsSync(blobPath(modelsDir, oldSystem))).toBe(false);
    expect(existsSync(blobPath(modelsDir, first.layers[0].digest))).toBe(true);
  });

  it("FROM an installed model keeps its layers and applies the Modelfile on top", async () => {
    const modelsDir = freshStore();
    await installModel({ modelsDir, name: "base", modelfile: parseModelfile(TINY_FULL_MODELFILE, { source: "M", baseDir: work }) });
    const r = await installModel({ modelsDir, name: "derived", modelfile: parseModelfile("FROM base\nSYSTEM new\nPARAMETER seed 7\n", { source: "M" }) });
    expect(r.templateChoice).toBe("kept from base:latest");
    expect(r.layers.map((l) => l.mediaType.replace("application/vnd.ollama.image.", ""))).toEqual([
      "model", "template", "system", "license", "params", "messages",
    ]);
    expect(r.layers[0].from).toBe("base:latest");
    expect(readFileSync(blobPath(modelsDir, r.layers[4].digest), "utf8")).toBe(
      '{"num_ctx":256,"num_predict":8,"seed":7,"stop":["\\u003c|end|\\u003e","\\u003c|user|\\u003e"],"temperature":0.5}\n',
    );
  });
});

describe("a failed install leaves the models dir exactly as before", () => {
  async function expectUnchanged(modelsDir: string, run: () => Promise<unknown>, message: RegExp) {
    const before = snapshot(modelsDir);
    await expect(run()).rejects.toThrow(message);
    expect(snapshot(modelsDir)).toEqual(before);
  }

  it("bad template, unreadable GGUF, bad name, reserved tag: in an empty and in a used store", async () => {
    const garbage = join(work, "garbage.gguf");
    writeFileSync(garbage, "this is not a GGUF file at all, just text");
    for (const populated of [false, true]) {
      const modelsDir = freshStore();
      if (populated) await installModel({ modelsDir, name: "existing", ggufPath: f32Path });
      const bad = parseModelfile('TEMPLATE "{{ .Prompt "\n', { source: "M", requireFrom: false });
      await expectUnchanged(modelsDir, () => installModel({ modelsDir, name: "t", ggufPath: f32Path, modelfile: bad }), /not a valid Go template/);
      await expectUnchanged(modelsDir, () => installModel({ modelsDir, name: "t", ggufPath: garbage }), /garbage\.gguf/);
      await expectUnchanged(modelsDir, () => installModel({ modelsDir, name: "a/b/c/d", ggufPath: f32Path }), /./);
      await expectUnchanged(modelsDir, () => installModel({ modelsDir, name: "t:cloud", ggufPath: f32Path }), /reserved/);
      await expectUnchanged(
        modelsDir,
        () => installModel({ modelsDir, name: "t", modelfile: parseModelfile("FROM ./missing.gguf", { source: "M", baseDir: work }) }),
        /no such file/,
      );
    }
  });

  it("a failure after blobs were written removes them again", async () => {
    const modelsDir = freshStore();
    await installModel({ modelsDir, name: "existing", ggufPath: f32Path });
    const before = snapshot(modelsDir);
    // the manifest's folder path is blocked by a file: writing the manifest fails, after the blobs
    const blocker = join(modelsDir, "manifests/registry.ollama.ai/library/blocked");
    writeFileSync(blocker, "x");
    const withBlocker = snapshot(modelsDir);
    const p16 = join(work, "tiny-f16-b.gguf");
    await writeTinyGguf(p16, { dtype: "F16" });
    const err = await installModel({ modelsDir, name: "blocked", ggufPath: p16, modelfile: parseModelfile("SYSTEM s", { source: "M", requireFrom: false }) }).catch((e) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect(snapshot(modelsDir)).toEqual(withBlocker);
    rmSync(blocker);
    expect(snapshot(modelsDir)).toEqual(before);
  });
});

describe("store ownership and concurrency", () => {
  it("gives new files and folders the models dir's owner when running as root (else they are ours)", async () => {
    const modelsDir = freshStore();
    mkdirSync(modelsDir);
    const isRoot = process.getuid?.() === 0;
    if (isRoot) chownSync(modelsDir, 4321, 4322);
    await installModel({ modelsDir, name: "owned", ggufPath: f32Path, modelfile: parseModelfile("SYSTEM s", { source: "M", requireFrom: false }) });
    const paths = Object.keys(snapshot(modelsDir)).map((p) => p.replace(/\/$/, ""));
    expect(paths.length).toBeGreaterThan(8);
    for (const p of paths) {
      const st = statSync(p);
      expect([st.uid, st.gid], p).toEqual(isRoot ? [4321, 4322] : [process.getuid!(), process.getgid!()]);
    }
  });

  it("concurrent installs sharing blobs all complete and verify", async () => {
    const modelsDir = freshStore();
    const names = ["c1", "c2", "c3", "c4"];
    await Promise.all(
      names.map((name, i) =>
        installModel({ modelsDir, name, ggufPath: f32Path, modelfile: parseModelfile(`SYSTEM ${i % 2}\nLICENSE MIT`, { source: "M", requireFrom: false }) }),
      ),
    );
    const { models } = await listModels(modelsDir);
    expect(models.map((m) => m.displayName).sort()).toEqual(names.map((n) => `${n}:latest`));
    const v = await verifyStore(modelsDir);
    expect(v.problems).toEqual([]);
    expect(readdirSync(join(modelsDir, "blobs")).sort()).toHaveLength(1 + 1 + 2 + 1); // model, config, 2 systems, license
  });
});

describe("GGUF metadata types", () => {
  it("warns when architecture keys come after tokenizer keys (ollama list would miss them)", async () => {
    const modelsDir = freshStore();
    const path = join(work, "tiny-late-arch.gguf");
    await writeTinyGguf(path, { extra: [["llama.pooling_type", { type: GgufValueType.UINT32, value: 0 }]] });
    const r = await installModel({ modelsDir, name: "late", ggufPath: path });
    expect(r.warnings).toEqual([`${path}: llama.* keys come after tokenizer.* keys; ollama list stops reading there and will not show the context length`]);
    const ok = await installModel({ modelsDir, name: "ok", ggufPath: f32Path });
    expect(ok.warnings).toEqual([]);
  });

  it("writes RENDERER, PARSER and REQUIRES into the config in Ollama's field order", async () => {
    const modelsDir = freshStore();
    const modelfile = parseModelfile("RENDERER qwen3-coder\nPARSER qwen3-coder\nREQUIRES v0.14.0\n", { source: "M", requireFrom: false });
    const r = await installModel({ modelsDir, name: "rp", ggufPath: f32Path, modelfile });
    const cfg = readFileSync(blobPath(modelsDir, (await readManifest(modelsDir, parseModelName("rp"))).manifest.config!.digest), "utf8");
    expect(cfg).toBe(
      '{"model_format":"gguf","model_family":"llama","model_families":["llama"],"model_type":"1.45M","file_type":"unknown","renderer":"qwen3-coder","parser":"qwen3-coder","requires":"0.14.0","architecture":"amd64","os":"linux"}\n',
    );
    expect(r.config.requires).toBe("0.14.0");
  });

  it("reads general.file_type only as a UINT32, as Ollama does", async () => {
    const modelsDir = freshStore();
    const path = join(work, "tiny-ft-int32.gguf");
    // general.file_type stored as INT32 1 reads as unknown in Ollama
    await writeTinyGguf(path, { dtype: "F16", extra: [["general.file_type", { type: GgufValueType.INT32, value: 1 }]] });
    const r = await installModel({ modelsDir, name: "ft", ggufPath: path });
    expect(r.config.file_type).toBe("unknown");
    expect(r.warnings).toEqual([`${path}: general.file_type is not a UINT32; Ollama reports the quantization as unknown`]);
  });
});
