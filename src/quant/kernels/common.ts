/**
 * Helpers shared by every kernel module (import them from here, do not copy them): ggml's
 * float32 rounding tricks, reproduced exactly (quantization-and-gguf.md §4.3, §6), and fp16
 * block fields read and written in place.
 *
 * Every float argument must already be a float32 value (wrap the C expression in Math.fround first).
 */
import { FP16_TO_FP32, fp32ToFp16Bits } from "../half.ts";

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** ggml's GROUP_MAX_EPS (1e-15f). */
export const GROUP_MAX_EPS = Math.fround(1e-15);

/**
 * ggml's nearest_int: add 1.5 * 2^23 in float32, keep the low 23 bits of the sum, subtract 2^22.
 * Round half to even for |x| < 2^22; outside that range the same wrapped value C returns,
 * NaN -> 0, ±inf -> -4194304.
 */
export function nearestInt(x: number): number {
  const s = Math.fround(x + 12582912);
  // While the sum stays in [2^23, 2^24) its low 23 bits are exactly s - 2^23 (the common case).
  if (s >= 8388608 && s < 16777216) return s - 12582912;
  F32[0] = s;
  return (U32[0] & 0x7fffff) - 0x400000;
}

/**
 * min(a, b) and max(a, b) for int32 a, b with |a - b| < 2^31, without a branch: b + ((a - b) &
 * sign mask of (a - b)). Where a clamp's side depends on the data, a ternary mispredicts and
 * costs more than this arithmetic (the legacy kernels' MIN(15, q): a ternary halved their speed;
 * make_q3_quants' first levels: 18% faster this way). Small enough for V8 to inline them anywhere.
 */
export function minInt(a: number, b: number): number {
  const t = a - b;
  return b + (t & (t >> 31));
}

export function maxInt(a: number, b: number): number {
  const t = a - b;
  return a - (t & (t >> 31));
}

/** Stores fp16(v) little-endian at dst[o] (any alignment) and returns the stored value as float32. */
export function storeFp16(dst: Uint8Array, o: number, v: number): number {
  const h = fp32ToFp16Bits(v);
  dst[o] = h;
  dst[o + 1] = h >>> 8;
  return FP16_TO_FP32[h];
}

/** The little-endian fp16 at src[o] (any alignment), as float32. */
export function readFp16(src: Uint8Array, o: number): number {
  return FP16_TO_FP32[src[o] | (src[o + 1] << 8)];
}
