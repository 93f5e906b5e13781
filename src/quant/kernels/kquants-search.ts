/**
 * The per-sub-block scale searches of ggml's K-quants (quantization-and-gguf.md §4.4):
 * make_qkx2_quants (Q2_K, Q4_K, Q5_K), make_qx_quants (Q6_K) and make_q3_quants (Q3_K),
 * reproducing ggml's float32 results bit for bit.
 *
 * Why this is not a line-by-line port: in C every float32 sum is one `addss` (4 cycles), but in
 * JS `s = fround(s + t)` is an add plus two conversions, about 14 cycles on the loop-carried
 * path, so a direct port is 3-5x slower than C. Three things win the time back without changing
 * a single result:
 *  1. The trial scales of a search are independent until the "is it better?" test, so all trial
 *     levels are computed first and the exact float32 sums of two trials run interleaved in one
 *     loop (two sets of dependency chains overlap).
 *  2. A trial whose levels equal the previous trial's cannot change the outcome (same sums, same
 *     candidate; the previous one was either adopted, making this one a tie that changes
 *     nothing, or rejected with the same best), so it is skipped.
 *  3. make_qkx2_quants' error of a candidate is a sum of non-negative float32 terms. Its exact
 *     float32 sequential sum lies within a relative 32 * 2^-24 of the float64 sum of the same
 *     terms, so the float64 sum (no rounding on the critical path) decides every comparison
 *     that is not within 1e-5 of a tie; only near-ties (and NaN) compute the exact float32 sums.
 * All other arithmetic is C's: one Math.fround per C operation, in C's order (§6).
 */
import { GROUP_MAX_EPS, nearestInt } from "./common.ts";

const fr = Math.fround;
/** C's `0.1f` */
export const F32_0_1 = Math.fround(0.1);

/** Largest sub-block (Q4_K/Q5_K) and most trial rows (Q4_K: 21 trials + the initial guess). */
const MAX_N = 32;
const MAX_ROWS = 22;

// Module-level scratch, reused by every call: no allocation per block.
const XS = new Float64Array(MAX_N); // the sub-block's values
const WS = new Float64Array(MAX_N); // weights (qkx2) or x*x (qx)
const WX = new Float64Array(MAX_N); // qx: (x*x)*x
const DX = new Float64Array(MAX_N); // qkx2: x - min
const LEVELS = new Uint8Array(MAX_ROWS * MAX_N); // row t: the levels of trial t
const TERMS = new Float64Array(MAX_ROWS * MAX_N); // row t: the float32 error terms of trial t
const UNIQUE = new Int32Array(MAX_ROWS); // trials whose levels differ from the previous trial's
const SUM_A = new Float64Array(MAX_ROWS); // per trial: sum_l (qkx2) or sumlx (qx)
const SUM_B = new Float64Array(MAX_ROWS); // per trial: sum_l2 (qkx2) or suml2 (qx)
const SUM_C = new Float64Array(MAX_ROWS); // per trial: sum_xl (qkx2)

/** Relative distance between the float64 and the exact float32 sum of <= 32 non-negative terms
 * that certainly covers both rounding errors (32 * 2^-24 = 1.9e-6, plus float64's 32 * 2^-53). */
const SUM_MARGIN = 1e-5;
const BELOW = 1 - SUM_MARGIN;
const ABOVE = 1 + SUM_MARGIN;

/**
 * Levels clamp(nearest_int(iscale * DX[i]), 0, nmax) of one trial into LEVELS row `row`.
 * Returns true when they equal row `prev` (pass prev < 0 for no comparison).
 */
function qkx2Levels(n: number, nmax: number, iscale: number, row: number, prev: number): boolean {
  const r = row * MAX_N;
  let diff = prev < 0 ? 1 : 0;
  const p = prev * MAX_N;
  for (let i = 0; i < n; i++) {
    let l = nearestInt(fr(iscale * DX[i]));
    l = l > nmax ? nmax : l;
    l = l < 0 ? 0 : l;
    LEVELS[r + i] = l;
    if (prev >= 0) diff |= l ^ LEVELS[p + i];
  }
  return diff === 0;
}

