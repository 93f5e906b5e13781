/**
 * ggml's K-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K: quantize float32 rows and dequantize them back,
 * byte-identical to llama.cpp's reference quantizers (quantize_row_q*_K_ref) as built on x86-64
 * (quantization-and-gguf.md §3, §5, §6). Every block of 256 values is quantized on its own, so
 * any chunking of the rows gives the same bytes.
 *
 * Signatures used by the kernel registry (which checks the sizes): quantizeRowsQxK(src, dst)
 * with src.length a multiple of 256 and dst.length = blocks * bytes per block;
 * dequantizeRowsQxK(src, dst) the reverse. src/dst may be views at any byteOffset
 * (SharedArrayBuffer-backed too): bytes are read and written one by one.
 *
 * Float32 semantics: one Math.fround per C operation in C's order; `if (!d)` is `d === 0`
 * (NaN is true in C); casts to uint8/int8 wrap.
 */
import { fp16BitsToFp32, fp32ToFp16Bits } from "../half.ts";
import { GROUP_MAX_EPS, nearestInt } from "./common.ts";
import { makeQkx2Quants } from "./kquants-qkx2.ts";
import { F32_0_1, makeQxQuants, Q3_SCALE_REL, q3ExactScale, searchQ3 } from "./kquants-search.ts";

const fr = Math.fround;
const QK_K = 256;

const Q2_K_BYTES = 84;
const Q3_K_BYTES = 110;
const Q4_K_BYTES = 144;
const Q5_K_BYTES = 176;
const Q6_K_BYTES = 210;

// Module-level scratch: the current block's values, levels, weights and sub-block scales
// (sizes above 64 bytes: smaller typed arrays live on V8's moving heap, which costs a reload of
// the data pointer at every access).
const X = new Float32Array(QK_K);
const L = new Uint8Array(QK_K);
const W = new Float32Array(32);
const SCALES = new Float32Array(32);
const MINS = new Float32Array(32);

function loadBlock(src: Float32Array, at: number): void {
  const xA = X;
  for (let i = 0; i < QK_K; i++) xA[i] = src[at + i];
}

/** Stores fp16(v) little-endian at dst[o] and returns the stored value as float32. */
function storeFp16(dst: Uint8Array, o: number, v: number): number {
  const h = fp32ToFp16Bits(v);
  dst[o] = h & 0xff;
  dst[o + 1] = h >>> 8;
  return fp16BitsToFp32(h);
}

function readFp16(src: Uint8Array, o: number): number {
  return fp16BitsToFp32(src[o] | (src[o + 1] << 8));
}

/**
 * The requantization of a group with its final, fp16-rounded scale dj (and, for Q2_K/Q4_K/Q5_K,
 * min dm): L[lo + i] = clamp(nearest_int(fr(fr(x[xo + i] + dm) / dj)), lmin, lmax) - lmin for
 * i < n (dm = 0 leaves every float32 x as it is, but for -0, whose level is 0 either way).
 *
 * It multiplies instead of dividing per value: with inv = 1 / dj (float64), x * inv is within
 * 2^-52 |q| of the quotient q, and C's fr(q) (a float64 quotient rounded to float32: the double
 * rounding is innocuous for division) within 2^-24 |q|, under 4e-6 in all while |q| < 64. So
 * when y = x * inv + 0.5 is more than 1.5e-5 from an integer, fr(q) is no tie and rounds to
 * floor(y); otherwise (NaN and infinities too) it is computed as C does. The test is written in
 * the loop, not in a per-value helper: V8 inlines a small function into the big block functions
 * only while its inlining budget lasts, and an out-of-line call boxes its double arguments.
 */
function requantizeGroup(x: Float32Array, xo: number, n: number, dj: number, dm: number, lmin: number, lmax: number, L: Uint8Array, lo: number): void {
  const inv = 1 / dj;
  for (let i = 0; i < n; i++) {
    const v = dm === 0 ? x[xo + i] : fr(x[xo + i] + dm); // (see above for dm = 0)
    const y = v * inv + 0.5;
    const f = Math.floor(y);
    const frac = y - f;
    const l = frac > 1.5e-5 && frac < 0.999985 && y < 64 && y > -64 ? f | 0 : nearestInt(fr(v / dj)) | 0;
    L[lo + i] = (l < lmin ? lmin : l > lmax ? lmax : l) - lmin;
  }
}

