/**
 * Kernel throughput in MB/s of float32 input (10^6 bytes/s), on a 4096 x 4096 matrix of
 * N(0, 0.02) values (256 x 4096 with --short): each kernel on one thread (quantizeRows on the
 * whole matrix), then through the worker pool. Kernels not registered yet are reported as
 * missing. Ratios: pool vs one thread, wall clock (target 0.9 x threads, i.e. 1.8 on 2 cores)
 * and, for the K-quants, one thread vs llama.cpp's C reference on this machine (target 0.5), by
 * CPU time so that other work on shared cores does not distort it.
 */
import { GgmlType, ggmlByteSize, ggmlTypeName } from "../src/formats/gguf/types.ts";
import { isQuantizable, quantizeRows } from "../src/quant/kernels/index.ts";
import { createQuantPool } from "../src/quant/pool.ts";
import { gaussianMatrix } from "./data.ts";
import { measure, type MeasuredTask } from "./measure.ts";
import type { BenchOptions, BenchResult } from "./types.ts";

const TYPES = [
  GgmlType.F16,
  GgmlType.BF16,
  GgmlType.Q8_0,
  GgmlType.Q4_0,
  GgmlType.Q4_1,
  GgmlType.Q5_0,
  GgmlType.Q5_1,
  GgmlType.Q2_K,
  GgmlType.Q3_K,
  GgmlType.Q4_K,
  GgmlType.Q5_K,
  GgmlType.Q6_K,
];

/**
 * llama.cpp's C reference quantizers, 1 thread, MB/s of float32 input, on this 2-core machine
 * with the same 4096 x 4096 N(0, 0.02) input: midpoints of the ranges in
 * quantization-and-gguf.md §9 (measured on a quiet machine with another CPU: on the machine this
 * project runs on now, llama.cpp's own C reaches about half of these; the README gives
 * same-minute comparisons).
 */
export const C_REFERENCE_MBPS_1_THREAD: Partial<Record<GgmlType, number>> = {
  [GgmlType.F16]: 2425,
  [GgmlType.BF16]: 11300,
  [GgmlType.Q8_0]: 1230,
  [GgmlType.Q4_0]: 2835,
  [GgmlType.Q4_1]: 4340,
  [GgmlType.Q5_0]: 1730,
  [GgmlType.Q5_1]: 2475,
  [GgmlType.Q2_K]: 74,
  [GgmlType.Q3_K]: 338.5,
  [GgmlType.Q4_K]: 66.5,
  [GgmlType.Q5_K]: 82.5,
  [GgmlType.Q6_K]: 139,
};

const K_QUANTS = new Set([GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K]);
const COLS = 4096;

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const rows = opts.short ? 256 : 4096;
  const input = gaussianMatrix(rows, COLS);
  const bytesPerOp = input.byteLength;
  const shape = `${rows}x${COLS} N(0,0.02)`;
  const present = TYPES.filter(isQuantizable);
  const missing: BenchResult[] = TYPES.filter((t) => !isQuantizable(t)).flatMap((t) =>
    ["1 thread", "pool"].map((mode) => ({
      suite: "kernels",
      name: `quantize ${ggmlTypeName(t)} ${mode}`,
      status: "missing" as const,
      bytesPerOp,
      note: "no kernel registered in src/quant/kernels/index.ts",
    })),
  );

  const outputs = new Map(present.map((t) => [t, new Uint8Array(ggmlByteSize(t, input.length))]));
  const singleTasks: MeasuredTask[] = present.map((t) => ({
    name: `quantize ${ggmlTypeName(t)} 1 thread`,
    bytesPerOp,
    fn: () => quantizeRows(t, input, outputs.get(t)!),
  }));
  const single = await measure("kernels", singleTasks, opts);

  const pool = createQuantPool();
  let pooled: BenchResult[];
  try {
    // start the workers outside the measurement (small chunks: one chunk would run inline)
    await pool.quantizeTensor({ ...poolJob(GgmlType.Q8_0, input.subarray(0, 64 * COLS)), chunkRows: 4 });
    const poolTasks: MeasuredTask[] = present.map((t) => ({
      name: `quantize ${ggmlTypeName(t)} pool (${pool.threads} threads)`,
      bytesPerOp,
      fn: () => pool.quantizeTensor(poolJob(t, input)),
    }));
    pooled = await measure("kernels", poolTasks, opts);
  } finally {
    await pool.close();
  }

  const results: BenchResult[] = [];
  present.forEach((t, i) => {
    const one = single[i];
    const many = pooled[i];
    const reference = C_REFERENCE_MBPS_1_THREAD[t]!;
    one.note = `${shape}; C reference ${reference} MB/s (§9)`;
    // by CPU time: the C figures are from a quiet machine, ours may share the cores with other work
    if (one.cpuMbPerSec !== undefined && K_QUANTS.has(t)) {
      one.ratio = { against: "C reference, 1 thread (§9), our CPU time", value: one.cpuMbPerSec / reference, target: 0.5 };
    }
    if (one.mbPerSec !== undefined && many.mbPerSec !== undefined) {
      many.ratio = { against: "our 1 thread (wall clock)", value: many.mbPerSec / one.mbPerSec, target: 0.9 * pool.threads };
    }
    if (one.cpuMbPerSec !== undefined && many.cpuMbPerSec !== undefined) {
      // below 100%: CPU the pool spends beyond the kernel (copies, messages, threads)
      many.note = `CPU efficiency ${((100 * many.cpuMbPerSec) / one.cpuMbPerSec).toFixed(0)}% of 1 thread`;
    }
    results.push(one, many);
  });
  return [...results, ...missing];
}

/** The whole matrix through the pool: rows copied in chunk by chunk, output discarded. */
function poolJob(type: GgmlType, input: Float32Array) {
  return {
    type,
    rowLength: COLS,
    rowCount: input.length / COLS,
    async readRows(first: number, count: number, dst: Float32Array) {
      dst.set(input.subarray(first * COLS, (first + count) * COLS));
    },
    async write() {},
  };
}
