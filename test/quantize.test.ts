import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { readGgufHeader } from "../src/formats/gguf/reader.ts";
import { GgmlType, GgufValueType, ggmlByteSize, type GgufMetadata } from "../src/formats/gguf/types.ts";
import { createGgufWriter } from "../src/formats/gguf/writer.ts";
import { dequantizeRows, quantizeRows } from "../src/quant/kernels/index.ts";
import { requantizeGguf } from "../src/quant/requantize.ts";
import { runCli, SHARED } from "./helpers/cli.ts";

const GOLDEN = join(SHARED, "golden/quant/gguf");
const INPUT = join(GOLDEN, "tiny2.f16.gguf");
const manifest = JSON.parse(readFileSync(join(GOLDEN, "manifest.json"), "utf8")) as {
  outputs: Record<string, string>;
  files: Record<string, { bytes: number; sha256: string }>;
};

const CLI_MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "quantize-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const leftovers = () => readdirSync(dir).filter((f) => f.endsWith(".tmp"));

describe("gguf-tool quantize: whole-file goldens from llama-quantize", () => {
  for (const [type, file] of Object.entries(manifest.outputs)) {
    it(`${type}: byte-identical to ${file}`, () => {
      const out = join(dir, `cli.${type}.gguf`);
      const r = runCli(["quantize", INPUT, out, type]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const golden = readFileSync(join(GOLDEN, file));
      const ours = readFileSync(out);
      expect(ours.length).toBe(manifest.files[file].bytes);
      // first differing byte, so a failure says where (header, metadata, tensor data)
      const firstDiff = ours.findIndex((b, i) => b !== golden[i]);
      expect(firstDiff).toBe(-1);
      expect(sha256(out)).toBe(manifest.files[file].sha256);
      // the summary names the output, its size, the types and the time
      expect(r.stdout).toMatch(new RegExp(`^${out.replace(/[.]/g, "\\.")}: ${type}, [0-9.]+ MB, 21 tensors \\(.*F32 5.*\\), [0-9.]+ s\\n$`));
      expect(leftovers()).toEqual([]);
    });
  }

  it("any case and llama-quantize's aliases name the same mixture; --quiet prints nothing", () => {
    const out = join(dir, "alias.gguf");
    const r = runCli(["quantize", INPUT, out, "q8_0", "--quiet", "--threads", "1"]);
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).toBe("");
    expect(sha256(out)).toBe(manifest.files["tiny2.Q8_0.gguf"].sha256);
  });
});

