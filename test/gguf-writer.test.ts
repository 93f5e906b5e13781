import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gguf } from "@huggingface/gguf";
import { afterAll, describe, expect, it } from "vitest";
import { listOpenTempFiles } from "../src/formats/atomic-file.ts";
import { ToolError } from "../src/formats/errors.ts";
import { readGgufHeader } from "../src/formats/gguf/reader.ts";
import { createGgufWriter, type GgufWriterTensor } from "../src/formats/gguf/writer.ts";
import { GgmlType, GgufValueType, type GgufMetadata } from "../src/formats/gguf/types.ts";
import { SHARED } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "gguf-writer-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One key of every value type, arrays of every item type (plain and typed), a nested array. */
function everyValueType(): GgufMetadata {
  const m: GgufMetadata = new Map();
  m.set("general.architecture", { type: GgufValueType.STRING, value: "llama" });
  m.set("t.u8", { type: GgufValueType.UINT8, value: 250 });
  m.set("t.i8", { type: GgufValueType.INT8, value: -120 });
  m.set("t.u16", { type: GgufValueType.UINT16, value: 65000 });
  m.set("t.i16", { type: GgufValueType.INT16, value: -32000 });
  m.set("t.u32", { type: GgufValueType.UINT32, value: 4_000_000_000 });
  m.set("t.i32", { type: GgufValueType.INT32, value: -2_000_000_000 });
  m.set("t.f32", { type: GgufValueType.FLOAT32, value: Math.fround(1e-5) });
  m.set("t.bool", { type: GgufValueType.BOOL, value: true });
  m.set("t.string", { type: GgufValueType.STRING, value: "héllo ✓ {{ .Prompt }}" });
  m.set("t.u64", { type: GgufValueType.UINT64, value: 18_000_000_000_000_000_000n });
  m.set("t.i64", { type: GgufValueType.INT64, value: -9_000_000_000_000_000_000n });
  m.set("t.f64", { type: GgufValueType.FLOAT64, value: Math.PI });
  m.set("t.arr.strings", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.STRING, length: 3, items: ["<s>", "", "▁the"] } });
  m.set("t.arr.i32", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT32, length: 3, items: new Int32Array([1, -2, 3]) } });
  m.set("t.arr.i32plain", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT32, length: 2, items: [7, -8] } });
  m.set("t.arr.f32", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.FLOAT32, length: 2, items: new Float32Array([0.5, -1.25]) } });
  m.set("t.arr.u8", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.UINT8, length: 2, items: new Uint8Array([0, 255]) } });
  m.set("t.arr.i8", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT8, length: 2, items: new Int8Array([-1, 1]) } });
  m.set("t.arr.u16", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.UINT16, length: 1, items: new Uint16Array([65535]) } });
  m.set("t.arr.i16", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT16, length: 1, items: new Int16Array([-32768]) } });
  m.set("t.arr.u32", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.UINT32, length: 1, items: new Uint32Array([4294967295]) } });
  m.set("t.arr.u64", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.UINT64, length: 2, items: new BigUint64Array([0n, 2n ** 64n - 1n]) } });
  m.set("t.arr.i64", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT64, length: 2, items: [-1n, 5n] } });
  m.set("t.arr.f64", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.FLOAT64, length: 1, items: new Float64Array([1e300]) } });
  m.set("t.arr.bool", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.BOOL, length: 3, items: [true, false, true] } });
  m.set("t.arr.empty", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.STRING, length: 0, items: [] } });
  m.set("t.arr.nested", {
    type: GgufValueType.ARRAY,
    value: {
      itemType: GgufValueType.ARRAY,
      length: 2,
      items: [
        { itemType: GgufValueType.INT32, length: 2, items: [1, 2] },
        { itemType: GgufValueType.STRING, length: 1, items: ["x"] },
      ],
    },
  });
  return m;
}

const TENSORS: GgufWriterTensor[] = [
  { name: "norm", shape: [5], type: GgmlType.F32 }, // 20 bytes: padded to 32
  { name: "w", shape: [32, 3], type: GgmlType.Q8_0 }, // 3 blocks of 34 = 102 bytes
  { name: "empty", shape: [0, 4], type: GgmlType.F16 }, // 0 bytes
  { name: "h", shape: [3, 1, 1], type: GgmlType.F16 }, // 6 bytes, last, still padded
];