/** qkx2 sums of two trials at once (a may equal b): sum_l, sum_l2, sum_xl as C accumulates them. */
function qkx2Sums(n: number, a: number, b: number): void {
  const ra = a * MAX_N;
  const rb = b * MAX_N;
  let la = 0, l2a = 0, xla = 0, lb = 0, l2b = 0, xlb = 0;
  for (let i = 0; i < n; i++) {
    const w = WS[i];
    const x = XS[i];
    const qa = LEVELS[ra + i];
    const qb = LEVELS[rb + i];
    const wa = fr(w * qa);
    const wb = fr(w * qb);
    la = fr(la + wa);
    lb = fr(lb + wb);
    l2a = fr(l2a + fr(wa * qa));
    l2b = fr(l2b + fr(wb * qb));
    xla = fr(xla + fr(wa * x));
    xlb = fr(xlb + fr(wb * x));
  }
  SUM_A[a] = la;
  SUM_B[a] = l2a;
  SUM_C[a] = xla;
  SUM_A[b] = lb;
  SUM_B[b] = l2b;
  SUM_C[b] = xlb;
}

/**
 * The float32 error terms w * err((scale * L + min) - x) of trial `row` into TERMS; returns
 * their float64 sum (an approximation of C's float32 running sum, see SUM_MARGIN).
 */
function qkx2ErrorTerms(n: number, row: number, scale: number, min: number, useMad: boolean): number {
  const r = row * MAX_N;
  let s0 = 0;
  let s1 = 0;
  if (useMad) {
    for (let i = 0; i < n; i += 2) {
      const d0 = fr(fr(fr(scale * LEVELS[r + i]) + min) - XS[i]);
      const d1 = fr(fr(fr(scale * LEVELS[r + i + 1]) + min) - XS[i + 1]);
      const e0 = fr(WS[i] * Math.abs(d0));
      const e1 = fr(WS[i + 1] * Math.abs(d1));
      TERMS[r + i] = e0;
      TERMS[r + i + 1] = e1;
      s0 += e0;
      s1 += e1;
    }
  } else {
    for (let i = 0; i < n; i += 2) {
      const d0 = fr(fr(fr(scale * LEVELS[r + i]) + min) - XS[i]);
      const d1 = fr(fr(fr(scale * LEVELS[r + i + 1]) + min) - XS[i + 1]);
      const e0 = fr(WS[i] * fr(d0 * d0));
      const e1 = fr(WS[i + 1] * fr(d1 * d1));
      TERMS[r + i] = e0;
      TERMS[r + i + 1] = e1;
      s0 += e0;
      s1 += e1;
    }
  }
  return s0 + s1;
}

/** C's float32 running sum of trial `row`'s error terms. */
function exactErrorSum(n: number, row: number): number {
  const r = row * MAX_N;
  let s = 0;
  for (let i = 0; i < n; i++) s = fr(s + TERMS[r + i]);
  return s;
}

// The state of one make_qkx2_quants call that evaluateTrial reads and updates.
let kN = 0;
let kMax = 0;
let kSumW = 0;
let kSumX = 0;
let kUseMad = false;
let kRange = 0; // max - min, with the current min
let kScale = 0; // best so far
let kMin = 0;
let kBest = 0; // LEVELS/TERMS row of the best candidate
let kBestApprox = 0;
let kBestExact = 0;
let kBestExactKnown = false;

/** C's `min = this_min` on adoption also moves the next trials' levels and iscale. */
function setMin(min: number): void {
  kMin = min;
  kRange = fr(kMax - min);
  for (let i = 0; i < kN; i++) DX[i] = fr(XS[i] - min);
}

/**
 * The candidate of trial row t (levels and sums already computed); adopts it when its error is
 * strictly below the best one, as C does. Returns true when adopted.
 */
