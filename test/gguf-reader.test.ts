import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gguf } from "@huggingface/gguf";
import { describe, expect, it } from "vitest";
import { getArchitecture, getNumber, getString } from "../src/formats/gguf/metadata.ts";
import { readGgufArrayItems, readGgufHeader, readGgufStringsAt } from "../src/formats/gguf/reader.ts";
import { GgufValueType, type GgufArrayItems, type GgufArrayValue, type GgufValue } from "../src/formats/gguf/types.ts";
import { SHARED } from "./helpers/cli.ts";

/** Every GGUF the issue names: llama.cpp's reference files and the quantization goldens. */
function referenceGgufs(): string[] {
  const out: string[] = [];
  const ref = join(SHARED, "fixtures/ref");
  for (const dir of readdirSync(ref)) {
    for (const f of readdirSync(join(ref, dir))) if (f.endsWith(".gguf")) out.push(join(ref, dir, f));
  }
  const golden = join(SHARED, "golden/quant/gguf");
  for (const f of readdirSync(golden)) if (f.endsWith(".gguf")) out.push(join(golden, f));
  return out.sort();
}

/** Our value as @huggingface/gguf returns it: plain arrays, bigint for 64-bit integers. */
function plain(v: GgufValue): unknown {
  return v.type === GgufValueType.ARRAY ? plainArray(v.value) : v.value;
}

function plainArray(a: GgufArrayValue): unknown[] {
  if (a.items === undefined) throw new Error("lazy array in an eager read");
  return plainItems(a.items);
}

function plainItems(items: GgufArrayItems): unknown[] {
  return Array.from(items as ArrayLike<unknown>, (x) => (typeof x === "object" && x !== null ? plainArray(x as GgufArrayValue) : x));
}

const files = referenceGgufs();

describe("readGgufHeader on the reference GGUFs", () => {
  it("finds the fixtures", () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
  });

  for (const file of files) {
    const name = file.slice(SHARED.length);
    it(`${name}: metadata and tensor infos equal @huggingface/gguf's`, async () => {
      const ours = await readGgufHeader(file, { eagerArrays: true });
      const theirs = await gguf(file, { allowLocalFile: true });
      const { version, tensor_count, kv_count, ...theirMetadata } = theirs.metadata as Record<string, unknown>;
      expect(ours.version).toBe(version);
      expect(BigInt(ours.tensors.length)).toBe(tensor_count);
      expect(BigInt(ours.metadata.size)).toBe(kv_count);
      expect([...ours.metadata.keys()]).toEqual(Object.keys(theirMetadata));
      for (const [key, value] of ours.metadata) expect(plain(value), key).toEqual(theirMetadata[key]);
      expect(BigInt(ours.dataOffset)).toBe(theirs.tensorDataOffset);
      expect(ours.tensors.map((t) => ({ name: t.name, n_dims: t.shape.length, shape: t.shape.map(BigInt), dtype: t.type, offset: BigInt(t.offset) }))).toEqual(
        theirs.tensorInfos,
      );
      // writers pad every tensor, the last one included: the sizes we compute must tile the data section
      const last = ours.tensors.reduce((a, b) => (a.offset > b.offset ? a : b));
      expect(Math.ceil((last.offset + last.size) / ours.alignment) * ours.alignment).toBe(ours.fileSize - ours.dataOffset);
    });
  }
});

