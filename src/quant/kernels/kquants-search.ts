/**
 * The scale searches of Q6_K (make_qx_quants, rmse_type 1, no weights) and Q3_K
 * (make_q3_quants with do_rmse), quantization-and-gguf.md §4.4, with ggml's float32 results bit
 * for bit: one Math.fround per C operation, in C's order (§6). make_qkx2_quants (Q2_K, Q4_K,
 * Q5_K) is in kquants-qkx2.ts.
 *
 * make_qx_quants tries 19 scales over 16 values; its float32 sums are the cost in JS (an add and
 * two conversions per step on the loop-carried path, where C has one addss). Its trials are
 * independent (each depends only on its iscale and the data), so all trial levels are computed
 * first, a trial whose levels equal the previous trial's is skipped (same sums: adopting it
 * again would change nothing, and a rejected one stays rejected), and the sums of two trials
 * run interleaved in one loop so their dependency chains overlap.
 */
import { GROUP_MAX_EPS, nearestInt } from "./common.ts";

const fr = Math.fround;
/** C's `0.1f` */
export const F32_0_1 = Math.fround(0.1);

/** Sub-block size and trial count of make_qx_quants for Q6_K. */
const MAX_N = 16;
const MAX_ROWS = 19;

// Module-level scratch, reused by every call: no allocation per block.
const XS = new Float64Array(MAX_N); // the sub-block's values
const WS = new Float64Array(MAX_N); // x*x
const WX = new Float64Array(MAX_N); // (x*x)*x
const LEVELS = new Uint8Array(MAX_ROWS * MAX_N); // row t: the levels of trial t
const UNIQUE = new Int32Array(MAX_ROWS); // trials whose levels differ from the previous trial's
const SUMLX = new Float64Array(MAX_ROWS); // per trial
const SUML2 = new Float64Array(MAX_ROWS);

/**
 * Levels clamp(nearest_int(iscale * x), -nmax, nmax-1) + nmax of one trial into LEVELS row
 * `row`; true when they equal row `prev` (never when prev < 0).
 */
function qxLevels(n: number, nmax: number, iscale: number, row: number, prev: number): boolean {
  const nn = n | 0;
  const hi = (nmax - 1) | 0;
  const lo = -nmax | 0;
  const off = nmax | 0;
  const is = fr(iscale);
  const r = (row * MAX_N) | 0;
  const p = prev < 0 ? r : (prev * MAX_N) | 0;
  let diff = prev < 0 ? 1 : 0;
  for (let i = 0; i < nn; i++) {
    const v = fr(is * XS[i]);
    // nearest_int's common case inline (see common.ts), the general one through the helper
    const s = fr(v + 12582912);
    let l = (s >= 8388608 && s < 16777216 ? s - 12582912 : nearestInt(v)) | 0;
    l = l < hi ? l : hi;
    l = l > lo ? l : lo;
    const q = l + off;
    diff |= q ^ LEVELS[p + i];
    LEVELS[r + i] = q;
  }
  return diff === 0;
}

/** sumlx += w*x*l and suml2 += w*l*l of trials a and b (a may equal b), interleaved. */
function qxSums(n: number, nmax: number, a: number, b: number): void {
  const nn = n | 0;
  const off = nmax | 0;
  const ra = (a * MAX_N) | 0;
  const rb = (b * MAX_N) | 0;
  let lxa = 0, l2a = 0, lxb = 0, l2b = 0;
  for (let i = 0; i < nn; i++) {
    const w = WS[i];
    const wx = WX[i];
    const qa = (LEVELS[ra + i] - off) | 0;
    const qb = (LEVELS[rb + i] - off) | 0;
    lxa = fr(lxa + fr(wx * qa));
    lxb = fr(lxb + fr(wx * qb));
    l2a = fr(l2a + fr(fr(w * qa) * qa));
    l2b = fr(l2b + fr(fr(w * qb) * qb));
  }
  SUMLX[a] = lxa;
  SUML2[a] = l2a;
  SUMLX[b] = lxb;
  SUML2[b] = l2b;
}