describe("requantizeGguf", () => {
  it("moves general.quantization_version and general.file_type to the end and sorts tensors as llama.cpp", async () => {
    const out = join(dir, "lib.Q8_0.gguf");
    const result = await requantizeGguf(INPUT, out, { mixture: "Q8_0", threads: 1 });
    expect(result.sha256).toBe(manifest.files["tiny2.Q8_0.gguf"].sha256);
    expect(result.typeCounts).toEqual([{ type: GgmlType.Q8_0, count: 16 }, { type: GgmlType.F32, count: 5 }]);
    const header = await readGgufHeader(out);
    const keys = [...header.metadata.keys()];
    expect(keys.slice(-2)).toEqual(["general.quantization_version", "general.file_type"]);
    expect(header.metadata.get("general.file_type")).toEqual({ type: GgufValueType.UINT32, value: 7 });
    expect(header.tensors.slice(0, 4).map((t) => t.name)).toEqual(["output.weight", "output_norm.weight", "token_embd.weight", "blk.0.attn_k.weight"]);
  });

  it("reads a split input (gguf-split shards) as one model and writes one file without the split keys", async () => {
    const src = await readGgufHeader(INPUT, { eagerArrays: true });
    const bytes = readFileSync(INPUT);
    const count = 3;
    const per = Math.ceil(src.tensors.length / count);
    const shardPath = (i: number) => join(dir, `split-0000${i + 1}-of-0000${count}.gguf`);
    for (let i = 0; i < count; i++) {
      const tensors = src.tensors.slice(i * per, (i + 1) * per);
      const metadata: GgufMetadata = i === 0 ? new Map(src.metadata) : new Map();
      metadata.set("split.no", { type: GgufValueType.UINT16, value: i });
      metadata.set("split.count", { type: GgufValueType.UINT16, value: count });
      metadata.set("split.tensors.count", { type: GgufValueType.INT32, value: src.tensors.length });
      const w = await createGgufWriter(shardPath(i), { metadata, tensors });
      for (const t of tensors) await w.writeTensorData(bytes.subarray(src.dataOffset + t.offset, src.dataOffset + t.offset + t.size));
      await w.finish();
    }
    const out = join(dir, "from-split.Q8_0.gguf");
    const r = await requantizeGguf(shardPath(1), out, { mixture: "Q8_0", threads: 1 });
    expect(r.sha256).toBe(manifest.files["tiny2.Q8_0.gguf"].sha256);
  });

  it("an input already of the target types is copied unchanged (tiny2.Q8_0 -> Q8_0 gives the same file)", async () => {
    const out = join(dir, "same.gguf");
    const warnings: string[] = [];
    const r = await requantizeGguf(join(GOLDEN, "tiny2.Q8_0.gguf"), out, { mixture: "Q8_0", onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([]);
    expect(r.requantizedCount).toBe(0);
    expect(r.sha256).toBe(manifest.files["tiny2.Q8_0.gguf"].sha256);
  });

  it("dequantizes then requantizes an already quantized input, with one warning", async () => {
    const src = join(GOLDEN, "tiny2.Q8_0.gguf");
    const out = join(dir, "requant.Q4_0.gguf");
    const warnings: string[] = [];
    const r = await requantizeGguf(src, out, { mixture: "Q4_0", threads: 2, onWarning: (w) => warnings.push(w) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/already quantized \(Q8_0\)/);
    expect(r.requantizedCount).toBe(16);

    // every tensor equals dequantize(Q8_0) -> quantize(new type) done here with the kernels
    const inHeader = await readGgufHeader(src);
    const outHeader = await readGgufHeader(out);
    const inBytes = readFileSync(src);
    const outBytes = readFileSync(out);
    for (const t of outHeader.tensors) {
      const s = inHeader.tensors.find((x) => x.name === t.name)!;
      const srcData = inBytes.subarray(inHeader.dataOffset + s.offset, inHeader.dataOffset + s.offset + s.size);
      const got = outBytes.subarray(outHeader.dataOffset + t.offset, outHeader.dataOffset + t.offset + t.size);
      const count = t.shape.reduce((a, b) => a * b, 1);
      if (t.type === s.type) {
        expect(Buffer.compare(got, srcData), t.name).toBe(0);
        continue;
      }
      const floats = new Float32Array(count);
      dequantizeRows(s.type, srcData, floats);
      const expected = new Uint8Array(ggmlByteSize(t.type, count));
      quantizeRows(t.type, floats, expected);
      expect(Buffer.compare(got, expected), t.name).toBe(0);
    }
    // llama.cpp's Q4_0 mixture: Q6_K for output.weight, Q4_0 for the rest, norms kept
    const types = Object.fromEntries(outHeader.tensors.map((t) => [t.name, t.type]));
    expect(types["output.weight"]).toBe(GgmlType.Q6_K);
    expect(types["token_embd.weight"]).toBe(GgmlType.Q4_0);
    expect(types["blk.0.attn_q.weight"]).toBe(GgmlType.Q4_0);
    expect(types["output_norm.weight"]).toBe(GgmlType.F32);
  });
});

/** A synthetic llama model with F32 tensors large enough that every tensor spans several pool chunks. */
async function writeSyntheticModel(path: string, vocab = 1024, layers = 2, poison?: { tensor: string; value: number }): Promise<void> {
  const metadata: GgufMetadata = new Map();
  metadata.set("general.architecture", { type: GgufValueType.STRING, value: "llama" });
  metadata.set("llama.block_count", { type: GgufValueType.UINT32, value: layers });
  metadata.set("llama.attention.head_count", { type: GgufValueType.UINT32, value: 8 });
  metadata.set("llama.attention.head_count_kv", { type: GgufValueType.UINT32, value: 2 });
  metadata.set("general.file_type", { type: GgufValueType.UINT32, value: 0 });
  const embd = 512;
  const tensors = [
    { name: "token_embd.weight", shape: [embd, vocab], type: GgmlType.F32 },
    { name: "output_norm.weight", shape: [embd], type: GgmlType.F32 },
    { name: "output.weight", shape: [embd, vocab], type: GgmlType.F32 },
  ];
  for (let l = 0; l < layers; l++) {
    tensors.push({ name: `blk.${l}.attn_norm.weight`, shape: [embd], type: GgmlType.F32 });
    tensors.push({ name: `blk.${l}.attn_v.weight`, shape: [embd, 128], type: GgmlType.F32 });
    tensors.push({ name: `blk.${l}.ffn_down.weight`, shape: [1024, embd], type: GgmlType.F32 });
  }
  const w = await createGgufWriter(path, { metadata, tensors });
  let seed = 12345;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      values[i] = ((seed >>> 8) / 2 ** 24 - 0.5) * 0.04;
    }
    if (poison?.tensor === t.name) values[values.length - 1] = poison.value;
    await w.writeTensorData(new Uint8Array(values.buffer));
  }
  await w.finish();
}

describe("pool and single thread", () => {
  it("give byte-identical files on a model whose tensors span several chunks", async () => {
    const input = join(dir, "synthetic.f32.gguf");
    await writeSyntheticModel(input, 1024, 10);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    const one = await requantizeGguf(input, join(dir, "t1.gguf"), { mixture: "Q8_0", threads: 1 });
    // 12 tensors of several chunks each (ffn_down, token_embd, output) go through the workers: the pool must not pile up listeners
    const two = await requantizeGguf(input, join(dir, "t2.gguf"), { mixture: "Q8_0", threads: 2 });
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    process.off("warning", onWarning);
    expect(warnings.map((w) => w.message)).toEqual([]);
    expect(two.sha256).toBe(one.sha256);
    expect(one.size).toBe(two.size);
    const header = await readGgufHeader(join(dir, "t2.gguf"));
    expect(header.tensors.find((t) => t.name === "blk.0.ffn_down.weight")!.type).toBe(GgmlType.Q8_0);
  });
});

describe("gguf-tool quantize: llama-quantize's options", () => {
  const typesOf = async (path: string) => Object.fromEntries((await readGgufHeader(path)).tensors.map((t) => [t.name, t.type]));

  it("--output-tensor-type and --token-embedding-type override those two tensors", async () => {
    const out = join(dir, "overrides.gguf");
    const r = runCli(["quantize", INPUT, out, "Q8_0", "--output-tensor-type", "f16", "--token-embedding-type", "F32", "--quiet"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const types = await typesOf(out);
    expect(types["output.weight"]).toBe(GgmlType.F16);
    expect(types["token_embd.weight"]).toBe(GgmlType.F32);
    expect(types["blk.1.ffn_down.weight"]).toBe(GgmlType.Q8_0);
  });

  it("--pure gives every quantizable tensor the mixture's type (output.weight too), norms stay F32", async () => {
    const out = join(dir, "pure.gguf");
    const r = runCli(["quantize", INPUT, out, "Q4_0", "--pure", "--quiet"]);
    expect(r.status).toBe(0);
    const types = await typesOf(out);
    expect(types["output.weight"]).toBe(GgmlType.Q4_0);
    expect(types["blk.0.attn_v.weight"]).toBe(GgmlType.Q4_0);
    expect(types["blk.0.attn_norm.weight"]).toBe(GgmlType.F32);
    const header = await readGgufHeader(out);
    expect(header.metadata.get("general.file_type")).toEqual({ type: GgufValueType.UINT32, value: 2 });
  });
});

describe("gguf-tool quantize: Ctrl-C", () => {
  it("SIGINT in the middle of a quantize leaves neither the output nor a temporary file", async () => {
    const input = join(dir, "sigint.f32.gguf");
    await writeSyntheticModel(input, 8192); // 36 MB of F32: about a second of Q4_K work
    const out = join(dir, "sigint.gguf");
    const child = spawn(process.execPath, ["--import", "tsx", CLI_MAIN, "quantize", input, out, "Q4_K_M", "--threads", "1"], { stdio: "ignore" });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    let running = true;
    void exited.then(() => (running = false));
    // wait until the temporary output file exists, i.e. the write has started
    while (running && !readdirSync(dir).some((f) => f.startsWith(".sigint.gguf.") && f.endsWith(".tmp"))) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(running).toBe(true);
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(existsSync(out)).toBe(false);
    expect(leftovers()).toEqual([]);
  });
});

describe("gguf-tool quantize: errors", () => {
  it("an unknown TYPE is a usage error (exit 2) that lists the valid types", () => {
    const out = join(dir, "never.gguf");
    const r = runCli(["quantize", INPUT, out, "Q9_X"]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/Q9_X/);
    for (const t of ["Q4_K_M", "Q8_0", "Q2_K", "F16", "BF16", "Q5_K_S", "Q3_K_L"]) expect(r.stderr).toContain(t);
    expect(existsSync(out)).toBe(false);
  });

  it("a bad --output-tensor-type or --threads is a usage error", () => {
    expect(runCli(["quantize", INPUT, join(dir, "n.gguf"), "Q8_0", "--output-tensor-type", "Q7"]).status).toBe(2);
    expect(runCli(["quantize", INPUT, join(dir, "n.gguf"), "Q8_0", "--threads", "0"]).status).toBe(2);
  });

  it("a missing input is one line, exit 1", () => {
    const missing = join(dir, "missing.gguf");
    const r = runCli(["quantize", missing, join(dir, "out.gguf"), "Q8_0"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`gguf-tool: ${missing}: no such file or directory\n`);
    expect(existsSync(join(dir, "out.gguf"))).toBe(false);
  });

  it("a corrupt input (truncated inside the tensor data) is one line, exit 1, and leaves nothing", () => {
    const truncated = join(dir, "truncated.gguf");
    writeFileSync(truncated, readFileSync(INPUT).subarray(0, 100_000));
    const out = join(dir, "out-truncated.gguf");
    const r = runCli(["quantize", truncated, out, "Q8_0"]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^gguf-tool: ${truncated.replace(/[.]/g, "\\.")}: .*past the end of the file`));
    expect(existsSync(out)).toBe(false);
    expect(leftovers()).toEqual([]);

    const notGguf = join(dir, "not.gguf");
    writeFileSync(notGguf, "hello, this is not a model");
    const r2 = runCli(["quantize", notGguf, out, "Q8_0"]);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toMatch(/^gguf-tool: .*not\.gguf: not a GGUF file/);
  });

  it("weights too large for the fp16 scales fail llama-quantize's validation: one line, exit 1, nothing left", async () => {
    const input = join(dir, "huge.f32.gguf");
    await writeSyntheticModel(input, 1024, 2, { tensor: "blk.1.ffn_down.weight", value: 1e30 });
    const out = join(dir, "huge.gguf");
    const r = runCli(["quantize", input, out, "Q8_0", "--threads", "2"]);
    expect(r.status).toBe(1);
    // the last value of a 1024 x 512 tensor: block 1024 * 512 / 32 - 1
    expect(r.stderr).toBe(
      `gguf-tool: ${input}: tensor blk.1.ffn_down.weight: quantized data validation failed at block 16383 (scale d): Inf or NaN as Q8_0 (weights too large, or NaN/Inf in the input), as llama-quantize also refuses\n`,
    );
    expect(existsSync(out)).toBe(false);
    expect(leftovers()).toEqual([]);
    // NaN in an F32 input converted to F16: the value is named
    const nan = join(dir, "nan.f32.gguf");
    await writeSyntheticModel(nan, 1024, 2, { tensor: "output.weight", value: NaN });
    await expect(requantizeGguf(nan, out, { mixture: "F16" })).rejects.toThrow(/tensor output\.weight: quantized data validation failed at value 524287: Inf or NaN as F16/);
    expect(existsSync(out)).toBe(false);
  });

  it("an output folder that does not exist is one line, exit 1", () => {
    const out = join(dir, "no-such-folder", "out.gguf");
    const r = runCli(["quantize", INPUT, out, "Q8_0"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`gguf-tool: ${out}: cannot create the file: folder does not exist\n`);
  });
});