function evaluateTrial(t: number): boolean {
  const n = kN;
  const sumL = SUM_A[t];
  const sumL2 = SUM_B[t];
  const sumXL = SUM_C[t];
  const D = fr(fr(kSumW * sumL2) - fr(sumL * sumL));
  if (!(D > 0)) return false;
  let thisScale = fr(fr(fr(kSumW * sumXL) - fr(kSumX * sumL)) / D);
  let thisMin = fr(fr(fr(sumL2 * kSumX) - fr(sumL * sumXL)) / D);
  if (thisMin > 0) {
    thisMin = 0;
    thisScale = fr(sumXL / sumL2);
  }
  const approx = qkx2ErrorTerms(n, t, thisScale, thisMin, kUseMad);
  // C: if (cur_error < best_error). Decided on the float64 sums unless they are within the
  // margin of a tie (or NaN, which fails both tests), then on the exact float32 sums.
  if (approx * BELOW >= kBestApprox * ABOVE) return false;
  if (approx * ABOVE < kBestApprox * BELOW) {
    kBestExactKnown = false;
  } else {
    if (!kBestExactKnown) kBestExact = exactErrorSum(n, kBest);
    const exact = exactErrorSum(n, t);
    if (!(exact < kBestExact)) return false;
    kBestExact = exact;
    kBestExactKnown = true;
  }
  kBest = t;
  kBestApprox = approx;
  kScale = thisScale;
  if (thisMin !== kMin) setMin(thisMin);
  else kMin = thisMin; // same value (maybe the other zero): levels and range unchanged
  return true;
}

function trialIscale(nmax: number, rmin: number, rdelta: number, is: number): number {
  return fr(fr(fr(rmin + fr(rdelta * is)) + nmax) / kRange);
}

/**
 * make_qkx2_quants(n, nmax, x + xo, weights, L + lo, &mins[mj], Laux, rmin, rdelta, nstep, use_mad)
 * for nstep >= 1 (every K-quant caller): writes n levels 0..nmax to L from lo, -min to mins[mj],
 * and returns the scale.
 *
 * The trials are not independent: adopting a candidate sets `min`, which shifts the levels and
 * iscale of every later trial. So trials go in pairs: the second one's levels are computed
 * speculatively with the current min, its sums interleaved with the first's, and it is
 * recomputed when the first one is adopted with a different min.
 */
export function makeQkx2Quants(
  n: number, nmax: number, x: Float32Array, xo: number, weights: Float32Array,
  L: Uint8Array, lo: number, mins: Float32Array, mj: number,
  rmin: number, rdelta: number, nstep: number, useMad: boolean,
): number {
  let min = x[xo];
  let max = min;
  let sumW = weights[0];
  let sumX = fr(sumW * min);
  XS[0] = min;
  WS[0] = sumW;
  for (let i = 1; i < n; i++) {
    const xi = x[xo + i];
    const w = weights[i];
    XS[i] = xi;
    WS[i] = w;
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    sumW = fr(sumW + w);
    sumX = fr(sumX + fr(w * xi));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, lo, lo + n);
    mins[mj] = -min;
    return 0;
  }
  kN = n;
  kMax = max;
  kSumW = sumW;
  kSumX = sumX;
  kUseMad = useMad;
  setMin(min);

  // The initial guess lives in the row after the trials.
  const init = nstep + 1;
  const iscale0 = fr(nmax / kRange);
  kScale = fr(1 / iscale0);
  qkx2Levels(n, nmax, iscale0, init, -1);
  kBest = init;
  kBestApprox = qkx2ErrorTerms(n, init, kScale, kMin, useMad);
  kBestExactKnown = false;

  let prev = -1; // row holding the previous trial's levels
  let is = 0;
  while (is <= nstep) {
    const a = is;
    const b = a + 1;
    const newA = !qkx2Levels(n, nmax, trialIscale(nmax, rmin, rdelta, a), a, prev);
    const newB = b <= nstep && !qkx2Levels(n, nmax, trialIscale(nmax, rmin, rdelta, b), b, a);
    if (newA) qkx2Sums(n, a, newB ? b : a);
    else if (newB) qkx2Sums(n, b, b);
    const minBefore = kMin;
    if (newA && evaluateTrial(a) && kMin !== minBefore) {
      prev = a; // b's speculative levels used the old min: redo b
      is = b;
      continue;
    }
    if (newB) evaluateTrial(b);
    prev = b;
    is = b + 1;
  }
  L.set(LEVELS.subarray(kBest * MAX_N, kBest * MAX_N + n), lo);
  mins[mj] = -kMin;
  return kScale;
}

