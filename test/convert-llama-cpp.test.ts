/**
 * A real loader: every converted fixture runs in llama.cpp (node-llama-cpp's prebuilt CPU build),
 * and its next-token logits for the reference prompts match the ones torch computed in float32
 * (logits-*.f32.bin): max |diff| <= 1e-4 for F32 and <= 2e-2 for F16, same top-1. Gemma's GELU is
 * approximate in ggml, so there the bound is 1.5x llama.cpp's own recorded error.
 * Tokenizing the fixtures' test strings with our GGUF gives the ids llama.cpp's own reference GGUF
 * gives, which are the tokenizers library's ids except where the fixtures README says llama.cpp differs.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Llama } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertHfFolder } from "../src/convert/convert.ts";
import type { MixtureName } from "../src/quant/mixtures.ts";
import { SHARED } from "./helpers/cli.ts";
import { argmax, lastLogits, maxAbsDiff, readF32, startLlama } from "./helpers/llama-cpp.ts";

const FIXTURES = ["llama3-tiny", "llama2-spm", "mistral-tiny", "qwen2-tiny", "qwen3-realtok", "gemma2-tiny", "phi3-tiny"];
const BOUND: Record<string, number> = { F32: 1e-4, F16: 2e-2 };

interface Prompt {
  name: string;
  ids: number[];
  logits_file: string;
  top5_ids: number[];
}

const work = mkdtempSync(join(tmpdir(), "gguf-tool-llama-"));
let llama: Llama;
beforeAll(async () => {
  llama = await startLlama();
});
afterAll(async () => {
  await llama?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe("converted GGUFs run in llama.cpp with the reference logits", () => {
  for (const fixture of FIXTURES) {
    const refDir = join(SHARED, "fixtures/ref", fixture);
    const reference = JSON.parse(readFileSync(join(refDir, "reference.json"), "utf8")) as { prompts: Prompt[] };
    const recorded = JSON.parse(readFileSync(join(refDir, "llamacpp-reference.json"), "utf8")) as {
      files: Array<{ type: string; llama_cpp_vs_torch: Record<string, { max_abs_diff: number }> }>;
    };
    for (const mixture of ["F32", "F16"] as MixtureName[]) {
      it(`${fixture} ${mixture}`, async () => {
        const out = join(work, `${fixture}.${mixture}.gguf`);
        await convertHfFolder(join(SHARED, "fixtures/hf", fixture), { mixture, output: out, threads: 1 });
        const model = await llama.loadModel({ modelPath: out, gpuLayers: 0 });
        try {
          for (const prompt of reference.prompts) {
            const expected = readF32(join(refDir, prompt.logits_file));
            const logits = await lastLogits(model, prompt.ids, expected.length);
            const own = recorded.files.find((f) => f.type === mixture.toLowerCase())!.llama_cpp_vs_torch[prompt.name].max_abs_diff;
            const bound = fixture.startsWith("gemma") ? 1.5 * own : BOUND[mixture];
            expect(maxAbsDiff(logits, expected), `${prompt.name} max |diff|`).toBeLessThanOrEqual(bound);
            expect(argmax(logits), `${prompt.name} top-1`).toBe(prompt.top5_ids[0]);
          }
        } finally {
          await model.dispose();
          rmSync(out);
        }
      });
    }
  }
});

describe("converted GGUFs tokenize as llama.cpp's own GGUFs do", () => {
  for (const fixture of FIXTURES) {
    it(fixture, async () => {
      const refDir = join(SHARED, "fixtures/ref", fixture);
      const encodings = JSON.parse(readFileSync(join(refDir, "tokenizer-encodings.json"), "utf8")) as {
        cases: Array<{ text: string; ids: number[] }>;
      };
      const check = JSON.parse(readFileSync(join(refDir, "llamacpp-reference.json"), "utf8")).llama_cpp_tokenizer_check as { mismatches: string[] };
      const out = join(work, `${fixture}.tok.gguf`);
      await convertHfFolder(join(SHARED, "fixtures/hf", fixture), { mixture: "Q8_0", output: out, threads: 1 });
      const ours = await llama.loadModel({ modelPath: out, gpuLayers: 0, vocabOnly: true });
      const theirs = await llama.loadModel({ modelPath: join(refDir, `${fixture}.q8_0.gguf`), gpuLayers: 0, vocabOnly: true });
      try {
        for (const c of encodings.cases) {
          const ids = [...ours.tokenize(c.text, false)];
          expect(ids, JSON.stringify(c.text)).toEqual([...theirs.tokenize(c.text, false)]);
          // llama.cpp agrees with the tokenizers library except in the cases the fixture lists
          if (!check.mismatches.some((m) => m.includes(JSON.stringify(c.text).slice(1, -1)))) expect(ids, JSON.stringify(c.text)).toEqual(c.ids);
        }
      } finally {
        await ours.dispose();
        await theirs.dispose();
        rmSync(out);
      }
    });
  }
});