/** Packs 2-bit levels L[0..256) as Q2_K/Q3_K `qs` (4 levels 32 apart per byte) at dst[o]. */
function pack2Bit(dst: Uint8Array, o: number): void {
  const lA = L;
  for (let j = 0; j < QK_K; j += 128) {
    const q = o + j / 4;
    for (let l = 0; l < 32; l++) {
      dst[q + l] = lA[j + l] | (lA[j + l + 32] << 2) | (lA[j + l + 64] << 4) | (lA[j + l + 96] << 6);
    }
  }
}

// ---------------------------------------------------------------- Q2_K

export function quantizeRowsQ2K(src: Float32Array, dst: Uint8Array): void {
  const lA = L;
  const wA = W;
  const scalesA = SCALES;
  const minsA = MINS;
  const nb = src.length / QK_K;
  for (let b = 0; b < nb; b++) {
    const xb = b * QK_K; // the searches and the requantization read src in place
    const o = b * Q2_K_BYTES;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 16; j++) {
      for (let l = 0; l < 16; l++) wA[l] = Math.abs(src[xb + 16 * j + l]);
      const scale = makeQkx2Quants(16, 3, src, xb + 16 * j, W, L, 16 * j, MINS, j, -0.5, F32_0_1, 15, true);
      scalesA[j] = scale;
      if (scale > maxScale) maxScale = scale;
      if (minsA[j] > maxMin) maxMin = minsA[j];
    }
    let d: number;
    if (maxScale > 0) {
      const iscale = fr(15 / maxScale);
      for (let j = 0; j < 16; j++) dst[o + j] = nearestInt(fr(iscale * scalesA[j])); // uint8 store wraps
      d = storeFp16(dst, o + 80, fr(maxScale / 15));
    } else {
      for (let j = 0; j < 16; j++) dst[o + j] = 0;
      d = storeFp16(dst, o + 80, 0);
    }
    let dmin: number;
    if (maxMin > 0) {
      const iscale = fr(15 / maxMin);
      for (let j = 0; j < 16; j++) dst[o + j] |= nearestInt(fr(iscale * minsA[j])) << 4;
      dmin = storeFp16(dst, o + 82, fr(maxMin / 15));
    } else {
      dmin = storeFp16(dst, o + 82, 0);
    }
    for (let j = 0; j < 16; j++) {
      const sc = dst[o + j];
      const dj = fr(d * (sc & 15));
      if (dj === 0) continue; // keeps the search's levels
      requantizeGroup(src, xb + 16 * j, 16, dj, fr(dmin * (sc >> 4)), 0, 3, lA, 16 * j);
    }
    pack2Bit(dst, o + 16);
  }
}

export function dequantizeRowsQ2K(src: Uint8Array, dst: Float32Array): void {
  const nb = dst.length / QK_K;
  for (let b = 0; b < nb; b++) {
    const o = b * Q2_K_BYTES;
    const d = readFp16(src, o + 80);
    const min = readFp16(src, o + 82);
    // Element 128h + 32k + l: 2 bits at 2k of qs[32h + l], sub-block 8h + 2k + l/16.
    for (let h = 0; h < 2; h++) {
      const qs = o + 16 + 32 * h;
      for (let k = 0; k < 4; k++) {
        const shift = 2 * k;
        for (let half = 0; half < 2; half++) {
          const sc = src[o + 8 * h + 2 * k + half];
          const dl = fr(d * (sc & 15));
          const ml = fr(min * (sc >> 4));
          const y = b * QK_K + 128 * h + 32 * k + 16 * half;
          const q0 = qs + 16 * half;
          for (let l = 0; l < 16; l++) dst[y + l] = fr(dl * ((src[q0 + l] >> shift) & 3)) - ml; // the store rounds
        }
      }
    }
  }
}

// ---------------------------------------------------------------- Q3_K

