/**
 * The 32-value "legacy" block types Q8_0, Q4_0, Q4_1, Q5_0, Q5_1: ports of ggml's
 * quantize_row_<type>_ref and dequantize_row_<type> (quantization-and-gguf.md §3, §5, §6).
 *
 * Byte exactness rests on three things: every C float operation is one Math.fround (the
 * legacy types multiply by the float32 reciprocal `id`, never by the fp16-rounded scale);
 * C's float-to-int8 cast is `(v << 24) >> 24` (ToInt32 truncates toward zero and wraps; NaN
 * gives 0, as x86's cvttss2si low byte does); comparisons are written as in C so NaN falls
 * through the same branches (`d !== 0`, never `!d`).
 *
 * `src`/`dst` may be views at any byteOffset; blocks are read and written byte by byte.
 */
import { minInt, readFp16, storeFp16 } from "./common.ts";

const QK = 32;
const HALF = 16;
const FLT_MAX = 3.4028234663852886e38;

export function quantizeRowsQ8_0(src: Float32Array, dst: Uint8Array): void {
  const bits = new Int32Array(src.buffer, src.byteOffset, src.length);
  const nb = src.length / QK;
  for (let i = 0, xo = 0, yo = 0; i < nb; i++, xo += QK, yo += 34) {
    let amax = 0;
    for (let j = 0; j < QK; j++) {
      const a = Math.abs(src[xo + j]);
      amax = amax > a ? amax : a; // C's MAX: a NaN is kept only when it comes last
    }
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    storeFp16(dst, yo, d);
    const qo = yo + 2;
    // (int8_t)roundf(x * id). id >= 0 (or NaN), so |x * id| = |x| * id and the sign is x's:
    // round |x * id| half up (exact in float64), then give it x's sign without a branch
    // (s = -1 for negative x). NaN and ±inf give 0, as C's cast does on x86.
    for (let j = 0; j < QK; j++) {
      const r = (Math.fround(Math.abs(src[xo + j]) * id) + 0.5) | 0;
      const s = bits[xo + j] >> 31;
      dst[qo + j] = (r ^ s) - s;
    }
  }
}

export function dequantizeRowsQ8_0(src: Uint8Array, dst: Float32Array): void {
  const nb = dst.length / QK;
  for (let i = 0, xo = 0, yo = 0; i < nb; i++, xo += 34, yo += QK) {
    const d = readFp16(src, xo);
    const qo = xo + 2;
    for (let j = 0; j < QK; j++) dst[yo + j] = ((src[qo + j] << 24) >> 24) * d;
  }
}

export function quantizeRowsQ4_0(src: Float32Array, dst: Uint8Array): void {
  const nb = src.length / QK;
  for (let i = 0, xo = 0, yo = 0; i < nb; i++, xo += QK, yo += 18) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = src[xo + j];
      const a = Math.abs(v);
      if (amax < a) {
        amax = a;
        max = v;
      }
    }
    const d = Math.fround(max / -8); // an all-zero block gives -0 (fp16 0x8000)
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    storeFp16(dst, yo, d);
    const qo = yo + 2;
    for (let j = 0; j < HALF; j++) {
      const q0 = minInt((Math.fround(Math.fround(src[xo + j] * id) + 8.5) << 24) >> 24, 15);
      const q1 = minInt((Math.fround(Math.fround(src[xo + HALF + j] * id) + 8.5) << 24) >> 24, 15);
      dst[qo + j] = q0 | (q1 << 4); // the uint8 store keeps the low byte, as C's uint8_t fields do
    }
  }
}

export function dequantizeRowsQ4_0(src: Uint8Array, dst: Float32Array): void {
  const nb = dst.length / QK;
  for (let i = 0, xo = 0, yo = 0; i < nb; i++, xo += 18, yo += QK) {
    const d = readFp16(src, xo);
    const qo = xo + 2;
    for (let j = 0; j < HALF; j++) {
      const b = src[qo + j];
      dst[yo + j] = ((b & 0x0f) - 8) * d;
      dst[yo + HALF + j] = ((b >>> 4) - 8) * d;
    }
  }
}