function tensorBytes(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7 + 1) & 0xff;
  return b;
}
const SIZES = [20, 102, 0, 6];

async function writeSample(path: string) {
  const w = await createGgufWriter(path, { metadata: everyValueType(), tensors: TENSORS });
  const data = SIZES.map((s, i) => tensorBytes(s, i));
  // several pieces per tensor, one of them empty
  await w.writeTensorData(data[0].subarray(0, 7));
  await w.writeTensorData(data[0].subarray(7));
  await w.writeTensorData(data[1].subarray(0, 0));
  await w.writeTensorData(data[1]);
  await w.writeTensorData(data[3]);
  return { result: await w.finish(), data };
}

describe("createGgufWriter", () => {
  it("writes every value type, tensor infos and padded data that @huggingface/gguf reads back", async () => {
    const path = join(dir, "all.gguf");
    const { result, data } = await writeSample(path);
    const bytes = readFileSync(path);
    expect(result.size).toBe(bytes.length);
    expect(result.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    expect(result.path).toBe(path);

    const parsed = await gguf(path, { allowLocalFile: true, typedMetadata: true });
    const md = parsed.typedMetadata;
    expect(md.version.value).toBe(3);
    const expected = everyValueType();
    expect(Number(md.tensor_count.value)).toBe(TENSORS.length);
    expect(Number(md.kv_count.value)).toBe(expected.size);
    // key order is the Map's order
    expect(Object.keys(md).filter((k) => !["version", "tensor_count", "kv_count"].includes(k))).toEqual([...expected.keys()]);
    for (const [key, v] of expected) {
      const got = md[key];
      expect(got.type, key).toBe(v.type);
      if (v.type === GgufValueType.ARRAY) {
        expect(got.subType, key).toBe(v.value.itemType);
        if (v.value.itemType === GgufValueType.ARRAY) continue; // checked by our own reader (round trip below)
        const items = Array.from(v.value.items as ArrayLike<unknown>);
        expect(got.value, key).toEqual(items);
      } else {
        expect(got.value, key).toEqual(v.value);
      }
    }

    const tensorInfos = parsed.tensorInfos;
    expect(tensorInfos.map((t) => t.name)).toEqual(TENSORS.map((t) => t.name));
    expect(tensorInfos.map((t) => t.shape.map(Number))).toEqual(TENSORS.map((t) => t.shape));
    expect(tensorInfos.map((t) => t.dtype)).toEqual(TENSORS.map((t) => t.type));
    expect(tensorInfos.map((t) => Number(t.offset))).toEqual([0, 32, 160, 160]);

    // data section starts at the first multiple of 32 after the header, zeros in between
    const dataOffset = parsed.tensorDataOffset;
    expect(Number(dataOffset) % 32).toBe(0);
    const d = Number(dataOffset);
    expect(bytes.subarray(d, d + 20)).toEqual(Buffer.from(data[0]));
    expect(bytes.subarray(d + 20, d + 32).every((b) => b === 0)).toBe(true);
    expect(bytes.subarray(d + 32, d + 134)).toEqual(Buffer.from(data[1]));
    expect(bytes.subarray(d + 134, d + 160).every((b) => b === 0)).toBe(true);
    expect(bytes.subarray(d + 160, d + 166)).toEqual(Buffer.from(data[3]));
    // the last tensor is padded too
    expect(bytes.length).toBe(d + 192);
    expect(bytes.subarray(d + 166).every((b) => b === 0)).toBe(true);
    // no temp file left beside it
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("honours a custom alignment, from the option or from general.alignment", async () => {
    const path = join(dir, "align64.gguf");
    const metadata: GgufMetadata = new Map([["general.alignment", { type: GgufValueType.UINT32, value: 64 }]]);
    const w = await createGgufWriter(path, { metadata, tensors: [{ name: "a", shape: [3], type: GgmlType.F32 }, { name: "b", shape: [2], type: GgmlType.F32 }] });
    await w.writeTensorData(new Uint8Array(12).fill(1));
    await w.writeTensorData(new Uint8Array(8).fill(2));
    const r = await w.finish();
    const parsed = await gguf(path, { allowLocalFile: true });
    expect(Number(parsed.tensorDataOffset) % 64).toBe(0);
    expect(parsed.tensorInfos.map((t) => Number(t.offset))).toEqual([0, 64]);
    expect(r.size).toBe(Number(parsed.tensorDataOffset) + 128);
    await expect(createGgufWriter(join(dir, "x.gguf"), { metadata, tensors: [], alignment: 32 })).rejects.toThrow(ToolError);
  });

  it("rejects wrong sizes and deletes the temporary file", async () => {
    const path = join(dir, "short.gguf");
    const tensors: GgufWriterTensor[] = [{ name: "a", shape: [4], type: GgmlType.F32 }];
    let w = await createGgufWriter(path, { metadata: new Map(), tensors });
    expect(listOpenTempFiles()).toHaveLength(1);
    await w.writeTensorData(new Uint8Array(8));
    await expect(w.finish()).rejects.toThrow(/tensor a got 8 of its 16 bytes/);
    expect(readdirSync(dir).filter((f) => f.includes("short"))).toEqual([]);
    expect(listOpenTempFiles()).toEqual([]);
    await w.abort(); // safe after an error
    await w.abort(); // and twice

    w = await createGgufWriter(path, { metadata: new Map(), tensors });
    await expect(w.writeTensorData(new Uint8Array(17))).rejects.toThrow(/tensor a is 16 bytes, got 17/);
    await expect(w.writeTensorData(new Uint8Array(1))).rejects.toThrow(/already failed/);
    expect(readdirSync(dir).filter((f) => f.includes("short"))).toEqual([]);
  });

  it("abort() removes the temporary file and leaves no output", async () => {
    const path = join(dir, "aborted.gguf");
    const w = await createGgufWriter(path, { metadata: everyValueType(), tensors: TENSORS });
    await w.writeTensorData(new Uint8Array(20));
    await w.abort();
    await w.abort();
    expect(readdirSync(dir).filter((f) => f.includes("aborted"))).toEqual([]);
    await expect(w.finish()).rejects.toThrow();
  });

  it("writes into options.tempDir and renames into place", async () => {
    const tempDir = mkdtempSync(join(dir, "tmp-"));
    const path = join(dir, "viatemp.gguf");
    const w = await createGgufWriter(path, { metadata: new Map(), tensors: [] }, { tempDir });
    expect(readdirSync(tempDir)).toHaveLength(1);
    await w.finish();
    expect(readdirSync(tempDir)).toEqual([]);
    expect(statSync(path).size).toBe(32); // 24-byte header padded to 32
  });

  it("reports bad input as one-line ToolErrors before creating anything", async () => {
    const path = join(dir, "bad.gguf");
    const bad = async (tensors: GgufWriterTensor[]) =>
      createGgufWriter(path, { metadata: new Map(), tensors }).then(
        () => "no error",
        (e: unknown) => (e instanceof ToolError ? e.detail : String(e)),
      );
    expect(await bad([{ name: "q", shape: [100, 2], type: GgmlType.Q4_K }])).toMatch(/row length 100 is not a multiple of Q4_K's block size 256/);
    expect(await bad([{ name: "a", shape: [1], type: GgmlType.F32 }, { name: "a", shape: [1], type: GgmlType.F32 }])).toMatch(/duplicate tensor name a/);
    expect(await bad([{ name: "n".repeat(64), shape: [1], type: GgmlType.F32 }])).toMatch(/longer than 63 bytes/);
    expect(await bad([{ name: "a", shape: [1, 1, 1, 1, 1], type: GgmlType.F32 }])).toMatch(/5 dimensions/);
    expect(readdirSync(dir).filter((f) => f.includes("bad"))).toEqual([]);

    await expect(createGgufWriter(dir, { metadata: new Map(), tensors: [] })).rejects.toThrow(`${dir}: cannot create the file: is a directory`);
    const noFolder = join(dir, "missing", "x.gguf");
    await expect(createGgufWriter(noFolder, { metadata: new Map(), tensors: [] })).rejects.toThrow(`${noFolder}: cannot create the file: folder does not exist`);
  });

  it("streams large tensors through its buffer without changing the bytes", async () => {
    const path = join(dir, "large.gguf");
    const n = 3 * 1024 * 1024; // 12 MiB of F32: crosses the 4 MiB write buffer several times
    const w = await createGgufWriter(path, { metadata: new Map(), tensors: [{ name: "big", shape: [n], type: GgmlType.F32 }, { name: "small", shape: [1], type: GgmlType.F32 }] });
    const hash = createHash("sha256");
    const all = new Uint8Array(n * 4);
    for (let i = 0; i < all.length; i++) all[i] = (i * 2654435761) >>> 24;
    // pieces of odd sizes: small ones buffered, a huge one written directly
    const cuts = [0, 1000, 5_000_000, 5_000_001, 11_000_000, all.length];
    for (let i = 1; i < cuts.length; i++) await w.writeTensorData(all.subarray(cuts[i - 1], cuts[i]));
    await w.writeTensorData(new Uint8Array(4).fill(9));
    const r = await w.finish();
    const bytes = readFileSync(path);
    hash.update(bytes);
    expect(r.sha256).toBe(hash.digest("hex"));
    const parsed = await gguf(path, { allowLocalFile: true });
    const d = Number(parsed.tensorDataOffset);
    expect(Buffer.compare(bytes.subarray(d, d + all.length), Buffer.from(all.buffer))).toBe(0);
    expect(Array.from(bytes.subarray(d + all.length, d + all.length + 4))).toEqual([9, 9, 9, 9]);
  });
});

describe("interrupted write", () => {
  it("SIGINT to a process in the middle of a write leaves neither the file nor its temp file", async () => {
    const script = fileURLToPath(new URL("./helpers/interrupted-write.ts", import.meta.url));
    const path = join(dir, "interrupted.gguf");
    const child = spawn(process.execPath, ["--import", "tsx", script, path], { stdio: ["ignore", "pipe", "inherit"] });
    const tempPath = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
        if (out.includes("\n")) resolve(out.trim());
      });
      child.on("exit", (code) => reject(new Error(`child exited early with ${code}`)));
    });
    expect(existsSync(tempPath)).toBe(true);
    expect(statSync(tempPath).size).toBeGreaterThan(8 << 20);
    const exitCode = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    expect(await exitCode).toBe(130);
    expect(existsSync(tempPath)).toBe(false);
    expect(existsSync(path)).toBe(false);
  });
});