/** Q3_K's 6-bit sub-block scales (-32..31) as stored, for the requantization. */
const SCALE6 = new Int32Array(32);
/** searchQ3's scales and whether each is C's exact float32 scale (1) or a float64 estimate (0). */
const Q3_SCALE = new Float64Array(32);
const Q3_EXACT = new Uint8Array(128);

export function quantizeRowsQ3K(src: Float32Array, dst: Uint8Array): void {
  const lA = L;
  const q3ScaleA = Q3_SCALE;
  const q3ExactA = Q3_EXACT;
  const scale6A = SCALE6;
  const srcBits = new Int32Array(src.buffer, src.byteOffset, src.length); // for searchQ3's max
  const up = 1 + Q3_SCALE_REL;
  const down = 1 - Q3_SCALE_REL;
  const nb = src.length / QK_K;
  for (let b = 0; b < nb; b++) {
    const xb = b * QK_K; // the searches and the requantization read src in place
    const o = b * Q3_K_BYTES;
    const sc = o + 96;
    // The searches leave most scales as float64 values within Q3_SCALE_REL of C's (searchQ3).
    // C takes the first sub-block of largest |scale|: none can be one whose |scale| is surely
    // below another's (|s| up < maxLo), so C's loop runs over the others only, with their exact
    // scales (NaN is never taken, as in C).
    let maxLo = 0;
    for (let j = 0; j < 16; j++) {
      searchQ3(16, 4, src, srcBits, xb + 16 * j, lA, 16 * j, q3ScaleA, q3ExactA, j);
      const a = Math.abs(q3ScaleA[j]);
      const lo = q3ExactA[j] === 1 ? a : a * down;
      if (lo > maxLo) maxLo = lo;
    }
    let maxScale = 0;
    let amax = 0;
    for (let j = 0; j < 16; j++) {
      if (q3ExactA[j] === 0) {
        if (Math.abs(q3ScaleA[j]) * up < maxLo) continue;
        q3ScaleA[j] = q3ExactScale(16, 4, src, xb + 16 * j, lA, 16 * j);
        q3ExactA[j] = 1;
      }
      const a = Math.abs(q3ScaleA[j]);
      if (a > amax) {
        amax = a;
        maxScale = q3ScaleA[j];
      }
    }
    for (let k = 0; k < 12; k++) dst[sc + k] = 0;
    let d: number;
    if (maxScale !== 0) {
      const iscale = fr(-32 / maxScale);
      for (let j = 0; j < 16; j++) {
        // C's nearest_int(fr(iscale * scale)). For an inexact scale s, |s| < |maxScale| (it was
        // no candidate above), so |p| = |iscale s| <= 32 (1 + u) (1 + 36u) < 32.01, and C's value
        // fr(iscale * scale) is within (36u + u) |p| + 2^-53 |p| < 7.3e-5 of p: unless p + 0.5
        // lies that close to an integer, C's nearest int is floor(p + 0.5); else C's scale.
        let v: number;
        if (q3ExactA[j] === 0) {
          const y = iscale * q3ScaleA[j] + 0.5;
          v = Math.floor(y);
          const frac = y - v;
          if (!(frac > 7.5e-5 && frac < 0.999925)) v = nearestInt(fr(iscale * q3ExactScale(16, 4, src, xb + 16 * j, lA, 16 * j)));
        } else {
          v = nearestInt(fr(iscale * q3ScaleA[j]));
        }
        let l = (v << 24) >> 24; // int8_t l = nearest_int(...)
        l = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
        scale6A[j] = l - 32; // what the packed 6 bits read back as
        if (j < 8) dst[sc + j] = l & 15;
        else dst[sc + j - 8] |= (l & 15) << 4;
        dst[sc + 8 + (j & 3)] |= (l >> 4) << (2 * (j >> 2));
      }
      d = storeFp16(dst, o + 108, fr(1 / iscale));
    } else {
      d = storeFp16(dst, o + 108, 0);
      for (let j = 0; j < 16; j++) scale6A[j] = -32; // all-zero bytes read back as -32
    }
    for (let j = 0; j < 16; j++) {
      const dj = fr(d * scale6A[j]);
      if (dj !== 0) requantizeGroup(src, xb + 16 * j, 16, dj, 0, -4, 3, lA, 16 * j);
    }
    // Element e: its high bit goes to bit e/32 of hmask[e%32] (levels are 0..7, so bit 2 is
    // "> 3"), its low 2 bits to qs as pack2Bit lays them out (4 levels 32 apart per byte).
    for (let k = 0; k < 32; k++) {
      const a0 = lA[k], a1 = lA[k + 32], a2 = lA[k + 64], a3 = lA[k + 96];
      const b0 = lA[k + 128], b1 = lA[k + 160], b2 = lA[k + 192], b3 = lA[k + 224];
      dst[o + k] =
        (a0 >> 2) | ((a1 >> 2) << 1) | ((a2 >> 2) << 2) | ((a3 >> 2) << 3) |
        ((b0 >> 2) << 4) | ((b1 >> 2) << 5) | ((b2 >> 2) << 6) | ((b3 >> 2) << 7);
      dst[o + 32 + k] = (a0 & 3) | ((a1 & 3) << 2) | ((a2 & 3) << 4) | ((a3 & 3) << 6);
      dst[o + 64 + k] = (b0 & 3) | ((b1 & 3) << 2) | ((b2 & 3) << 4) | ((b3 & 3) << 6);
    }
  }
}

