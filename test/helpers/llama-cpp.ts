/**
 * Running GGUFs in llama.cpp itself (node-llama-cpp's prebuilt CPU build, tests only), the way the
 * fixtures' reference runs did: one thread, F32 KV cache, flash attention off.
 */
import { readFileSync } from "node:fs";
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from "node-llama-cpp";

export function startLlama(): Promise<Llama> {
  return getLlama({ build: "never", gpu: false, logLevel: LlamaLogLevel.error, progressLogs: false });
}

/** The next-token logits after `ids`, one per vocabulary entry (NaN where llama.cpp gave none). */
export async function lastLogits(model: LlamaModel, ids: number[], vocabSize: number): Promise<Float32Array> {
  const ctx = await model.createContext({
    contextSize: 512,
    batchSize: 512,
    threads: 1,
    flashAttention: false,
    experimentalKvCacheKeyType: "F32",
    experimentalKvCacheValueType: "F32",
  });
  try {
    const seq = ctx.getSequence();
    const out = await seq.controlledEvaluate(
      ids.map((t, i) => (i === ids.length - 1 ? [t, { generateNext: { logits: true } }] : t)) as Parameters<typeof seq.controlledEvaluate>[0],
    );
    const logits = out[ids.length - 1]!.next!.logits!;
    const result = new Float32Array(vocabSize).fill(Number.NaN);
    for (const [token, value] of logits) result[token] = value;
    return result;
  } finally {
    await ctx.dispose();
  }
}

/** A little-endian float32 file (the fixtures' logits-*.f32.bin). */
export function readF32(path: string): Float32Array {
  const raw = readFileSync(path);
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
}

/** max |a - b|; NaN when either has a NaN, which fails every bound. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d;
  }
  return m;
}

export function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}
