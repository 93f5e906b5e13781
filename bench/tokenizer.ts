/**
 * The tokenizer half of `convert` on the real Qwen3 vocabulary (qwen3-realtok: an 11 MB
 * tokenizer.json, 151,669 tokens padded to 151,936, 151,387 merges): everything `loadVocab` does,
 * fingerprint included. Target (issue 4): well under a second. MB/s = tokenizer.json bytes per second.
 */
import { statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { loadVocab } from "../src/convert/tokenizer/vocab.ts";
import { measure } from "./measure.ts";
import type { BenchOptions, BenchResult } from "./types.ts";

const DIR = fileURLToPath(new URL("../../shared/fixtures/hf/qwen3-realtok", import.meta.url));
const BUDGET_MS = 1000;

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const config = JSON.parse(await readFile(`${DIR}/config.json`, "utf8")) as Record<string, unknown>;
  const bytesPerOp = statSync(`${DIR}/tokenizer.json`).size;
  const results = await measure("tokenizer", [{ name: "loadVocab qwen3-realtok", bytesPerOp, fn: () => loadVocab(DIR, config) }], opts, {
    time: opts.short ? 1500 : 5000,
    iterations: opts.short ? 2 : 5,
  });
  for (const r of results) {
    if (r.meanMs !== undefined) r.note = `${r.meanMs < BUDGET_MS ? "within" : "OVER"} the ${BUDGET_MS} ms budget`;
  }
  return results;
}
