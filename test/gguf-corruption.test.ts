/**
 * Bad bytes never crash, hang or allocate: a small GGUF with every value type, truncated at every
 * header offset, with random byte flips, absurd counts and lengths, strings past the end, tensors
 * past the end, misaligned and overlapping. Each must be one ToolError line naming the file.
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ToolError } from "../src/formats/errors.ts";
import { encodeGgufHeader, type EncodedTensorInfo } from "../src/formats/gguf/header-encoder.ts";
import { readGgufArrayItems, readGgufHeader } from "../src/formats/gguf/reader.ts";
import { GgmlType, GgufValueType, type GgufArrayValue, type GgufMetadata } from "../src/formats/gguf/types.ts";

const tmp = mkdtempSync(join(tmpdir(), "gguf-corrupt-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const arr = (itemType: GgufValueType, items: GgufArrayValue["items"]): GgufArrayValue => ({ itemType, length: items!.length, items });

/** Every value type, nested arrays, a long (lazy) string array, and three tensors. */
function sampleMetadata(): GgufMetadata {
  const md: GgufMetadata = new Map();
  md.set("general.architecture", { type: GgufValueType.STRING, value: "llama" });
  md.set("general.alignment", { type: GgufValueType.UINT32, value: 64 });
  md.set("t.u8", { type: GgufValueType.UINT8, value: 200 });
  md.set("t.i8", { type: GgufValueType.INT8, value: -100 });
  md.set("t.u16", { type: GgufValueType.UINT16, value: 60000 });
  md.set("t.i16", { type: GgufValueType.INT16, value: -30000 });
  md.set("t.u32", { type: GgufValueType.UINT32, value: 4000000000 });
  md.set("t.i32", { type: GgufValueType.INT32, value: -2000000000 });
  md.set("t.f32", { type: GgufValueType.FLOAT32, value: 0.5 });
  md.set("t.bool", { type: GgufValueType.BOOL, value: true });
  md.set("t.str", { type: GgufValueType.STRING, value: "héllo wörld" });
  md.set("t.u64", { type: GgufValueType.UINT64, value: 2n ** 63n + 5n });
  md.set("t.i64", { type: GgufValueType.INT64, value: -(2n ** 62n) });
  md.set("t.f64", { type: GgufValueType.FLOAT64, value: Math.PI });
  md.set("t.arr_f32", { type: GgufValueType.ARRAY, value: arr(GgufValueType.FLOAT32, new Float32Array([1, 2, 3])) });
  md.set("t.arr_bool", { type: GgufValueType.ARRAY, value: arr(GgufValueType.BOOL, [true, false]) });
  md.set("t.arr_u64", { type: GgufValueType.ARRAY, value: arr(GgufValueType.UINT64, new BigUint64Array([1n, 2n ** 64n - 1n])) });
  md.set("t.nested", {
    type: GgufValueType.ARRAY,
    value: arr(GgufValueType.ARRAY, [arr(GgufValueType.INT16, new Int16Array([1, -1])), arr(GgufValueType.STRING, ["a", "bc"])]),
  });
  md.set("t.tokens", { type: GgufValueType.ARRAY, value: arr(GgufValueType.STRING, Array.from({ length: 40 }, (_, i) => `tok${i}`)) });
  return md;
}

const TENSORS: EncodedTensorInfo[] = [
  { name: "a.weight", shape: [4, 2], type: GgmlType.F32, offset: 0 },
  { name: "b.weight", shape: [32, 2], type: GgmlType.Q8_0, offset: 64 },
  { name: "c.bias", shape: [8], type: GgmlType.F16, offset: 192 },
];

/** A valid file: header, padding to 64, then 256 bytes of data (3 tensors, each padded). */
function sampleFile(tensors: EncodedTensorInfo[] = TENSORS, metadata = sampleMetadata()): Buffer {
  const header = encodeGgufHeader(3, metadata, tensors);
  const dataOffset = Math.ceil(header.length / 64) * 64;
  const out = Buffer.alloc(dataOffset + 256);
  header.copy(out);
  for (let i = dataOffset; i < out.length; i++) out[i] = i & 0xff;
  return out;
}