export function quantizeRowsQ4_1(src: Float32Array, dst: Uint8Array): void {
  const nb = src.length / QK;
  for (let i = 0, xo = 0, yo = 0; i < nb; i++, xo += QK, yo += 20) {
    let min = FLT_MAX;
    let max = -FLT_MAX;
    for (let j = 0; j < QK; j++) {
      const v = src[xo + j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = Math.fround(Math.fround(max - min) / 15);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    storeFp16(dst, yo, d);
    storeFp16(dst, yo + 2, min);
    const qo = yo + 4;
    for (let j = 0; j < HALF; j++) {
      const q0 = minInt((Math.fround(Math.fround(Math.fround(src[xo + j] - min) * id) + 0.5) << 24) >> 24, 15);
      const q1 = minInt((Math.fround(Math.fround(Math.fround(src[xo + HALF + j] - min) * id) + 0.5) << 24) >> 24, 15);
      dst[qo + j] = q0 | (q1 << 4);
    }
  }
}

export function dequantizeRowsQ4_1(src: Uint8Array, dst: Float32Array): void {
  const nb = dst.length / QK;
  for (let i = 0, xo = 0, yo = 0; i < nb; i++, xo += 20, yo += QK) {
    const d = readFp16(src, xo);
    const m = readFp16(src, xo + 2);
    const qo = xo + 4;
    for (let j = 0; j < HALF; j++) {
      const b = src[qo + j];
      dst[yo + j] = (b & 0x0f) * d + m; // the product is exact, so one rounding (the store) as in C
      dst[yo + HALF + j] = (b >>> 4) * d + m;
    }
  }
}

function writeU32(dst: Uint8Array, o: number, v: number): void {
  dst[o] = v;
  dst[o + 1] = v >>> 8;
  dst[o + 2] = v >>> 16;
  dst[o + 3] = v >>> 24;
}

function readU32(src: Uint8Array, o: number): number {
  return src[o] | (src[o + 1] << 8) | (src[o + 2] << 16) | (src[o + 3] << 24);
}

export function quantizeRowsQ5_0(src: Float32Array, dst: Uint8Array): void {
  const nb = src.length / QK;
  for (let i = 0, xo = 0, yo = 0; i < nb; i++, xo += QK, yo += 22) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = src[xo + j];
      const a = Math.abs(v);
      if (amax < a) {
        amax = a;
        max = v;
      }
    }
    const d = Math.fround(max / -16);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    storeFp16(dst, yo, d);
    const qo = yo + 6;
    let qh = 0;
    for (let j = 0; j < HALF; j++) {
      const q0 = minInt((Math.fround(Math.fround(src[xo + j] * id) + 16.5) << 24) >> 24, 31) & 0xff; // MIN, then the store into uint8_t
      const q1 = minInt((Math.fround(Math.fround(src[xo + HALF + j] * id) + 16.5) << 24) >> 24, 31) & 0xff;
      dst[qo + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
      qh |= ((q0 & 0x10) >>> 4) << j;
      qh |= ((q1 & 0x10) >>> 4) << (j + HALF);
    }
    writeU32(dst, yo + 2, qh);
  }
}

export function dequantizeRowsQ5_0(src: Uint8Array, dst: Float32Array): void {
  const nb = dst.length / QK;
  for (let i = 0, xo = 0, yo = 0; i < nb; i++, xo += 22, yo += QK) {
    const d = readFp16(src, xo);
    const qh = readU32(src, xo + 2);
    const qo = xo + 6;
    for (let j = 0; j < HALF; j++) {
      const b = src[qo + j];
      dst[yo + j] = (((b & 0x0f) | (((qh >>> j) << 4) & 0x10)) - 16) * d;
      dst[yo + HALF + j] = (((b >>> 4) | ((qh >>> (j + 12)) & 0x10)) - 16) * d;
    }
  }
}

export function quantizeRowsQ5_1(src: Float32Array, dst: Uint8Array): void {
  const nb = src.length / QK;
  for (let i = 0, xo = 0, yo = 0; i < nb; i++, xo += QK, yo += 24) {
    let min = FLT_MAX;
    let max = -FLT_MAX;
    for (let j = 0; j < QK; j++) {
      const v = src[xo + j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = Math.fround(Math.fround(max - min) / 31);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    storeFp16(dst, yo, d);
    storeFp16(dst, yo + 2, min);
    const qo = yo + 8;
    let qh = 0;
    for (let j = 0; j < HALF; j++) {
      // (uint8_t)(x + 0.5f): truncate and wrap, no clamp
      const q0 = Math.fround(Math.fround(Math.fround(src[xo + j] - min) * id) + 0.5) & 0xff;
      const q1 = Math.fround(Math.fround(Math.fround(src[xo + HALF + j] - min) * id) + 0.5) & 0xff;
      dst[qo + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
      qh |= ((q0 & 0x10) >>> 4) << j;
      qh |= ((q1 & 0x10) >>> 4) << (j + HALF);
    }
    writeU32(dst, yo + 4, qh);
  }
}

export function dequantizeRowsQ5_1(src: Uint8Array, dst: Float32Array): void {
  const nb = dst.length / QK;
  for (let i = 0, xo = 0, yo = 0; i < nb; i++, xo += 24, yo += QK) {
    const d = readFp16(src, xo);
    const m = readFp16(src, xo + 2);
    const qh = readU32(src, xo + 4);
    const qo = xo + 8;
    for (let j = 0; j < HALF; j++) {
      const b = src[qo + j];
      dst[yo + j] = ((b & 0x0f) | (((qh >>> j) << 4) & 0x10)) * d + m;
      dst[yo + HALF + j] = ((b >>> 4) | ((qh >>> (j + 12)) & 0x10)) * d + m;
    }
  }
}