/** Levels of one make_qx_quants trial, stored as l + nmax; true when equal to row `prev`. */
function qxLevels(n: number, nmax: number, iscale: number, row: number, prev: number): boolean {
  const r = row * MAX_N;
  const p = prev * MAX_N;
  let diff = prev < 0 ? 1 : 0;
  for (let i = 0; i < n; i++) {
    let l = nearestInt(fr(iscale * XS[i]));
    l = l < nmax - 1 ? l : nmax - 1;
    l = l > -nmax ? l : -nmax;
    const q = l + nmax;
    LEVELS[r + i] = q;
    if (prev >= 0) diff |= q ^ LEVELS[p + i];
  }
  return diff === 0;
}

/** qx sums of two trials at once (a may equal b): sumlx += w*x*l, suml2 += w*l*l. */
function qxSums(n: number, nmax: number, a: number, b: number): void {
  const ra = a * MAX_N;
  const rb = b * MAX_N;
  let lxa = 0, l2a = 0, lxb = 0, l2b = 0;
  for (let i = 0; i < n; i++) {
    const w = WS[i];
    const wx = WX[i];
    const qa = LEVELS[ra + i] - nmax;
    const qb = LEVELS[rb + i] - nmax;
    lxa = fr(lxa + fr(wx * qa));
    lxb = fr(lxb + fr(wx * qb));
    l2a = fr(l2a + fr(fr(w * qa) * qa));
    l2b = fr(l2b + fr(fr(w * qb) * qb));
  }
  SUM_A[a] = lxa;
  SUM_B[a] = l2a;
  SUM_A[b] = lxb;
  SUM_B[b] = l2b;
}

/**
 * make_qx_quants(n, nmax, x + xo, L + lo, rmse_type = 1, qw = NULL), the Q6_K search: writes n
 * levels 0..2*nmax-1 to L from lo and returns the scale.
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
  // Row 0: iscale = -nmax / max; rows 1..18: is = -9..-1, 1..9.
  qxLevels(n, nmax, fr(-nmax / max), 0, -1);
  UNIQUE[0] = 0;
  let unique = 1;
  for (let t = 1; t <= 18; t++) {
    const is = t <= 9 ? t - 10 : t - 9;
    const iscale = fr(-fr(nmax + fr(F32_0_1 * is)) / max);
    if (!qxLevels(n, nmax, iscale, t, t - 1)) UNIQUE[unique++] = t;
  }
  for (let k = 0; k < unique; k += 2) qxSums(n, nmax, UNIQUE[k], UNIQUE[k + 1 < unique ? k + 1 : k]);

  let sumlx = SUM_A[0];
  let suml2 = SUM_B[0];
  let scale = suml2 !== 0 ? fr(sumlx / suml2) : 0; // C: suml2 ? ... (NaN is true)
  let best = fr(scale * sumlx);
  let bestRow = 0;
  for (let k = 1; k < unique; k++) {
    const t = UNIQUE[k];
    sumlx = SUM_A[t];
    suml2 = SUM_B[t];
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
    let l = nearestInt(fr(iscale * xi));
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
        let nl = nearestInt(fr(fr(x[xo + i] * sl2) / slx));
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
