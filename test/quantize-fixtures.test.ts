/**
 * `quantize` against llama-quantize on six real architectures: the fixtures' q4_0 and q4_k_m
 * GGUFs were made by `llama-quantize <name>.f32.gguf`, and that F32 file is not stored, so it is
 * rebuilt here with our converter and checked against the sha256 llama.cpp's converter gave it
 * before it is used. Covers tokenizer arrays in the metadata, tied embeddings, biases, fused
 * QKV, and the Q5_0/Q8_0 fallbacks for rows that are not multiples of 256.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { convertHfFolder } from "../src/convert/convert.ts";
import { requantizeGguf } from "../src/quant/requantize.ts";
import { SHARED } from "./helpers/cli.ts";

interface ReferenceFile {
  type: string;
  file: string;
  size: number;
  sha256: string;
}

const MODELS = ["llama3-tiny", "qwen2-tiny", "llama2-spm", "mistral-tiny", "gemma2-tiny", "phi3-tiny"];
const dir = mkdtempSync(join(tmpdir(), "quantize-fixtures-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("quantize equals llama-quantize on the fixtures' F32 GGUFs", () => {
  for (const model of MODELS) {
    it(`${model}: Q4_0 and Q4_K_M byte-identical`, async () => {
      const refDir = join(SHARED, "fixtures/ref", model);
      const files = (JSON.parse(readFileSync(join(refDir, "llamacpp-reference.json"), "utf8")) as { files: ReferenceFile[] }).files;
      const ref = (type: string) => files.find((f) => f.type === type)!;

      const f32 = join(dir, `${model}.f32.gguf`);
      const converted = await convertHfFolder(join(SHARED, "fixtures/hf", model), { mixture: "F32", output: f32, threads: 1 });
      // the input must be exactly llama.cpp's F32 file, else the comparison below means nothing
      expect(converted.sha256, `${model}.f32.gguf from our converter`).toBe(ref("f32").sha256);

      for (const [mixture, type] of [["Q4_0", "q4_0"], ["Q4_K_M", "q4_k_m"]] as const) {
        const out = join(dir, `${model}.${type}.gguf`);
        const result = await requantizeGguf(f32, out, { mixture, threads: 2 });
        const expected = ref(type);
        if (result.sha256 !== expected.sha256) {
          const ours = readFileSync(out);
          const theirs = readFileSync(join(refDir, expected.file));
          expect({ size: ours.length, firstDifferentByte: ours.findIndex((b, i) => b !== theirs[i]) }, `${model} ${mixture}`).toEqual({ size: theirs.length, firstDifferentByte: -1 });
        }
        expect(result.sha256).toBe(expected.sha256);
        expect(createHash("sha256").update(readFileSync(out)).digest("hex")).toBe(expected.sha256);
        expect(result.size).toBe(expected.size);
      }
    });
  }
});
