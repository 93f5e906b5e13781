/**
 * `convert` end to end against `quantize` on the same weights (issue 4 item 6): a synthetic
 * BF16 Llama-shaped Hugging Face folder (8 layers of hidden 4096, ffn 14336, 32 heads, 8 KV
 * heads, vocabulary 32000: 4.0 GB; --short: 2 layers of hidden 512, 14 MB) is converted to
 * Q4_K_M, and to F32, whose GGUF `quantize` then turns into Q4_K_M too. Each job runs in a child
 * process of its own (bench/convert-child.ts) so that its peak RSS is its own.
 * MB/s = input bytes per second: the BF16 safetensors for convert, the F32 GGUF for quantize (the
 * same weights in twice the bytes, so compare the jobs by time, as the ratio does).
 * Targets: peak RSS <= 1 GiB whatever the model size; convert at least as fast as quantize.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, stat, statfs } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildReport } from "./convert-child.ts";
import { type SyntheticLlamaShape, writeSyntheticLlama } from "./hf-synthetic.ts";
import type { BenchOptions, BenchResult } from "./types.ts";

const FULL: SyntheticLlamaShape = { layers: 8, hidden: 4096, ffn: 14336, heads: 32, kvHeads: 8, vocab: 32000, shardBytes: 2e9 };
const SHORT: SyntheticLlamaShape = { layers: 2, hidden: 512, ffn: 1024, heads: 4, kvHeads: 2, vocab: 2048, shardBytes: 6e6 };
/** --short: convert and quantize run twice each, alternating (the model is small) */
const SHORT_ROUNDS = 2;
const RSS_BUDGET_BYTES = 1024 ** 3;
const CHILD = fileURLToPath(new URL("./convert-child.ts", import.meta.url));
const MIB = 1024 * 1024;

/** Runs one job in a child process and returns what it reports. */
function runChild(args: string[]): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`convert-child ${args[0]} exited with ${code}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`));
      else resolve(JSON.parse(stdout) as ChildReport);
    });
  });
}

/** The fastest run, with the highest peak RSS of all runs. */
function fastest(runs: ChildReport[]): ChildReport {
  const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  return { ...best, maxRssBytes: Math.max(...runs.map((r) => r.maxRssBytes)) };
}

function jobResult(name: string, bytesPerOp: number, r: ChildReport, note: string): BenchResult {
  return {
    suite: "convert",
    name,
    status: "ok",
    bytesPerOp,
    mbPerSec: bytesPerOp / 1e6 / r.seconds,
    cpuMbPerSec: bytesPerOp / 1e6 / r.cpuSeconds,
    meanMs: r.seconds * 1000,
    samples: 1,
    note: `peak RSS ${(r.maxRssBytes / MIB).toFixed(0)} MiB; ${note}`,
  };
}

/** A row for a job's peak RSS against the 1 GiB budget (ratio budget / peak: reached at 1 or more). */
function rssResult(job: string, bytesPerOp: number, r: ChildReport): BenchResult {
  return {
    suite: "convert",
    name: `peak RSS, ${job}`,
    status: "ok",
    bytesPerOp,
    note: `${(r.maxRssBytes / MIB).toFixed(0)} MiB`,
    ratio: { against: "1 GiB peak RSS budget", value: RSS_BUDGET_BYTES / r.maxRssBytes, target: 1 },
  };
}

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const shape = opts.short ? SHORT : FULL;
  const dir = await mkdtemp(join(os.tmpdir(), "gguf-tool-bench-convert-"));
  try {
    // the BF16 folder, its F32 GGUF (twice its size) and a Q4_K_M output, with room to spare
    const paramEstimate = 2 * shape.vocab * shape.hidden + shape.layers * shape.hidden * (2 * shape.hidden + (2 * shape.hidden * shape.kvHeads) / shape.heads + 3 * shape.ffn);
    const needed = paramEstimate * 2 * 3.5;
    const fs = await statfs(dir);
    if (fs.bavail * fs.bsize < needed) {
      throw new Error(`${dir}: needs ${(needed / 1e9).toFixed(1)} GB free for the synthetic model, has ${((fs.bavail * fs.bsize) / 1e9).toFixed(1)} GB`);
    }
    const hf = join(dir, "hf");
    await mkdir(hf);
    const generateStarted = performance.now();
    const folder = await writeSyntheticLlama(hf, shape);
    const generateSeconds = (performance.now() - generateStarted) / 1000;
    const describe = `${shape.layers} layers of hidden ${shape.hidden}, ${(folder.parameterCount / 1e9).toFixed(2)} B params, ${folder.shardCount} BF16 shards, ${(folder.tensorBytes / 1e9).toFixed(2)} GB (written in ${generateSeconds.toFixed(0)} s)`;
    const threads = os.availableParallelism();

    const f32Path = join(dir, "model.f32.gguf");
    const toF32 = await runChild(["convert", hf, f32Path, "F32"]);
    const f32Bytes = (await stat(f32Path)).size;

    // alternating rounds, the faster of each kept: other work on the shared cores comes and goes
    const convertedPath = join(dir, "converted.q4_k_m.gguf");
    const quantizedPath = join(dir, "quantized.q4_k_m.gguf");
    const convertRuns: ChildReport[] = [];
    const quantizeRuns: ChildReport[] = [];
    for (let round = 0; round < (opts.short ? SHORT_ROUNDS : 1); round++) {
      convertRuns.push(await runChild(["convert", hf, convertedPath, "Q4_K_M"]));
      await rm(convertedPath);
      quantizeRuns.push(await runChild(["quantize", f32Path, quantizedPath, "Q4_K_M"]));
      await rm(quantizedPath);
    }
    const convert = fastest(convertRuns);
    const quantize = fastest(quantizeRuns);

    const same = [...convertRuns, ...quantizeRuns].every((r) => r.sha256 === quantize.sha256) ? "same bytes as quantize" : "DIFFERENT BYTES from quantize";
    const rounds = convertRuns.length > 1 ? `; the faster of ${convertRuns.length} alternating runs each` : "";
    const convertRow = jobResult(`convert BF16 -> Q4_K_M (${threads} threads)`, folder.tensorBytes, convert, `${describe}; ${same}${rounds}`);
    convertRow.ratio = {
      against: `quantize F32 -> Q4_K_M of the same weights (time; CPU time ratio ${(quantize.cpuSeconds / convert.cpuSeconds).toFixed(2)})`,
      value: quantize.seconds / convert.seconds,
      target: 1,
    };
    return [
      convertRow,
      jobResult(`quantize F32 -> Q4_K_M (${threads} threads)`, f32Bytes, quantize, `the same weights as F32 GGUF, ${(f32Bytes / 1e9).toFixed(2)} GB`),
      jobResult(`convert BF16 -> F32 (${threads} threads)`, folder.tensorBytes, toF32, "the input of quantize"),
      rssResult("convert BF16 -> Q4_K_M", folder.tensorBytes, convert),
      rssResult("quantize F32 -> Q4_K_M", f32Bytes, quantize),
      rssResult("convert BF16 -> F32", folder.tensorBytes, toF32),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