export function dequantizeRowsQ3K(src: Uint8Array, dst: Float32Array): void {
  const nb = dst.length / QK_K;
  for (let b = 0; b < nb; b++) {
    const o = b * Q3_K_BYTES;
    const sc = o + 96;
    const dAll = readFp16(src, o + 108);
    // Element 128h + 32k + l: low 2 bits at 2k of qs[32h + l], high bit 4h + k of hmask[l].
    for (let j = 0; j < 16; j++) {
      const low = j < 8 ? src[sc + j] & 15 : src[sc + j - 8] >> 4;
      const s = (low | (((src[sc + 8 + (j & 3)] >> (2 * (j >> 2))) & 3) << 4)) - 32;
      const dl = fr(dAll * s);
      const h = j >> 3;
      const k = (j >> 1) & 3;
      const l0 = 16 * (j & 1);
      const qs = o + 32 + 32 * h;
      const bit = 4 * h + k;
      const y = b * QK_K + 16 * j - l0;
      for (let l = l0; l < l0 + 16; l++) {
        const q = ((src[qs + l] >> (2 * k)) & 3) - (((src[o + l] >> bit) & 1) !== 0 ? 0 : 4);
        dst[y + l] = dl * q;
      }
    }
  }
}

// ---------------------------------------------------------------- Q4_K / Q5_K

/** The 6-bit scale and min of sub-block j from the 12 packed bytes at q (get_scale_min_k4). */
function scaleK4(src: Uint8Array, q: number, j: number): number {
  return j < 4 ? src[q + j] & 63 : (src[q + j + 4] & 15) | ((src[q + j - 4] >> 6) << 4);
}

function minK4(src: Uint8Array, q: number, j: number): number {
  return j < 4 ? src[q + j + 4] & 63 : (src[q + j + 4] >> 4) | ((src[q + j] >> 6) << 4);
}

/**
 * Q4_K and Q5_K share everything up to the final levels (nmax 15 or 31): the per-sub-block
 * searches, the 6-bit scale/min packing at dst[o+4..o+16) and the requantization with the
 * fp16-ROUNDED super-scales. Leaves the levels in L.
 */
