/**
 * `convert` against llama.cpp itself: for every fixture and every type llama.cpp made
 * (its converter for F32/F16/BF16/Q8_0, llama-quantize on the F32 conversion for Q4_0/Q4_K_M),
 * our file must have the sha256 recorded in llamacpp-reference.json: the same bytes, whole file.
 * Where the reference file is stored, a mismatch is explained key by key and tensor by tensor.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { convertHfFolder } from "../src/convert/convert.ts";
import { readGgufHeader } from "../src/formats/gguf/reader.ts";
import type { GgufHeader } from "../src/formats/gguf/types.ts";
import { parseMixture } from "../src/quant/mixtures.ts";
import { SHARED } from "./helpers/cli.ts";

const FIXTURES = ["llama3-tiny", "llama2-spm", "mistral-tiny", "qwen2-tiny", "qwen3-realtok", "gemma2-tiny", "phi3-tiny"];

interface ReferenceFile {
  type: string;
  file: string;
  sha256: string;
  included: boolean;
}

const work = mkdtempSync(join(tmpdir(), "gguf-tool-convert-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function jsonable(v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
  if (Array.isArray(v)) return v.map(jsonable);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonable(x)]));
  return v;
}

async function tensorBytes(path: string, header: GgufHeader, name: string): Promise<Buffer> {
  const t = header.tensors.find((x) => x.name === name)!;
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(t.size);
    await fh.read(buf, 0, t.size, header.dataOffset + t.offset);
    return buf;
  } finally {
    await fh.close();
  }
}

/** Explains how two GGUFs differ: metadata (order, types, values), tensor list, tensor bytes. */
async function explainDifference(ours: string, ref: string): Promise<void> {
  const a = await readGgufHeader(ours, { eagerArrays: true });
  const b = await readGgufHeader(ref, { eagerArrays: true });
  expect([...a.metadata.keys()]).toEqual([...b.metadata.keys()]);
  for (const [key, value] of b.metadata) expect({ key, ...(jsonable(a.metadata.get(key)) as object) }).toEqual({ key, ...(jsonable(value) as object) });
  expect(a.tensors.map((t) => [t.name, t.type, t.shape])).toEqual(b.tensors.map((t) => [t.name, t.type, t.shape]));
  for (const t of b.tensors) {
    const [x, y] = [await tensorBytes(ours, a, t.name), await tensorBytes(ref, b, t.name)];
    expect(x.equals(y), `tensor ${t.name} bytes`).toBe(true);
  }
}

describe("convert matches llama.cpp byte for byte", () => {
  for (const fixture of FIXTURES) {
    const refDir = join(SHARED, "fixtures/ref", fixture);
    const reference = JSON.parse(readFileSync(join(refDir, "llamacpp-reference.json"), "utf8")) as { files: ReferenceFile[] };
    for (const file of reference.files) {
      it(`${fixture} ${file.type}`, async () => {
        const mixture = parseMixture(file.type)!;
        expect(mixture).toBeDefined();
        const out = join(work, `${fixture}.${file.type}.gguf`);
        const result = await convertHfFolder(join(SHARED, "fixtures/hf", fixture), { mixture, output: out, threads: 1 });
        if (result.sha256 !== file.sha256 && file.included) await explainDifference(out, join(refDir, file.file));
        expect(result.sha256).toBe(file.sha256);
        rmSync(out);
      });
    }
  }
});