describe("writer + reader round trip", () => {
  it("our reader gets back every value written, nested arrays included", async () => {
    const path = join(dir, "roundtrip.gguf");
    await writeSample(path);
    const header = await readGgufHeader(path, { eagerArrays: true });
    const expected = everyValueType();
    expect([...header.metadata.keys()]).toEqual([...expected.keys()]);
    const plain = (v: unknown): unknown =>
      ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<unknown>) : Array.isArray(v) ? v.map(plain) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).filter(([k]) => k === "itemType" || k === "length" || k === "items").map(([k, x]) => [k, plain(x)])) : v;
    for (const [key, v] of expected) {
      const got = header.metadata.get(key)!;
      expect(got.type, key).toBe(v.type);
      expect(plain(got.value), key).toEqual(plain(v.value));
    }
    expect(header.tensors.map((t) => ({ name: t.name, shape: t.shape, type: t.type, size: t.size }))).toEqual(
      TENSORS.map((t, i) => ({ ...t, size: SIZES[i] })),
    );
  });

  it("rewriting every reference GGUF (gguf-py and llama-quantize outputs) from its decoded header gives the same bytes", async () => {
    const files = [join(SHARED, "golden/quant/gguf/tiny2.f16.gguf"), join(SHARED, "golden/quant/gguf/tiny2.Q4_K_M.gguf")];
    const ref = join(SHARED, "fixtures/ref");
    for (const model of readdirSync(ref)) for (const f of readdirSync(join(ref, model))) if (f.endsWith(".gguf")) files.push(join(ref, model, f));
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const original = readFileSync(file);
      const header = await readGgufHeader(file, { eagerArrays: true });
      const out = join(dir, "rewrite.gguf");
      const w = await createGgufWriter(out, { metadata: header.metadata, tensors: header.tensors, alignment: header.alignment, version: header.version });
      for (const t of header.tensors) await w.writeTensorData(original.subarray(header.dataOffset + t.offset, header.dataOffset + t.offset + t.size));
      const r = await w.finish();
      expect(r.sha256, file).toBe(createHash("sha256").update(original).digest("hex"));
      expect(r.size, file).toBe(original.length);
    }
  });
});
