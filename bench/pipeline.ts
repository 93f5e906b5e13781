/**
 * `quantize` end to end (requantizeGguf: read, choose types, quantize on the pool, write with
 * sha256, fsync, rename) on a synthetic F32 llama GGUF shaped like the file of
 * quantization-and-gguf.md §9: one layer of 4096-wide tensors (7 x 4096 x 4096) plus a 32-token
 * vocabulary, 470.9 MB (--short: 512 wide, 7.4 MB). MB/s = input file bytes per second, as in
 * §9, whose llama-quantize figures are the reference (target: half of them).
 */
import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { GgmlType, GgufValueType, ggmlTypeName, type GgufMetadata, type GgufValue } from "../src/formats/gguf/types.ts";
import { createGgufWriter, type GgufWriterTensor } from "../src/formats/gguf/writer.ts";
import { isQuantizable } from "../src/quant/kernels/index.ts";
import { defaultTypeOf, type MixtureName } from "../src/quant/mixtures.ts";
import { requantizeGguf } from "../src/quant/requantize.ts";
import { fillGaussian } from "./data.ts";
import { measure, type MeasuredTask } from "./measure.ts";
import type { BenchOptions, BenchResult } from "./types.ts";

interface Target {
  mixture: MixtureName;
  pure: boolean;
  /** llama-quantize on §9's 470.9 MB file: MB/s with 1 and 2 threads (undefined: no figure) */
  reference?: { label: string; oneThread: number; twoThreads: number };
}

/** §9, "End to end, llama-quantize --pure on a 470.9 MB F32 GGUF". */
const TARGETS: Target[] = [
  { mixture: "Q8_0", pure: true, reference: { label: "llama-quantize --pure Q8_0 (§9)", oneThread: 570, twoThreads: 1170 } },
  { mixture: "Q4_0", pure: true, reference: { label: "llama-quantize --pure Q4_0 (§9)", oneThread: 1480, twoThreads: 2120 } },
  { mixture: "Q4_K_M", pure: true, reference: { label: "llama-quantize --pure Q4_K (§9)", oneThread: 68, twoThreads: 128 } },
  { mixture: "Q6_K", pure: true, reference: { label: "llama-quantize --pure Q6_K (§9)", oneThread: 124, twoThreads: 217 } },
  // §9 has no Q4_K_M figure; its Q6_K tensors are faster than Q4_K in C, so --pure Q4_K is a lower bound
  { mixture: "Q4_K_M", pure: false, reference: { label: "llama-quantize --pure Q4_K (§9, no Q4_K_M figure)", oneThread: 68, twoThreads: 128 } },
];

/** Types a mixture needs kernels for on this model (Q4_K_M adds Q6_K for output and some layers). */
function typesNeeded(t: Target): GgmlType[] {
  const main = defaultTypeOf(t.mixture);
  return t.mixture === "Q4_K_M" && !t.pure ? [main, GgmlType.Q6_K] : [main];
}

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const width = opts.short ? 512 : 4096;
  const dir = await mkdtemp(join(os.tmpdir(), "gguf-tool-bench-"));
  try {
    const input = join(dir, "synthetic.f32.gguf");
    await writeSyntheticModel(input, width);
    const bytesPerOp = (await stat(input)).size;
    const threads = os.availableParallelism();
    const describe = `1 layer, ${width} wide, ${(bytesPerOp / 1e6).toFixed(1)} MB F32`;

    const results: BenchResult[] = [];
    const tasks: MeasuredTask[] = [];
    const measured: Target[] = [];
    for (const t of TARGETS) {
      const name = `quantize ${t.pure ? "--pure " : ""}${t.pure && t.mixture === "Q4_K_M" ? "Q4_K" : t.mixture} (${threads} threads)`;
      const missing = typesNeeded(t).filter((type) => !isQuantizable(type));
      if (missing.length > 0) {
        results.push({ suite: "pipeline", name, status: "missing", bytesPerOp, note: `no kernel for ${missing.map(ggmlTypeName).join(", ")}` });
        continue;
      }
      measured.push(t);
      tasks.push({
        name,
        bytesPerOp,
        fn: async () => {
          const out = join(dir, "out.gguf");
          await requantizeGguf(input, out, { mixture: t.mixture, pure: t.pure });
          await rm(out);
        },
      });
    }
    // one run each (two without --short): every run is a whole model
    const timed = await measure("pipeline", tasks, opts, { time: 0, iterations: opts.short ? 1 : 2, warmup: false });
    timed.forEach((r, i) => {
      const ref = measured[i].reference;
      r.note = `${describe}; includes starting the worker threads`;
      if (ref && r.mbPerSec !== undefined) {
        const refMbps = threads === 1 ? ref.oneThread : ref.twoThreads;
        r.ratio = { against: `${ref.label} ${refMbps} MB/s`, value: r.mbPerSec / refMbps, target: 0.5 };
      }
    });
    return [...timed, ...results];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A one-layer llama GGUF, F32, N(0, 0.02) weights and all-ones norms, written in 4 MiB pieces. */
async function writeSyntheticModel(path: string, width: number): Promise<void> {
  const vocab = 32;
  const u32 = (value: number): GgufValue => ({ type: GgufValueType.UINT32, value });
  const metadata: GgufMetadata = new Map<string, GgufValue>([
    ["general.architecture", { type: GgufValueType.STRING, value: "llama" }],
    ["general.name", { type: GgufValueType.STRING, value: "gguf-tool bench synthetic" }],
    ["llama.context_length", u32(2048)],
    ["llama.embedding_length", u32(width)],
    ["llama.block_count", u32(1)],
    ["llama.feed_forward_length", u32(width)],
    ["llama.attention.head_count", u32(width / 128)],
    ["llama.attention.head_count_kv", u32(width / 128)],
    ["llama.rope.dimension_count", u32(128)],
    ["llama.attention.layer_norm_rms_epsilon", { type: GgufValueType.FLOAT32, value: 1e-5 }],
    ["general.file_type", u32(0)],
  ]);
  const matrix = (name: string): GgufWriterTensor => ({ name, shape: [width, width], type: GgmlType.F32 });
  const norm = (name: string): GgufWriterTensor => ({ name, shape: [width], type: GgmlType.F32 });
  const tensors: GgufWriterTensor[] = [
    { name: "token_embd.weight", shape: [width, vocab], type: GgmlType.F32 },
    norm("output_norm.weight"),
    { name: "output.weight", shape: [width, vocab], type: GgmlType.F32 },
    norm("blk.0.attn_norm.weight"),
    matrix("blk.0.attn_q.weight"),
    matrix("blk.0.attn_k.weight"),
    matrix("blk.0.attn_v.weight"),
    matrix("blk.0.attn_output.weight"),
    norm("blk.0.ffn_norm.weight"),
    matrix("blk.0.ffn_gate.weight"),
    matrix("blk.0.ffn_up.weight"),
    matrix("blk.0.ffn_down.weight"),
  ];
  const writer = await createGgufWriter(path, { metadata, tensors });
  try {
    const piece = new Float32Array(1 << 20);
    let seed = 1;
    for (const t of tensors) {
      const count = t.shape.reduce((a, b) => a * b, 1);
      for (let done = 0; done < count; done += piece.length) {
        const values = piece.subarray(0, Math.min(piece.length, count - done));
        if (t.shape.length === 1) values.fill(1);
        else fillGaussian(values, 0.02, seed++);
        await writer.writeTensorData(new Uint8Array(values.buffer, 0, values.byteLength));
      }
    }
    await writer.finish();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}
