/**
 * float32 <-> fp16 / bf16 bit conversions, exactly as ggml-base does them
 * (quantization-and-gguf.md §4.1, §4.2). Integer operations on the float32 bits,
 * because Node 20 has no Math.f16round.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE round-to-nearest-even float32 -> fp16 bits; NaN -> 0x7E00 with the sign kept. */
export function fp32ToFp16Bits(x: number): number {
  f32[0] = x;
  const w = u32[0];
  const sign = (w >>> 16) & 0x8000;
  const a = w & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00;
  if (a >= 0x477ff000) return sign | 0x7c00; // >= 65520 (and inf) -> inf
  if (a >= 0x38800000) {
    // a normal half: drop 13 mantissa bits, ties to even
    let h = (((a >>> 23) - 112) << 10) | ((a >>> 13) & 0x3ff);
    const rest = a & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
    return sign | h;
  }
  const e = a >>> 23; // a subnormal half or zero
  if (e < 102) return sign;
  const m = (a & 0x7fffff) | 0x800000;
  const shift = 126 - e;
  let q = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && q & 1)) q++;
  return sign | q;
}

/** Every fp16 bit pattern's float32 value: fp16 -> float32 is exact, so a table is the fastest path. */
const FP16_TO_FP32 = (() => {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) table[h] = sign * mant * 2 ** -24;
    else if (exp === 31) table[h] = mant ? NaN : sign * Infinity;
    else table[h] = sign * (1024 + mant) * 2 ** (exp - 25);
  }
  return table;
})();

export function fp16BitsToFp32(h: number): number {
  return FP16_TO_FP32[h & 0xffff];
}

/** float32 -> bf16 bits, round to nearest even; NaN keeps sign and top payload with the quiet bit set. */
export function fp32ToBf16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x0040) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToFp32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}
