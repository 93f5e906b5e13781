import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ToolError } from "../src/formats/errors.ts";
import { encodeGgufHeader } from "../src/formats/gguf/header-encoder.ts";
import { readGgufHeader } from "../src/formats/gguf/reader.ts";
import { parseGgufShardName, readGgufModel } from "../src/formats/gguf/split.ts";
import { GgufValueType, type GgufMetadata, type GgufTensorInfo } from "../src/formats/gguf/types.ts";
import { summarizeGguf } from "../src/inspect/gguf-summary.ts";
import { SHARED } from "./helpers/cli.ts";

const SOURCE = join(SHARED, "fixtures/ref/llama3-tiny/llama3-tiny.q8_0.gguf");
const tmp = mkdtempSync(join(tmpdir(), "gguf-split-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes the source as `count` shards the way gguf-split lays them out (all KVs in shard 1). */
async function writeSplit(prefix: string, count: number): Promise<string[]> {
  const src = await readGgufHeader(SOURCE, { eagerArrays: true });
  const bytes = readFileSync(SOURCE);
  const per = Math.ceil(src.tensors.length / count);
  const paths: string[] = [];
  for (let s = 0; s < count; s++) {
    const tensors = src.tensors.slice(s * per, (s + 1) * per);
    const md: GgufMetadata = s === 0 ? new Map(src.metadata) : new Map();
    md.set("split.no", { type: GgufValueType.UINT16, value: s });
    md.set("split.count", { type: GgufValueType.UINT16, value: count });
    md.set("split.tensors.count", { type: GgufValueType.INT32, value: src.tensors.length });
    let offset = 0;
    const placed = tensors.map((t: GgufTensorInfo) => {
      const at = offset;
      offset += Math.ceil(t.size / src.alignment) * src.alignment;
      return { name: t.name, shape: t.shape, type: t.type, offset: at };
    });
    const header = encodeGgufHeader(3, md, placed);
    const dataOffset = Math.ceil(header.length / src.alignment) * src.alignment;
    const out = Buffer.alloc(dataOffset + offset);
    header.copy(out);
    tensors.forEach((t, i) => bytes.copy(out, dataOffset + placed[i].offset, src.dataOffset + t.offset, src.dataOffset + t.offset + t.size));
    const path = join(tmp, `${prefix}-${String(s + 1).padStart(5, "0")}-of-${String(count).padStart(5, "0")}.gguf`);
    writeFileSync(path, out);
    paths.push(path);
  }
  return paths;
}

describe("split GGUFs", () => {
  it("recognises shard names", () => {
    expect(parseGgufShardName("/m/Qwen3-8B-Q4_K_M-00002-of-00003.gguf")).toEqual({ prefix: "Qwen3-8B-Q4_K_M", index: 2, count: 3 });
    expect(parseGgufShardName("model.gguf")).toBeUndefined();
    expect(parseGgufShardName("m-00004-of-00003.gguf")).toBeUndefined();
  });

  it("reads every shard from any one of them and summarises them as one model", async () => {
    const paths = await writeSplit("tiny", 3);
    const whole = await readGgufModel(SOURCE);
    const split = await readGgufModel(paths[1]);
    expect(split.shards.map((h) => h.path)).toEqual(paths);
    expect(split.tensors.map((t) => [t.name, t.type, t.shape, t.size])).toEqual(whole.tensors.map((t) => [t.name, t.type, t.shape, t.size]));
    expect(split.tensors.map((t) => t.shard)).toContain(2);
    const [a, b] = [await summarizeGguf(whole), await summarizeGguf(split)];
    expect(b.parameterCount).toBe(a.parameterCount);
    expect(b.tensorTypes).toEqual(a.tensorTypes);
    expect(b.architecture).toBe("llama");
    expect(b.files).toBe(3);
    expect(b.fileSize).toBe(split.shards.reduce((s, h) => s + h.fileSize, 0));
  });

  it("names a missing shard", async () => {
    const paths = await writeSplit("gap", 3);
    rmSync(paths[2]);
    const err = await readGgufModel(paths[0]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).message).toBe(`${paths[2]}: missing: shard 3 of 3 of gap-00001-of-00003.gguf`);
  });
});
