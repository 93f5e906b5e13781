import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ToolError } from "../src/formats/errors.ts";
import { readGgufHeader } from "../src/formats/gguf/reader.ts";
import { openHfFolder } from "../src/formats/safetensors/hf-folder.ts";
import { readSafetensorsHeader } from "../src/formats/safetensors/reader.ts";
import { SAFETENSORS_DTYPE_SIZE } from "../src/formats/safetensors/types.ts";
import { SHARED } from "./helpers/cli.ts";

interface Reference {
  n_parameters: number;
  architecture: string;
  safetensors_files: string[];
  tensors: Array<{ name: string; file: string; dtype: string; shape: number[] }>;
}

const HF = join(SHARED, "fixtures/hf");
const tmp = mkdtempSync(join(tmpdir(), "st-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A safetensors file from a header object and a data section of `dataBytes` bytes. */
function writeSafetensors(name: string, header: unknown, dataBytes: number, rawHeader?: string): string {
  const json = Buffer.from(rawHeader ?? JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const path = join(tmp, name);
  writeFileSync(path, Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
  return path;
}

async function errorOf(p: Promise<unknown>): Promise<ToolError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ToolError) return err;
    throw err;
  }
  throw new Error("expected a ToolError");
}

describe("openHfFolder on the fixtures", () => {
  for (const name of readdirSync(HF).sort()) {
    it(`${name}: parameter count and tensor list of reference.json`, async () => {
      const ref = JSON.parse(readFileSync(join(SHARED, "fixtures/ref", name, "reference.json"), "utf8")) as Reference;
      const model = await openHfFolder(join(HF, name));
      expect(model.architecture).toBe(ref.architecture);
      expect(model.parameterCount).toBe(ref.n_parameters);
      expect(model.files.map((f) => f.path)).toEqual(ref.safetensors_files.map((f) => join(HF, name, f)));
      const ours = [...model.tensors.values()].map((t) => ({ name: t.name, file: t.file.slice(join(HF, name).length + 1), dtype: t.dtype, shape: t.shape }));
      const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
      expect(ours.sort(byName)).toEqual([...ref.tensors].sort(byName));
      for (const t of model.tensors.values()) {
        const f = model.files.find((x) => x.path === t.file)!;
        expect(t.fileOffset).toBeGreaterThanOrEqual(f.dataOffset);
        expect(t.fileOffset + t.byteLength).toBeLessThanOrEqual(f.fileSize);
      }
    });
  }

  it("points fileOffset at the tensor's bytes (llama3-tiny's final norm equals the F32 copy llama.cpp wrote)", async () => {
    const model = await openHfFolder(join(HF, "llama3-tiny"));
    const t = model.tensors.get("model.norm.weight")!;
    expect(t.dtype).toBe("BF16");
    const bf16 = readFileSync(t.file).subarray(t.fileOffset, t.fileOffset + t.byteLength);
    const gguf = join(SHARED, "fixtures/ref/llama3-tiny/llama3-tiny.f16.gguf");
    const header = await readGgufHeader(gguf);
    const norm = header.tensors.find((x) => x.name === "output_norm.weight")!;
    const start = header.dataOffset + norm.offset;
    const f32 = readFileSync(gguf).subarray(start, start + norm.size);
    expect(bf16.length * 2).toBe(f32.length);
    for (let i = 0; i < 256; i++) expect(f32.readUInt32LE(4 * i)).toBe(bf16.readUInt16LE(2 * i) << 16 >>> 0);
    expect(model.files[0].metadata).toEqual({ format: "pt" });
  });
});

describe("safetensors validation", () => {
  it("reads every dtype with its size", async () => {
    const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
    let offset = 0;
    for (const [dtype, size] of Object.entries(SAFETENSORS_DTYPE_SIZE)) {
      header[`t.${dtype}`] = { dtype, shape: [2, 3], data_offsets: [offset, offset + 6 * size] };
      offset += 6 * size;
    }
    const f = await readSafetensorsHeader(writeSafetensors("all.safetensors", header, offset));
    expect(f.tensors.map((t) => t.dtype)).toEqual(Object.keys(SAFETENSORS_DTYPE_SIZE));
    expect(f.tensors.find((t) => t.dtype === "F8_E4M3")!.byteLength).toBe(6);
    expect(f.metadata).toEqual({ format: "pt" });
  });

  const cases: Array<[string, () => string, RegExp]> = [
    ["bad JSON", () => writeSafetensors("badjson.safetensors", null, 16, '{"a": {'), /header at byte 8 is not valid JSON/],
    ["offsets out of range", () => writeSafetensors("oob.safetensors", { a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, 8), /tensor a: data ends at byte \d+, past the end of the file/],
    ["wrong byte length", () => writeSafetensors("len.safetensors", { a: { dtype: "F32", shape: [4], data_offsets: [0, 12] } }, 16), /shape \[4\] of F32 needs 16 bytes but data_offsets \[0, 12\] hold 12/],
    ["overlap", () => writeSafetensors("ovl.safetensors", { a: { dtype: "F32", shape: [4], data_offsets: [0, 16] }, b: { dtype: "F32", shape: [2], data_offsets: [8, 16] } }, 16), /tensor b overlaps tensor a/],
    ["unknown dtype", () => writeSafetensors("dt.safetensors", { a: { dtype: "F4", shape: [4], data_offsets: [0, 2] } }, 16), /tensor a: unknown dtype "F4"/],
    ["negative shape", () => writeSafetensors("neg.safetensors", { a: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, 16), /shape \[-1\] is not a list/],
    ["bad metadata", () => writeSafetensors("md.safetensors", { __metadata__: { a: 1 } }, 0), /__metadata__ value of a is not a string/],
    ["not an object", () => writeSafetensors("arr.safetensors", [1, 2], 0), /not a JSON object/],
  ];
  for (const [what, make, message] of cases) {
    it(`rejects ${what} with a one-line error naming the file`, async () => {
      const path = make();
      const err = await errorOf(readSafetensorsHeader(path));
      expect(err.subject).toBe(path);
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain("\n");
    });
  }

  it("rejects a header length beyond the file and over 100 MB before allocating", async () => {
    const path = join(tmp, "huge.safetensors");
    const buf = Buffer.alloc(64);
    buf.writeBigUInt64LE(1000n);
    writeFileSync(path, buf);
    expect((await errorOf(readSafetensorsHeader(path))).detail).toBe("header length 1000 at byte 0 runs past the end of the file (64 bytes)");
    buf.writeBigUInt64LE(2n ** 63n);
    writeFileSync(path, buf);
    expect((await errorOf(readSafetensorsHeader(path))).detail).toMatch(/header length 9223372036854775808 at byte 0 is over the 100 MB limit/);
    writeFileSync(path, "abc");
    expect((await errorOf(readSafetensorsHeader(path))).detail).toMatch(/not a safetensors file: only 3 bytes/);
  });
});

describe("safetensors random byte flips", () => {
  it("either read or give a one-line ToolError", async () => {
    const original = readFileSync(join(HF, "mistral-tiny/model.safetensors"));
    const headerEnd = 8 + Number(original.readBigUInt64LE(0));
    const path = join(tmp, "flipped.safetensors");
    let seed = 777;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    let failures = 0;
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.from(original);
      for (let j = 0; j < 1 + Math.floor(random() * 3); j++) bytes[Math.floor(random() * headerEnd)] = Math.floor(random() * 256);
      writeFileSync(path, bytes);
      try {
        await readSafetensorsHeader(path);
      } catch (err) {
        if (!(err instanceof ToolError)) throw new Error(`flip ${i}: not a ToolError: ${String(err)}`);
        expect(err.message).not.toContain("\n");
        failures++;
      }
    }
    expect(failures).toBeGreaterThan(50);
  });
});

describe("Hugging Face folder errors", () => {
  it("names a missing shard", async () => {
    const dir = join(tmp, "missing-shard");
    mkdirSync(dir);
    const src = join(HF, "llama3-tiny");
    for (const f of ["config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors"]) copyFileSync(join(src, f), join(dir, f));
    const err = await errorOf(openHfFolder(dir));
    expect(err.subject).toBe(join(dir, "model-00002-of-00002.safetensors"));
    expect(err.detail).toBe("missing: shard listed in model.safetensors.index.json");
  });

  it("rejects an index entry whose tensor is not in its shard", async () => {
    const dir = join(tmp, "wrong-shard");
    mkdirSync(dir);
    const src = join(HF, "llama3-tiny");
    for (const f of readdirSync(src)) copyFileSync(join(src, f), join(dir, f));
    const index = JSON.parse(readFileSync(join(dir, "model.safetensors.index.json"), "utf8"));
    index.weight_map["model.norm.weight"] = "model-00001-of-00002.safetensors";
    writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify(index));
    const err = await errorOf(openHfFolder(dir));
    expect(err.message).toMatch(/model-00001-of-00002.safetensors: tensor model.norm.weight listed in model.safetensors.index.json is not in this shard/);
  });

  it("rejects a shard path leaving the folder", async () => {
    const dir = join(tmp, "escape");
    mkdirSync(dir);
    writeFileSync(join(dir, "config.json"), "{}");
    writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ weight_map: { a: "../x.safetensors" } }));
    expect((await errorOf(openHfFolder(dir))).detail).toMatch(/weight_map entry of a is not a file name/);
  });

  it("reports a folder without config.json or weights", async () => {
    const dir = join(tmp, "empty");
    mkdirSync(dir);
    expect((await errorOf(openHfFolder(dir))).message).toBe(`${join(dir, "config.json")}: no such file or directory`);
    writeFileSync(join(dir, "config.json"), "{}");
    expect((await errorOf(openHfFolder(dir))).detail).toMatch(/no weights/);
  });
});