function quantizeBlockQ45K(dst: Uint8Array, o: number, nmax: number, rmin: number, nstep: number): void {
  const xA = X;
  const lA = L;
  const wA = W;
  const scalesA = SCALES;
  const minsA = MINS;
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    const x0 = 32 * j;
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 = fr(sumX2 + fr(xA[x0 + l] * xA[x0 + l]));
    const av = fr(Math.sqrt(fr(sumX2 / 32))); // float64 sqrt then one rounding = sqrtf
    for (let l = 0; l < 32; l++) wA[l] = av + Math.abs(xA[x0 + l]); // the store rounds the sum
    const scale = makeQkx2Quants(32, nmax, X, x0, W, L, x0, MINS, j, rmin, F32_0_1, nstep, false);
    scalesA[j] = scale;
    if (scale > maxScale) maxScale = scale;
    if (minsA[j] > maxMin) maxMin = minsA[j];
  }
  const invScale = maxScale > 0 ? fr(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? fr(63 / maxMin) : 0;
  const q = o + 4;
  for (let j = 0; j < 8; j++) {
    let ls = nearestInt(fr(invScale * scalesA[j])) & 0xff; // uint8_t, then MIN(63, .)
    let lm = nearestInt(fr(invMin * minsA[j])) & 0xff;
    ls = ls < 63 ? ls : 63;
    lm = lm < 63 ? lm : 63;
    if (j < 4) {
      dst[q + j] = ls;
      dst[q + j + 4] = lm;
    } else {
      dst[q + j + 4] = (ls & 15) | ((lm & 15) << 4);
      dst[q + j - 4] |= (ls >> 4) << 6;
      dst[q + j] |= (lm >> 4) << 6;
    }
  }
  const d = storeFp16(dst, o, fr(maxScale / 63));
  const dmin = storeFp16(dst, o + 2, fr(maxMin / 63));
  for (let j = 0; j < 8; j++) {
    const dj = fr(d * scaleK4(dst, q, j));
    if (dj === 0) continue;
    requantizeGroup(xA, 32 * j, 32, dj, fr(dmin * minK4(dst, q, j)), 0, nmax, lA, 32 * j);
  }
}

export function quantizeRowsQ4K(src: Float32Array, dst: Uint8Array): void {
  const lA = L;
  const nb = src.length / QK_K;
  for (let b = 0; b < nb; b++) {
    loadBlock(src, b * QK_K);
    const o = b * Q4_K_BYTES;
    quantizeBlockQ45K(dst, o, 15, -1, 20);
    for (let j = 0; j < QK_K; j += 64) {
      const qs = o + 16 + j / 2;
      for (let l = 0; l < 32; l++) dst[qs + l] = lA[j + l] | (lA[j + l + 32] << 4);
    }
  }
}

export function dequantizeRowsQ4K(src: Uint8Array, dst: Float32Array): void {
  const nb = dst.length / QK_K;
  for (let b = 0; b < nb; b++) {
    const o = b * Q4_K_BYTES;
    const d = readFp16(src, o);
    const min = readFp16(src, o + 2);
    for (let j = 0; j < 8; j++) {
      const dl = fr(d * scaleK4(src, o + 4, j));
      const ml = fr(min * minK4(src, o + 4, j));
      const qs = o + 16 + 32 * (j >> 1);
      const shift = 4 * (j & 1);
      const y = b * QK_K + 32 * j;
      for (let l = 0; l < 32; l++) dst[y + l] = fr(dl * ((src[qs + l] >> shift) & 15)) - ml;
    }
  }
}

export function quantizeRowsQ5K(src: Float32Array, dst: Uint8Array): void {
  const lA = L;
  const nb = src.length / QK_K;
  for (let b = 0; b < nb; b++) {
    loadBlock(src, b * QK_K);
    const o = b * Q5_K_BYTES;
    quantizeBlockQ45K(dst, o, 31, -0.5, 15);
    // Low nibbles as Q4_K (qs at 48); bit 4 of element e is bit 2*(e/64) + ((e%64) >= 32) of qh[e%32].
    for (let l = 0; l < 32; l++) {
      let h = 0;
      for (let c = 0; c < 4; c++) {
        const l1 = lA[64 * c + l];
        const l2 = lA[64 * c + l + 32];
        h |= ((l1 >> 4) << (2 * c)) | ((l2 >> 4) << (2 * c + 1));
        dst[o + 48 + 32 * c + l] = (l1 & 15) | ((l2 & 15) << 4);
      }
      dst[o + 16 + l] = h;
    }
  }
}