let counter = 0;
function write(bytes: Buffer): string {
  const path = join(tmp, `f${counter++}.gguf`);
  writeFileSync(path, bytes);
  return path;
}

/** The error a read gives; fails the test on success or on anything but a one-line ToolError. */
async function readError(path: string): Promise<ToolError> {
  try {
    await readGgufHeader(path, { lazyArrayThreshold: LAZY });
  } catch (err) {
    if (!(err instanceof ToolError)) throw new Error(`not a ToolError: ${String(err)}`);
    expect(err.subject).toBe(path);
    expect(err.message).not.toContain("\n");
    return err;
  }
  throw new Error(`${path} read without error`);
}

/** Byte offset just after the key string `key` (where its value type starts). */
function afterKey(bytes: Buffer, key: string): number {
  const at = bytes.indexOf(Buffer.from(key));
  if (at < 0) throw new Error(`key ${key} not found`);
  return at + key.length;
}

/** t.tokens (40 strings) is longer than this, so it stays lazy */
const LAZY = 16;
const file = sampleFile();
const headerEnd = encodeGgufHeader(3, sampleMetadata(), TENSORS).length;

describe("the sample file", () => {
  it("reads with every value type intact", async () => {
    const h = await readGgufHeader(write(file), { lazyArrayThreshold: LAZY });
    expect(h.alignment).toBe(64);
    expect(h.dataOffset).toBe(Math.ceil(headerEnd / 64) * 64);
    expect(h.metadata.get("t.u64")!.value).toBe(2n ** 63n + 5n);
    expect(h.metadata.get("t.i64")!.value).toBe(-(2n ** 62n));
    expect(h.metadata.get("t.str")!.value).toBe("héllo wörld");
    expect(Array.from((h.metadata.get("t.arr_u64")!.value as GgufArrayValue).items as BigUint64Array)).toEqual([1n, 2n ** 64n - 1n]);
    const nested = (h.metadata.get("t.nested")!.value as GgufArrayValue).items as GgufArrayValue[];
    expect(Array.from(nested[0].items as Int16Array)).toEqual([1, -1]);
    expect(nested[1].items).toEqual(["a", "bc"]);
    const tokens = h.metadata.get("t.tokens")!.value as GgufArrayValue;
    expect(tokens.items).toBeUndefined();
    expect((await readGgufArrayItems(h.path, tokens))[39]).toBe("tok39");
    expect(h.tensors.map((t) => [t.name, t.size])).toEqual([
      ["a.weight", 32],
      ["b.weight", 68],
      ["c.bias", 16],
    ]);
  });
});

describe("truncation", () => {
  it("gives a one-line error at every header offset and inside the data", async () => {
    const cuts = [];
    for (let n = 0; n < headerEnd; n++) cuts.push(n);
    const dataOffset = Math.ceil(headerEnd / 64) * 64;
    cuts.push(dataOffset, dataOffset + 100, dataOffset + 207); // c.bias ends at data byte 208
    const path = join(tmp, "truncated.gguf");
    for (const n of cuts) {
      writeFileSync(path, file.subarray(0, n));
      const err = await readError(path);
      expect(err.detail).toMatch(/past the end of the file|not a GGUF file: only|bytes but only \d+ remain/);
    }
  });
});

describe("random byte flips", () => {
  it("either read or give a one-line ToolError, quickly and without large allocations", async () => {
    let seed = 12345;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const path = join(tmp, "flipped.gguf");
    const rssBefore = process.memoryUsage().rss;
    let failures = 0;
    for (let i = 0; i < 600; i++) {
      const bytes = Buffer.from(file);
      const flips = 1 + Math.floor(random() * 4);
      for (let j = 0; j < flips; j++) bytes[Math.floor(random() * headerEnd)] = Math.floor(random() * 256);
      writeFileSync(path, bytes);
      const started = performance.now();
      try {
        await readGgufHeader(path, { eagerArrays: i % 2 === 0, lazyArrayThreshold: LAZY });
      } catch (err) {
        if (!(err instanceof ToolError)) throw new Error(`flip ${i}: not a ToolError: ${String(err)}`);
        expect(err.message).not.toContain("\n");
        failures++;
      }
      expect(performance.now() - started).toBeLessThan(10_000); // no hang (generous: the CI machine is shared)
    }
    expect(failures).toBeGreaterThan(100);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(500 * 2 ** 20);
  });
});

