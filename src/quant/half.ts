/**
 * float32 <-> fp16 / bf16 bit conversions, exactly as ggml-base does them
 * (quantization-and-gguf.md §4.1, §4.2). Integer operations on the float32 bits,
 * because Node 20 has no Math.f16round. The `...Bits...` variants take the float32 bit
 * pattern itself, so row converters can read a Uint32Array view and keep NaN payloads intact.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE round-to-nearest-even float32 -> fp16 bits; NaN -> 0x7E00 with the sign kept. */
export function fp32ToFp16Bits(x: number): number {
  f32[0] = x;
  return fp32BitsToFp16Bits(u32[0]);
}

/** fp32ToFp16Bits on a float32 bit pattern `w` (an unsigned or signed 32-bit integer). */
export function fp32BitsToFp16Bits(w: number): number {
  const sign = (w >>> 16) & 0x8000;
  const a = w & 0x7fffffff;
  if (a >= 0x38800000 && a < 0x477ff000) {
    // A normal half (the common case): rebias the exponent and drop 13 mantissa bits, rounding
    // to nearest even with one add (0xfff plus the lowest kept bit); a mantissa carry moves
    // into the exponent, which is right, and cannot reach inf below 65520.
    return sign | ((a - 0x38000000 + 0xfff + ((a >>> 13) & 1)) >>> 13);
  }
  if (a > 0x7f800000) return sign | 0x7e00;
  if (a >= 0x477ff000) return sign | 0x7c00; // >= 65520 (and inf) -> inf
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

/**
 * The float32 bit pattern of every fp16 bit pattern (fp16 -> float32 is exact, NaN payloads
 * included, as ggml's GGML_FP16_TO_FP32), so a table lookup is the fastest path.
 */
export const FP16_TO_FP32_BITS = (() => {
  const table = new Int32Array(65536); // Int32: every element stays a small integer in V8
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    let mant = h & 0x3ff;
    if (exp === 31) table[h] = (sign | 0x7f800000 | (mant << 13));
    else if (exp !== 0) table[h] = (sign | ((exp + 112) << 23) | (mant << 13));
    else if (mant === 0) table[h] = sign;
    else {
      // subnormal half: normalise the mantissa into a normal float32
      let e = 113;
      while (!(mant & 0x400)) {
        mant <<= 1;
        e--;
      }
      table[h] = (sign | (e << 23) | ((mant & 0x3ff) << 13));
    }
  }
  return table;
})();

/** The same table read as float32 values. */
export const FP16_TO_FP32 = new Float32Array(FP16_TO_FP32_BITS.buffer);

export function fp16BitsToFp32(h: number): number {
  return FP16_TO_FP32[h & 0xffff];
}

/** float32 -> bf16 bits, round to nearest even; NaN keeps sign and top payload with the quiet bit set. */
export function fp32ToBf16Bits(x: number): number {
  f32[0] = x;
  return fp32BitsToBf16Bits(u32[0]);
}

/** fp32ToBf16Bits on a float32 bit pattern. */
export function fp32BitsToBf16Bits(bits: number): number {
  bits >>>= 0;
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x0040) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToFp32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}