export function dequantizeRowsQ5K(src: Uint8Array, dst: Float32Array): void {
  const nb = dst.length / QK_K;
  for (let b = 0; b < nb; b++) {
    const o = b * Q5_K_BYTES;
    const d = readFp16(src, o);
    const min = readFp16(src, o + 2);
    for (let j = 0; j < 8; j++) {
      const dl = fr(d * scaleK4(src, o + 4, j));
      const ml = fr(min * minK4(src, o + 4, j));
      const qs = o + 48 + 32 * (j >> 1);
      const shift = 4 * (j & 1);
      const y = b * QK_K + 32 * j;
      for (let l = 0; l < 32; l++) {
        const q = ((src[qs + l] >> shift) & 15) | (((src[o + 16 + l] >> j) & 1) << 4);
        dst[y + l] = fr(dl * q) - ml;
      }
    }
  }
}

// ---------------------------------------------------------------- Q6_K

export function quantizeRowsQ6K(src: Float32Array, dst: Uint8Array): void {
  const lA = L;
  const scalesA = SCALES;
  const nb = src.length / QK_K;
  for (let b = 0; b < nb; b++) {
    const xb = b * QK_K; // the searches and the requantization read src in place
    const o = b * Q6_K_BYTES;
    let maxScale = 0;
    let maxAbs = 0;
    for (let j = 0; j < 16; j++) {
      const scale = makeQxQuants(16, 32, src, xb + 16 * j, L, 16 * j);
      scalesA[j] = scale;
      const a = Math.abs(scale);
      if (a > maxAbs) {
        maxAbs = a;
        maxScale = scale;
      }
    }
    if (maxAbs < GROUP_MAX_EPS) {
      dst.fill(0, o, o + Q6_K_BYTES);
      continue;
    }
    const iscale = fr(-128 / maxScale);
    const d = storeFp16(dst, o + 208, fr(1 / iscale));
    for (let j = 0; j < 16; j++) {
      const v = nearestInt(fr(iscale * scalesA[j]));
      dst[o + 192 + j] = v < 127 ? v : 127; // int8 store wraps
    }
    for (let j = 0; j < 16; j++) {
      const dj = fr(d * ((dst[o + 192 + j] << 24) >> 24));
      if (dj !== 0) requantizeGroup(src, xb + 16 * j, 16, dj, 0, -32, 31, lA, 16 * j);
    }
    for (let j = 0; j < QK_K; j += 128) {
      const ql = o + j / 2;
      const qh = o + 128 + j / 4;
      for (let l = 0; l < 32; l++) {
        const q1 = lA[j + l];
        const q2 = lA[j + l + 32];
        const q3 = lA[j + l + 64];
        const q4 = lA[j + l + 96];
        dst[ql + l] = (q1 & 15) | ((q3 & 15) << 4);
        dst[ql + l + 32] = (q2 & 15) | ((q4 & 15) << 4);
        dst[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
      }
    }
  }
}

export function dequantizeRowsQ6K(src: Uint8Array, dst: Float32Array): void {
  const nb = dst.length / QK_K;
  for (let b = 0; b < nb; b++) {
    const o = b * Q6_K_BYTES;
    const d = readFp16(src, o + 208);
    // Element 128h + 32k + l: low 4 bits of ql[64h + l + 32(k&1)] (high nibble when k >= 2),
    // high 2 bits at 2k of qh[32h + l]; scale index (128h + 32k + l) / 16.
    for (let h = 0; h < 2; h++) {
      for (let k = 0; k < 4; k++) {
        const ql = o + 64 * h + 32 * (k & 1);
        const qh = o + 128 + 32 * h;
        const lowShift = 4 * (k >> 1);
        const highShift = 2 * k;
        const y = b * QK_K + 128 * h + 32 * k;
        for (let half = 0; half < 2; half++) {
          const dl = fr(d * ((src[o + 192 + 8 * h + 2 * k + half] << 24) >> 24));
          for (let l = 16 * half; l < 16 * half + 16; l++) {
            const q = (((src[ql + l] >> lowShift) & 15) | (((src[qh + l] >> highShift) & 3) << 4)) - 32;
            dst[y + l] = dl * q;
          }
        }
      }
    }
  }
}