describe("lazy arrays", () => {
  const realtok = join(SHARED, "fixtures/ref/qwen3-realtok/qwen3-realtok.q8_0.gguf");

  it("keeps long arrays lazy and decodes them on demand to the eager items", async () => {
    const lazy = await readGgufHeader(realtok);
    const eager = await readGgufHeader(realtok, { eagerArrays: true });
    let lazyCount = 0;
    for (const [key, v] of lazy.metadata) {
      if (v.type !== GgufValueType.ARRAY) continue;
      const e = eager.metadata.get(key)!;
      if (v.value.length > 1024) {
        lazyCount++;
        expect(v.value.items).toBeUndefined();
        const items = await readGgufArrayItems(realtok, v.value);
        expect(plainItems(items)).toEqual(plain(e));
      }
    }
    expect(lazyCount).toBe(3); // tokens, token types, merges
    const tokens = await readGgufArrayItems(realtok, (lazy.metadata.get("tokenizer.ggml.tokens")!.value as GgufArrayValue));
    expect(tokens.length).toBe(151936);
    expect((tokens as string[])[151643]).toBe("<|endoftext|>");
  });

  it("picks single strings out of a lazy array (readGgufStringsAt) as the full decode has them", async () => {
    const lazy = await readGgufHeader(realtok);
    const tokens = lazy.metadata.get("tokenizer.ggml.tokens")!.value as GgufArrayValue;
    expect(tokens.itemOffsets!.offsets).toHaveLength(Math.ceil(151936 / tokens.itemOffsets!.stride));
    const all = (await readGgufArrayItems(realtok, tokens)) as string[];
    const indices = [0, 1, 1023, 1024, 1025, 2047, 50000, 151643, 151645, 151935];
    const picked = await readGgufStringsAt(realtok, tokens, [...indices, -1, 151936]);
    expect([...picked.keys()].sort((a, b) => a - b)).toEqual(indices);
    for (const i of indices) expect(picked.get(i), String(i)).toBe(all[i]);
  });

  it("honours lazyArrayThreshold", async () => {
    const h = await readGgufHeader(realtok, { lazyArrayThreshold: 1_000_000 });
    const tokens = h.metadata.get("tokenizer.ggml.tokens")!.value as GgufArrayValue;
    expect(tokens.items).toHaveLength(151936);
  });
});

describe("metadata accessors", () => {
  it("read typed values and reject wrong types", async () => {
    const h = await readGgufHeader(join(SHARED, "fixtures/ref/qwen3-realtok/qwen3-realtok.q8_0.gguf"));
    expect(getArchitecture(h.metadata)).toBe("qwen3");
    expect(getNumber(h.metadata, "qwen3.context_length")).toBe(40960);
    expect(getString(h.metadata, "no.such.key")).toBeUndefined();
    expect(() => getNumber(h.metadata, "general.name")).toThrow(/general.name: metadata value has type STRING, expected a number/);
  });
});

describe("GGUF v1", () => {
  it("reads 32-bit counts and lengths as @huggingface/gguf does", async () => {
    // v1: uint32 tensor/KV counts, string lengths, array lengths and dimensions; uint64 offsets
    const parts: Buffer[] = [];
    const u32 = (v: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(v);
      parts.push(b);
    };
    const str = (v: string) => {
      u32(Buffer.byteLength(v));
      parts.push(Buffer.from(v));
    };
    parts.push(Buffer.from("GGUF"));
    u32(1); // version
    u32(1); // tensors
    u32(3); // key/value pairs
    str("general.architecture");
    u32(GgufValueType.STRING);
    str("llama");
    str("llama.context_length");
    u32(GgufValueType.UINT32);
    u32(2048);
    str("tokenizer.ggml.tokens");
    u32(GgufValueType.ARRAY);
    u32(GgufValueType.STRING);
    u32(2000); // longer than the lazy threshold: v1 arrays are decoded anyway
    for (let i = 0; i < 2000; i++) str(`t${i}`);
    str("w");
    u32(2);
    u32(32);
    u32(2);
    u32(0); // F32
    parts.push(Buffer.alloc(8)); // offset 0
    const header = Buffer.concat(parts);
    const dataOffset = Math.ceil(header.length / 32) * 32;
    const dir = mkdtempSync(join(tmpdir(), "gguf-v1-"));
    try {
      const path = join(dir, "v1.gguf");
      writeFileSync(path, Buffer.concat([header, Buffer.alloc(dataOffset - header.length + 256)]));
      const ours = await readGgufHeader(path);
      const theirs = await gguf(path, { allowLocalFile: true });
      expect(ours.version).toBe(1);
      expect(BigInt(ours.dataOffset)).toBe(theirs.tensorDataOffset);
      expect(ours.tensors).toEqual([{ name: "w", shape: [32, 2], type: 0, offset: 0, size: 256 }]);
      const tokens = ours.metadata.get("tokenizer.ggml.tokens")!.value as GgufArrayValue;
      expect(tokens.items).toEqual((theirs.metadata as Record<string, unknown>)["tokenizer.ggml.tokens"]);
      expect(getNumber(ours.metadata, "llama.context_length")).toBe(2048);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