/**
 * make_qx_quants(n, nmax, x + xo, L + lo, rmse_type = 1, qw = NULL) for n <= 16, the Q6_K
 * search: writes n levels 0..2*nmax-1 to L from lo and returns the scale.
 */
export function makeQxQuants(n: number, nmax: number, x: Float32Array, xo: number, L: Uint8Array, lo: number): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i];
    const ax = Math.abs(xi);
    if (ax > amax) {
      amax = ax;
      max = xi;
    }
    XS[i] = xi;
    const w = fr(xi * xi);
    WS[i] = w;
    WX[i] = fr(w * xi);
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  // Row 0: iscale = -nmax / max, C's first pass; rows 1..18: is = -9..-1, 1..9.
  qxLevels(n, nmax, fr(-nmax / max), 0, -1);
  UNIQUE[0] = 0;
  let unique = 1;
  for (let t = 1; t <= 18; t++) {
    const is = t <= 9 ? t - 10 : t - 9;
    const iscale = fr(-fr(nmax + fr(F32_0_1 * is)) / max);
    if (!qxLevels(n, nmax, iscale, t, t - 1)) UNIQUE[unique++] = t;
  }
  for (let k = 0; k < unique; k += 2) qxSums(n, nmax, UNIQUE[k], UNIQUE[k + 1 < unique ? k + 1 : k]);

  let sumlx = SUMLX[0];
  let suml2 = SUML2[0];
  let scale = suml2 !== 0 ? fr(sumlx / suml2) : 0; // C: suml2 ? ... (NaN is true)
  let best = fr(scale * sumlx);
  let bestRow = 0;
  for (let k = 1; k < unique; k++) {
    const t = UNIQUE[k];
    sumlx = SUMLX[t];
    suml2 = SUML2[t];
    if (suml2 > 0 && fr(sumlx * sumlx) > fr(best * suml2)) {
      bestRow = t;
      scale = fr(sumlx / suml2);
      best = fr(scale * sumlx);
    }
  }
  L.set(LEVELS.subarray(bestRow * MAX_N, bestRow * MAX_N + n), lo);
  return scale;
}

const Q3_L = new Int8Array(16);

/**
 * make_q3_quants(n, nmax, x + xo, L + lo, do_rmse = true), the Q3_K search (n <= 16): writes n
 * levels 0..2*nmax-1 to L from lo (all 0 for an all-zero group) and returns the scale.
 */
export function makeQ3Quants(n: number, nmax: number, x: Float32Array, xo: number, L: Uint8Array, lo: number): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i];
    const ax = Math.abs(xi);
    if (ax > amax) {
      amax = ax;
      max = xi;
    }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  const iscale = fr(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i];
    let l = nearestInt(fr(iscale * xi)) | 0;
    l = l < nmax - 1 ? l : nmax - 1;
    l = l > -nmax ? l : -nmax;
    Q3_L[i] = l;
    const w = fr(xi * xi);
    WS[i] = w;
    WX[i] = fr(w * xi);
    sumlx = fr(sumlx + fr(WX[i] * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const w = WS[i];
      const wx = WX[i];
      const li = Q3_L[i];
      let slx = fr(sumlx - fr(wx * li));
      if (slx > 0) {
        let sl2 = fr(suml2 - fr(fr(w * li) * li));
        let nl = nearestInt(fr(fr(x[xo + i] * sl2) / slx)) | 0;
        nl = nl < nmax - 1 ? nl : nmax - 1;
        nl = nl > -nmax ? nl : -nmax;
        if (nl !== li) {
          slx = fr(slx + fr(wx * nl));
          sl2 = fr(sl2 + fr(fr(w * nl) * nl));
          if (sl2 > 0 && fr(fr(slx * slx) * suml2) > fr(fr(sumlx * sumlx) * sl2)) {
            Q3_L[i] = nl;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (changed === 0) break;
  }
  for (let i = 0; i < n; i++) L[lo + i] = Q3_L[i] + nmax;
  return suml2 > 0 ? fr(sumlx / suml2) : 0;
}