describe("absurd counts and lengths (2^63)", () => {
  const huge = 2n ** 63n;
  const cases: Array<[string, (b: Buffer) => void, RegExp]> = [
    ["tensor count", (b) => b.writeBigUInt64LE(huge, 8), /tensor count 9223372036854775808 is too large at byte 8/],
    ["key/value count", (b) => b.writeBigUInt64LE(huge, 16), /metadata key\/value count 9223372036854775808 is too large at byte 16/],
    ["tensor count that fits 2^53 but not the file", (b) => b.writeBigUInt64LE(2n ** 40n, 8), /tensor count 1099511627776 needs at least \d+ bytes but only \d+ remain at byte 8/],
    ["key length", (b) => b.writeBigUInt64LE(huge, 24), /metadata key length 9223372036854775808 is too large at byte 24/],
    ["string value length", (b) => b.writeBigUInt64LE(huge, afterKey(b, "t.str") + 4), /t\.str length 9223372036854775808 is too large/],
    ["array length", (b) => b.writeBigUInt64LE(huge, afterKey(b, "t.arr_f32") + 8), /t\.arr_f32 length 9223372036854775808 is too large/],
    ["lazy array length", (b) => b.writeBigUInt64LE(2n ** 50n, afterKey(b, "t.tokens") + 8), /t\.tokens length 1125899906842624 needs at least \d+ bytes but only \d+ remain/],
    ["nested array length", (b) => b.writeBigUInt64LE(huge, afterKey(b, "t.nested") + 8 + 12), /t\.nested\[0\] length 9223372036854775808 is too large/],
    ["tensor name length", (b) => b.writeBigUInt64LE(huge, b.indexOf(Buffer.from("a.weight")) - 8), /name of tensor 0 length 9223372036854775808 is too large/],
    ["tensor dimension", (b) => b.writeBigUInt64LE(huge, b.indexOf(Buffer.from("a.weight")) + 8 + 4), /dimension 0 of tensor a\.weight 9223372036854775808 is too large/],
    ["tensor offset", (b) => b.writeBigUInt64LE(huge, b.indexOf(Buffer.from("c.bias")) + 6 + 4 + 8 + 4), /data offset of tensor c\.bias 9223372036854775808 is too large/],
  ];
  for (const [what, corrupt, message] of cases) {
    it(`rejects a ${what}`, async () => {
      const bytes = Buffer.from(file);
      corrupt(bytes);
      expect((await readError(write(bytes))).detail).toMatch(message);
    });
  }
});

describe("structural errors", () => {
  const cases: Array<[string, () => Buffer, RegExp]> = [
    ["a string past the end", () => {
      const b = Buffer.from(file);
      b.writeBigUInt64LE(BigInt(b.length), afterKey(b, "t.str") + 4);
      return b;
    }, /t\.str length \d+ runs past the end of the file \(\d+ bytes\) at byte \d+/],
    ["a tensor past the end", () => sampleFile([TENSORS[0], TENSORS[1], { ...TENSORS[2], offset: 256 }]), /tensor c\.bias: data from byte \d+ to \d+ runs past the end of the file/],
    ["overlapping tensors", () => sampleFile([TENSORS[0], { ...TENSORS[1], offset: 0 }, TENSORS[2]]), /tensor (a|b)\.weight overlaps tensor (a|b)\.weight/],
    ["a misaligned tensor", () => sampleFile([TENSORS[0], { ...TENSORS[1], offset: 96 }, TENSORS[2]]), /tensor b\.weight: data offset 96 is not a multiple of the alignment 64/],
    ["a row length not a multiple of the block", () => sampleFile([TENSORS[0], { ...TENSORS[1], shape: [30, 2] }, TENSORS[2]]), /row length 30 is not a multiple of Q8_0's block size 32/],
    ["an unknown tensor type", () => sampleFile([TENSORS[0], { ...TENSORS[1], type: 200 }, TENSORS[2]]), /tensor b\.weight has unknown ggml type 200/],
    ["five dimensions", () => sampleFile([TENSORS[0], TENSORS[1], { ...TENSORS[2], shape: [8, 1, 1, 1, 1] }]), /tensor c\.bias has 5 dimensions \(at most 4\)/],
    ["a duplicate tensor name", () => sampleFile([TENSORS[0], { ...TENSORS[1], name: "a.weight" }, TENSORS[2]]), /duplicate tensor name a\.weight at byte \d+/],
    ["a duplicate key", () => {
      const b = Buffer.from(file);
      b.write("t.i8", b.indexOf(Buffer.from("t.u8")));
      return b;
    }, /duplicate metadata key t\.i8 at byte \d+/],
    ["an unknown value type", () => {
      const b = Buffer.from(file);
      b.writeUInt32LE(13, afterKey(b, "t.u8"));
      return b;
    }, /value type of t\.u8 13 is not a GGUF value type/],
    ["an alignment that is not a power of two", () => {
      const md = sampleMetadata();
      md.set("general.alignment", { type: GgufValueType.UINT32, value: 48 });
      return sampleFile(TENSORS, md);
    }, /general\.alignment 48 is not a power of two/],
    ["an alignment of the wrong type", () => {
      const md = sampleMetadata();
      md.set("general.alignment", { type: GgufValueType.UINT64, value: 64n });
      return sampleFile(TENSORS, md);
    }, /general\.alignment has type UINT64, must be UINT32/],
    ["big-endian byte order", () => {
      const b = Buffer.from(file);
      b.writeUInt32BE(3, 4);
      return b;
    }, /big-endian GGUF \(version 3\) is not supported/],
    ["an unsupported version", () => {
      const b = Buffer.from(file);
      b.writeUInt32LE(4, 4);
      return b;
    }, /unsupported GGUF version 4 at byte 4/],
    ["another format", () => Buffer.from("PK\u0003\u0004 this is a zip file, not a model"), /not a GGUF file: starts with "PK\\u0003\\u0004"/],
  ];
  for (const [what, make, message] of cases) {
    it(`rejects ${what}`, async () => {
      expect((await readError(write(make()))).detail).toMatch(message);
    });
  }

  it("caps tensor counts, array and string lengths whatever the file size (a sparse 1 GiB file)", async () => {
    const array = Buffer.from(file);
    array.writeBigUInt64LE(2n ** 27n, afterKey(array, "t.arr_f32") + 8);
    const arrayPath = write(array);
    truncateSync(arrayPath, 2 ** 30);
    expect((await readError(arrayPath)).detail).toMatch(/t\.arr_f32 length 134217728 is over the limit of 67108864 items at byte \d+/);
    const string = Buffer.from(file);
    string.writeBigUInt64LE(2n ** 27n, afterKey(string, "t.str") + 4);
    const stringPath = write(string);
    truncateSync(stringPath, 2 ** 30);
    expect((await readError(stringPath)).detail).toMatch(/t\.str length 134217728 is over the 67108864-byte limit for a string at byte \d+/);
    const tensors = Buffer.from(file);
    tensors.writeBigUInt64LE(2n ** 21n, 8);
    const tensorsPath = write(tensors);
    truncateSync(tensorsPath, 2 ** 30);
    expect((await readError(tensorsPath)).detail).toBe("tensor count 2097152 is over the limit of 1048576 at byte 8");
  });

  it("names the file for a missing path and a folder", async () => {
    expect((await readError(join(tmp, "nope.gguf"))).detail).toBe("no such file or directory");
    expect((await readError(tmp)).detail).toBe("is a directory, not a file");
  });
});
