/**
 * The scale searches of Q6_K (make_qx_quants, rmse_type 1, no weights) and Q3_K
 * (make_q3_quants with do_rmse), quantization-and-gguf.md §4.4, with ggml's float32 results bit
 * for bit: one Math.fround per C operation, in C's order (§6). make_qkx2_quants (Q2_K, Q4_K,
 * Q5_K) is in kquants-qkx2.ts.
 *
 * make_qx_quants tries 19 scales over 16 values, and its cost in JS is the levels (a float32
 * product and nearest_int per value and trial) and the float32 sums (an add and two conversions
 * per step on the loop-carried path, where C has one addss). Its trials are independent, and a
 * value's level is monotone across them, so levels are re-evaluated only where they can change
 * (findEvents); each trial's sums are taken in float64 (exact products), and C's "is it
 * better?" test is decided on them with a rigorous bound on C's float32 values (qxDecide); only
 * the first trial, adopted trials and near-ties get C's exact float32 sums. A trial whose levels
 * equal the previous trial's is skipped (same sums: adopting it again would change nothing, and
 * a rejected one stays rejected, since best only changes on adoption).
 */
import { GROUP_MAX_EPS, maxInt, minInt, nearestInt } from "./common.ts";

const fr = Math.fround;
/** C's `0.1f` */
export const F32_0_1 = Math.fround(0.1);

/** Sub-block size and trial count of make_qx_quants for Q6_K. */
const MAX_N = 16;
const TRIALS = 19;

// Module-level scratch, reused by every call: no allocation per block.
const XS = new Float64Array(32); // the sub-block's values
const WS = new Float64Array(32); // fr(x*x)
const WX = new Float64Array(32); // fr(fr(x*x)*x)
const ISCALE = new Float64Array(32); // trial k's iscale (k = is + 9)
const REACH = new Float64Array(32); // findEvents: |ISCALE[k]|, widened
const NUMER = new Float64Array(32); // -fr(nmax + 0.1f*is) for trial k, for nmax = numerNmax
let numerNmax = -1;
const LEVEL0 = new Uint8Array(128); // the levels (l + nmax) of trial 0
const EV_COUNT = new Int32Array(32); // how many levels change in trial k
const EVENTS = new Int32Array(TRIALS * MAX_N); // trial k's changes: value index | (new level << 8)
const CUR_L = new Uint8Array(128); // the levels of the trial being evaluated
const BEST_L = new Uint8Array(128); // the best trial's levels
// curSums/applyEvents: float64 lx, weighted sum |lx|, l2, weighted l2 in SUMS[0], [1], [2], [5];
// exactSums: C's sumlx, suml2 in SUMS[3], [4]
const SUMS = new Float64Array(32);
const OMEGA = new Float64Array(32); // value i's weight in C's summation error bound, for n = omegaN
let omegaN = -1;

const U = 2 ** -24; // float32 unit roundoff
/**
 * C's float32 running sum s_k = fr(s_(k-1) + t'_k) of n rounded products t'_i (t_i exact; one
 * rounding for sumlx's, two for suml2's) lies within u (1+u)^17 sum_i |t_i| omega_i of
 * sum t_i, with omega_i = n - max(i, 1) + 2: each of the n - 1 additions after the first
 * (exact) one errs by at most u |s_(k-1) + t'_k| <= u (1+u)^15 sum_(i<=k) |t'_i|, so term i
 * enters the additions i..n-1 (from 1), plus its own <= 2u (1+u) rounding. SUM_U covers
 * (1+u)^17 and the float64 sums' error (below 1e-13 sum |t_i| <= 5e-14 sum omega_i |t_i|).
 */
const SUM_U = 1.0001 * U;
/** float32 underflow: 2^-150 per rounding, with room */
const TINY = 1e-43;

/**
 * C's nearest_int(fr(a * b)) for float32 a and b. Their product p is exact in float64, and
 * rounding it to float32 moves it by at most 2^-19 while |p| < 64, so unless p lies that close to
 * a half-integer, round-half-even of fr(p) is floor(p + 0.5) (cheaper in V8 than the float32
 * trick). Otherwise, or out of that range, it is computed as C does.
 */
export function nearestIntOfProduct(a: number, b: number): number {
  const p = a * b;
  const y = p + 0.5;
  const f = Math.floor(y);
  const frac = y - f;
  if (frac > 1.5e-5 && frac < 0.999985 && y < 64 && y > -64) return f | 0;
  const v = fr(p);
  const s = fr(v + 12582912) - 12582912; // nearest_int's common case (see common.ts)
  return (s >= -4194304 && s < 4194304 ? s : nearestInt(v)) | 0;
}

/** C's level of value x in a trial with this iscale: clamp(nearest_int(iscale * x), -nmax, nmax-1) + nmax. */
function qxLevel(x: number, iscale: number, nmax: number): number {
  let l = nearestIntOfProduct(iscale, x);
  l = l < nmax - 1 ? l : nmax - 1;
  l = l > -nmax ? l : -nmax;
  return l + nmax;
}

/**
 * Every value's level in every trial, as its level in trial 0 (LEVEL0) and the trials where it
 * changes (EVENTS), evaluating C's level only where it can change. From trial to trial (is =
 * -9..9) |iscale| grows, so |iscale * x| grows and a level moves away from 0 (the float32
 * product, round-half-even, which is symmetric, and the clamp are monotone; |product| <= 33 keeps
 * nearest_int exact): level l can only change once |iscale| reaches (|l| + 0.5) / |x|. Below that
 * by a relative 1.1e-6 (far more than float32's rounding of the product and float64's of the
 * threshold) it cannot, so a value is re-evaluated only in the trials from its threshold on,
 * found directly (firstReach) instead of testing every trial. By the same monotonicity a value
 * whose level in the last trial equals its level in trial 0 has no events at all (most values;
 * they need neither 1 / |x| nor a threshold search). Also writes each value's level in trial 9
 * (C's first pass) to BEST_L.
 */
function findEvents(n: number, nmax: number, amax: number): void {
  const xsA = XS;
  const iscaleA = ISCALE;
  const reachA = REACH;
  const level0A = LEVEL0;
  const level9A = BEST_L;
  const evCountA = EV_COUNT;
  const eventsA = EVENTS;
  for (let k = 0; k < TRIALS; k++) {
    reachA[k] = Math.abs(iscaleA[k]) * 1.0000011; // REACH >= threshold: |iscale| > threshold * (1 - 1.1e-6)
    evCountA[k] = 0;
  }
  const last = TRIALS - 1;
  for (let i = 0; i < n; i++) {
    const xi = xsA[i];
    let q = qxLevel(xi, iscaleA[0], nmax);
    level0A[i] = q;
    // Levels are monotone across the trials: the same level in the last trial means no change
    // at all, and once a value reaches its last level it changes no more.
    const qLast = qxLevel(xi, iscaleA[last], nmax);
    level9A[i] = q;
    if (qLast === q) continue;
    const inv = 1 / Math.abs(xi); // x != 0: x = 0 keeps level 0 in every trial
    let k = firstReach(changeAt(q, inv, nmax), 1, nmax, amax);
    while (k < TRIALS) {
      const q2 = qxLevel(xi, iscaleA[k], nmax);
      if (q2 !== q) {
        eventsA[k * MAX_N + evCountA[k]] = i | (q2 << 8);
        evCountA[k]++;
        q = q2;
        if (k <= 9) level9A[i] = q;
        if (q === qLast) break;
        k = firstReach(changeAt(q, inv, nmax), k + 1, nmax, amax);
      } else {
        k++;
      }
    }
  }
}

/**
 * The |iscale| from which level q (stored l + nmax) of a value could change, else Infinity
 * (inv: its 1 / |x|; 0 for an infinite x, whose level never changes).
 */
function changeAt(q: number, inv: number, nmax: number): number {
  const l = q - nmax;
  // at the clamp on its side, or x infinite: never
  return l >= nmax - 1 || l <= -nmax || inv === 0 ? Infinity : (Math.abs(l) + 0.5) * inv;
}

/**
 * The first trial k >= from with REACH[k] >= t (TRIALS if none). REACH is nondecreasing
 * (|iscale| = fr(fr(nmax + 0.1f*is) / |max|) is), so a guess from the trial formula, corrected by
 * comparisons, is exact.
 */
function firstReach(t: number, from: number, nmax: number, amax: number): number {
  const reachA = REACH;
  const guess = 9 + (t * amax - nmax) * 10;
  let k = from | 0;
  if (guess > from) k = guess < TRIALS ? Math.ceil(guess) | 0 : TRIALS; // NaN: from
  while (k > from && reachA[k - 1] >= t) k--;
  while (k < TRIALS && reachA[k] < t) k++;
  return k;
}

/**
 * Float64 sums of the levels in CUR_L (exact products) into SUMS: lx = sum wx*l,
 * sum omega*|wx*l|, l2 = sum w*l*l, sum omega*w*l*l.
 */
function curSums(n: number, nmax: number): void {
  const wsA = WS;
  const wxA = WX;
  const omegaA = OMEGA;
  const curLA = CUR_L;
  const sumsA = SUMS;
  let lx = 0, alx = 0, l2 = 0, ol2 = 0;
  for (let i = 0; i < n; i++) {
    const l = (curLA[i] - nmax) | 0;
    const t = wxA[i] * l;
    const t2 = wsA[i] * l * l;
    lx += t;
    alx += omegaA[i] * Math.abs(t);
    l2 += t2;
    ol2 += omegaA[i] * t2;
  }
  sumsA[0] = lx;
  sumsA[1] = alx;
  sumsA[2] = l2;
  sumsA[5] = ol2;
}

/**
 * Applies trial k's level changes to CUR_L and the float64 SUMS. Each update is exact but for a
 * few float64 roundings, so after the <= 3 * 16 updates of a search the sums are still within
 * 1e-13 of their sums of |terms| (levels only move away from 0, so the weighted sums of |terms|
 * only grow). Returns the number of changes.
 */
function applyEvents(k: number, nmax: number): number {
  const wsA = WS;
  const wxA = WX;
  const evCountA = EV_COUNT;
  const eventsA = EVENTS;
  const curLA = CUR_L;
  const sumsA = SUMS;
  const omegaA = OMEGA;
  const c = evCountA[k];
  if (c === 0) return 0;
  let lx = sumsA[0], alx = sumsA[1], l2 = sumsA[2], ol2 = sumsA[5];
  for (let e = k * MAX_N, end = e + c; e < end; e++) {
    const ev = eventsA[e];
    const i = ev & 255;
    const a = ev >> 8;
    const b = curLA[i];
    curLA[i] = a;
    const la = (a - nmax) | 0;
    const lb = (b - nmax) | 0;
    const wx = wxA[i];
    const om = omegaA[i];
    const d2 = wsA[i] * (la * la - lb * lb);
    lx += wx * (la - lb);
    alx += om * (Math.abs(wx * la) - Math.abs(wx * lb));
    l2 += d2;
    ol2 += om * d2;
  }
  sumsA[0] = lx;
  sumsA[1] = alx;
  sumsA[2] = l2;
  sumsA[5] = ol2;
  return c;
}

/** C's float32 sumlx += w*x*l and suml2 += w*l*l of the levels (l + nmax) in curLA into SUMS[3], SUMS[4]. */
function exactSums(n: number, nmax: number, curLA: Uint8Array): void {
  const wsA = WS;
  const wxA = WX;
  const sumsA = SUMS;
  let lx = 0, l2 = 0;
  for (let i = 0; i < n; i++) {
    const q = (curLA[i] - nmax) | 0;
    lx = fr(lx + fr(wxA[i] * q));
    l2 = fr(l2 + fr(fr(wsA[i] * q) * q));
  }
  sumsA[3] = lx;
  sumsA[4] = l2;
}

/**
 * C's test `suml2 > 0 && sumlx*sumlx > best*suml2` for the row whose float64 sums are in SUMS,
 * decided on them when possible: C's float32 sums lie within SUM_U times their weighted sums of
 * |terms| of them (see SUM_U), and each product adds one float32 rounding. Returns 1 (certainly true),
 * 0 (certainly false) or -1 (undecided, NaN, or magnitudes where a float32 step could overflow).
 */
function qxDecide(best: number): number {
  const sumsA = SUMS;
  const lx = sumsA[0];
  const rx = SUM_U * sumsA[1] + TINY;
  const l2 = sumsA[2];
  const r2 = SUM_U * sumsA[5] + TINY;
  const xLo = Math.abs(lx) - rx; // |sumlx| >= xLo
  const xHi = Math.abs(lx) + rx;
  const sqLo = xLo > 0 ? xLo * xLo * (1 - 2 * U) - TINY : 0;
  const sqHi = xHi * xHi * (1 + 2 * U) + TINY;
  const ab = Math.abs(best);
  const pLo = best * l2 - ab * r2; // best * suml2 before its rounding
  const pHi = best * l2 + ab * r2;
  const rhsLo = pLo - U * Math.abs(pLo) - TINY;
  const rhsHi = pHi + U * Math.abs(pHi) + TINY;
  // far from float32 overflow (sums of |terms| below 1e37 keep C's partial sums finite too)
  if (!(sqHi < 1e37 && Math.abs(pLo) < 1e37 && Math.abs(pHi) < 1e37 && sumsA[5] + r2 < 1e37 && sumsA[1] + rx < 1e37)) return -1;
  if (l2 - r2 > 0 && sqLo > rhsHi) return 1;
  if (l2 + r2 <= 0 || sqHi <= rhsLo) return 0;
  return -1;
}

/**
 * make_qx_quants(n, nmax, x + xo, L + lo, rmse_type = 1, qw = NULL) for n <= 16, the Q6_K
 * search: writes n levels 0..2*nmax-1 to L from lo and returns the scale.
 */
export function makeQxQuants(n: number, nmax: number, x: Float32Array, xo: number, L: Uint8Array, lo: number): number {
  const xsA = XS;
  const wsA = WS;
  const wxA = WX;
  const iscaleA = ISCALE;
  const numerA = NUMER;
  const level0A = LEVEL0;
  const evCountA = EV_COUNT;
  const curLA = CUR_L;
  const bestLA = BEST_L;
  const sumsA = SUMS;
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i];
    const ax = Math.abs(xi);
    if (ax > amax) {
      amax = ax;
      max = xi;
    }
    xsA[i] = xi;
    const w = fr(xi * xi);
    wsA[i] = w;
    wxA[i] = fr(w * xi);
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  // Trial k = is + 9: iscale = -(nmax + 0.1f*is) / max; is = 0 is C's first pass (-nmax / max).
  if (n !== omegaN) {
    for (let i = 0; i < n; i++) OMEGA[i] = n - (i > 1 ? i : 1) + 2;
    omegaN = n;
  }
  if (nmax !== numerNmax) {
    for (let k = 0; k < TRIALS; k++) numerA[k] = -fr(nmax + fr(F32_0_1 * (k - 9)));
    numerNmax = nmax;
  }
  for (let k = 0; k < TRIALS; k++) iscaleA[k] = fr(numerA[k] / max);
  findEvents(n, nmax, amax);

  // Trial 9 (C's first pass, always exactly: its levels are in BEST_L), then trial 0's float64
  // sums, then C's order: is = -9..-1, 1..9.
  exactSums(n, nmax, bestLA);
  let sumlx = sumsA[3];
  let suml2 = sumsA[4];
  let scale = suml2 !== 0 ? fr(sumlx / suml2) : 0; // C: suml2 ? ... (NaN is true)
  let best = fr(scale * sumlx);
  for (let i = 0; i < n; i++) curLA[i] = level0A[i];
  curSums(n, nmax);
  let changedTo9 = 0;
  for (let k = 1; k <= 9; k++) changedTo9 += evCountA[k];
  // A trial whose levels equal the previous evaluated trial's (trial 9 for trial 0, trial 8 for
  // trial 10) is skipped: levels only move away from 0, so they differ exactly when some change
  // lies between.
  let changed = changedTo9;
  for (let k = 0; k < TRIALS; k++) {
    if (k > 0) changed += applyEvents(k, nmax);
    if (k === 9 || changed === 0) continue;
    changed = 0;
    const decision = qxDecide(best);
    if (decision === 0) continue;
    exactSums(n, nmax, curLA);
    sumlx = sumsA[3];
    suml2 = sumsA[4];
    if (decision === 1 || (suml2 > 0 && fr(sumlx * sumlx) > fr(best * suml2))) {
      for (let i = 0; i < n; i++) bestLA[i] = curLA[i];
      scale = fr(sumlx / suml2);
      best = fr(scale * sumlx);
    }
  }
  for (let i = 0; i < n; i++) L[lo + i] = bestLA[i];
  return scale;
}

// make_q3_quants' own scratch (V8 compiles typed-array accesses tighter when a hot function
// does not share its scratch arrays with another one; arrays of 64 bytes or less live on the
// moving heap, so these are larger).
const Q3_X = new Float64Array(32);
const Q3_W = new Float64Array(32);
const Q3_WX = new Float64Array(32);
const Q3_L = new Int32Array(64);

/**
 * q3Unchanged's relative radius of C's new level value around its float64 value t:
 * (1 + ε)/(1 - ε) (1 + u)^2 - 1 < 3.064e-5 for ε = 2^-16, plus float64's roundings in the
 * test (< 1e-15)
 */
const Q3_REL = 3.1e-5;

/**
 * True when C's pass over value x (weight w, wx = fr(w * x), level li) certainly changes nothing: either C's
 * slx = fr(sumlx - fr(wx * li)) is certainly <= 0, or the new level
 * clamp(nearest_int(fr(fr(x * sl2) / slx))) certainly equals li. Decided in float64 without a
 * division: slx and sl2 lie within e1, e2 = u (|product| + |result|) of their float64 values
 * (two float32 roundings each; for sl2, fr(w * l) * l rounds twice; 1.0001 covers float64's
 * own roundings; TINY float32 underflow). With |a| <= 254 slx, |b| <= 127 |sl2| and both above
 * 1e-30, e1 and e2 are at most 1.0001 * 255u = 0.9965 * 2^-16 of them plus TINY < 1e-13 of
 * them: relative radii at most ε = 2^-16 (else: the exact path). Then C's x * sl2' / slx' is
 * within a relative (1 + ε)/(1 - ε) - 1 of t = x * sl2 / slx, and its two float32 roundings add
 * a relative u each (the product stays normal: |x * sl2| > 1e-30) and at most 2^-150 of
 * underflow in the quotient, so C's value lies within Q3_REL |t| + 1e-14 of t; that test is
 * made on num = t * slx (slx > 0). |t| < 64 keeps nearest_int exact, so C's level is li when
 * its value lies in (li - 0.5, li + 0.5), or beyond the clamp on li's side. Tiny or huge
 * magnitudes and NaN are left to the exact path.
 */
function q3Unchanged(x: number, w: number, wx: number, li: number, sumlx: number, suml2: number, top: number, bottom: number, half: number): boolean {
  const a = wx * li; // exact
  const slx = sumlx - a;
  if (!(slx > 1e-30 && slx < 1e30 && Math.abs(a) <= 254 * slx)) {
    return slx + (1.0001 * U * (Math.abs(a) + Math.abs(slx)) + TINY) <= 0; // C's `if (slx > 0)` is false
  }
  const b = w * li * li; // exact, >= 0
  const sl2 = suml2 - b;
  const asl2 = Math.abs(sl2);
  const num = x * sl2;
  const an = Math.abs(num);
  if (!(b <= 127 * asl2 && asl2 > 1e-30 && an > 1e-30 && an < 64 * slx)) return false;
  // num - d > (li - 0.5) slx and num + d < (li + 0.5) slx for d = Q3_REL |num| + 1e-14 slx, by a
  // margin of c = Q3_REL nmax + 1e-13 (half = 0.5 - c) instead of d: with both tests
  // (bottom < li < top), |num| < (nmax - 0.5) slx, so d < c slx. At a clamp (one test, |num| up
  // to 64 slx) num lies beyond (nmax - 0.5 - c) slx (bottom) or (nmax - 1.5 + c) slx (top) on
  // the test's side, where d's relative part only shrinks num's distance by Q3_REL |num|: a
  // margin of ((nmax - 0.5) Q3_REL + 1e-14) / (1 - Q3_REL) < c suffices (for top = 0, nmax = 1,
  // a num of the other sign is within (0.5 - c) slx of 0, so d < c slx again).
  return (li === bottom || num > (li - half) * slx) && (li === top || num < (li + half) * slx);
}

/**
 * Relative radius of C's scale around the float64 scale searchQ3 returns when it leaves it
 * inexact (see there): at most 35.03u, with room.
 */
export const Q3_SCALE_REL = 36 * U;

/**
 * C's first level of value x in make_q3_quants: clamp(nearest_int(fr(iscale * x)), bottom, top).
 * nearestIntOfProduct's test without its range check: |iscale * x| <= nmax (1 + 2^-24) < 64
 * there (|x| <= |max|); NaN fails the test.
 */
function q3FirstLevel(iscale: number, xi: number, top: number, bottom: number): number {
  const y = iscale * xi + 0.5;
  const f = Math.floor(y);
  const frac = y - f;
  const l = frac > 1.5e-5 && frac < 0.999985 ? f | 0 : nearestIntOfProduct(iscale, xi);
  return maxInt(minInt(l, top), bottom);
}

/**
 * make_q3_quants(n, nmax, x + xo, L + lo, do_rmse = true), the Q3_K search (n <= 16, nmax < 64;
 * bits: x's values as Int32Array): writes n levels 0..2*nmax-1 to L from lo (all 0 for an
 * all-zero group), C's exact levels always. The scale goes to scales[j]: C's float32 scale when
 * exact[j] is 1, else (exact[j] 0) a float64 value s such that C's scale lies within
 * Q3_SCALE_REL |s| of s, with 1e-37 < |s| < 1e37 (q3ExactScale computes C's then;
 * quantize_row_q3_K_ref needs it only for a few sub-blocks).
 *
 * When max > 0, C's passes change nothing (below), and C's scale is fr(sumlx / suml2) of its
 * float32 running sums of the first levels, whose terms t_i = fr(wx * l_i) are all <= 0 (see
 * there) and w l_i^2 >= 0: with one sign per sum, sum omega_i |t_i| <= 17 |sum t_i|
 * (omega_i <= n + 1), so C's sums lie within 17 SUM_U of the float64 sums lx, l2 (exact
 * products wx * l, w * l * l: 24 + 3 + 3 bits; float64's own 15 roundings are inside SUM_U), plus
 * TINY, which is below 1e-13 of them while |lx|, l2 >= 1e-30: relative radii of 17.006u each.
 * Sums of |terms| below 1e30 keep C's partial sums finite. C's quotient is then within a
 * relative (1 + 17.006u)/(1 - 17.006u) - 1 < 34.02u of lx / l2, its float32 rounding adds u
 * (normal: |s| > 1e-37), float64's division 2^-53: 35.03u in all. NaN or Inf values make the
 * float64 sums NaN or Inf and fail the range tests: then C's sums are computed exactly.
 */
export function searchQ3(n: number, nmax: number, x: Float32Array, bits: Int32Array, xo: number, L: Uint8Array, lo: number, scales: Float64Array, exact: Uint8Array, j: number): void {
  const q3XA = Q3_X;
  const q3WA = Q3_W;
  const q3WxA = Q3_WX;
  const q3LA = Q3_L;
  const nn = n | 0;
  const top = (nmax - 1) | 0;
  const bottom = -nmax | 0;
  // C's max: the first value of largest |x| (NaN never is one), found on the bits: the bits of
  // |x| order as |x| does, NaN's above infinity's (zeroed here), and the strict > is a sign mask
  // instead of a branch that mispredicts (a third of this loop's time).
  let maxBits = 0;
  let at = 0;
  for (let i = 0; i < nn; i++) {
    let a = bits[xo + i] & 0x7fffffff;
    a &= ~((0x7f800000 - a) >> 31);
    const greater = (maxBits - a) >> 31;
    maxBits ^= (maxBits ^ a) & greater;
    at ^= (at ^ i) & greater;
  }
  const max = maxBits === 0 ? 0 : x[xo + at];
  const amax = Math.abs(max);
  exact[j] = 1;
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + nn);
    scales[j] = 0;
    return;
  }
  const iscale = fr(-nmax / max);
  if (max > 0) {
    // max > 0: C's passes change nothing. Then iscale < 0 and every level is 0 or of the opposite
    // sign of its value (the product's rounding and the clamp keep signs), while wx has the sign of
    // x, so every term t_i = fr(wx * l_i) is <= 0, or NaN (0 * inf). With a NaN term sumlx is NaN
    // and every `slx > 0` is false. Otherwise the float32 running sum of terms <= 0 is monotone
    // (fr is monotone and fixes float32 values), so sumlx <= t_i for every i and
    // slx = fr(sumlx - t_i) <= 0: again `slx > 0` is false for every value in every pass.
    // So float64 sums, C's only where the range tests fail.
    let lx = 0;
    let l2 = 0;
    for (let i = 0; i < nn; i++) {
      const xi = x[xo + i];
      const l = q3FirstLevel(iscale, xi, top, bottom);
      L[lo + i] = l + nmax;
      const w = fr(xi * xi);
      lx += fr(w * xi) * l;
      l2 += w * l * l;
    }
    if (lx <= -1e-30 && lx >= -1e30 && l2 >= 1e-30 && l2 <= 1e30) {
      const s = lx / l2;
      if (s < -1e-37 && s > -1e37) {
        scales[j] = s;
        exact[j] = 0;
        return;
      }
    }
    scales[j] = q3ExactScale(nn, nmax, x, xo, L, lo);
    return;
  }
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < nn; i++) {
    // the passes need x, w and wx
    const xi = x[xo + i];
    q3XA[i] = xi;
    const w = fr(xi * xi);
    q3WA[i] = w;
    const wx = fr(w * xi);
    q3WxA[i] = wx;
    const l = q3FirstLevel(iscale, xi, top, bottom);
    q3LA[i] = l;
    sumlx = fr(sumlx + fr(wx * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  // Within the passes, a check depends only on the sums and the value's level, which change
  // only on adoption: once n checks in a row (across a pass boundary) adopt nothing, every value
  // has been checked in the current state, so the current pass and the next would change
  // nothing and C stops after one of them (or at its pass limit, which is no earlier).
  const half = 0.5 - (Q3_REL * nmax + 1e-13); // q3Unchanged's
  let quiet = 0;
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < nn && quiet < nn; i++) {
      quiet++;
      const w = q3WA[i];
      const wx = q3WxA[i];
      const li = q3LA[i];
      if (q3Unchanged(q3XA[i], w, wx, li, sumlx, suml2, top, bottom, half)) continue;
      let slx = fr(sumlx - fr(wx * li));
      if (slx > 0) {
        let sl2 = fr(suml2 - fr(fr(w * li) * li));
        const v = fr(fr(q3XA[i] * sl2) / slx);
        const r = fr(v + 12582912) - 12582912;
        let nl = (r >= -4194304 && r < 4194304 ? r : nearestInt(v)) | 0;
        nl = nl < top ? nl : top;
        nl = nl > bottom ? nl : bottom;
        if (nl !== li) {
          slx = fr(slx + fr(wx * nl));
          sl2 = fr(sl2 + fr(fr(w * nl) * nl));
          if (sl2 > 0 && fr(fr(slx * slx) * suml2) > fr(fr(sumlx * sumlx) * sl2)) {
            q3LA[i] = nl;
            sumlx = slx;
            suml2 = sl2;
            changed++;
            quiet = 0;
          }
        }
      }
    }
    if (changed === 0) break;
  }
  for (let i = 0; i < nn; i++) L[lo + i] = q3LA[i] + nmax;
  scales[j] = suml2 > 0 ? fr(sumlx / suml2) : 0;
}

/**
 * C's float32 scale of make_q3_quants for the levels searchQ3 wrote to L from lo when it left the
 * scale inexact: C's passes adopted nothing then, so its sums are the running sums of these
 * levels, in order.
 */
export function q3ExactScale(n: number, nmax: number, x: Float32Array, xo: number, L: Uint8Array, lo: number): number {
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i];
    const l = L[lo + i] - nmax;
    const w = fr(xi * xi);
    sumlx = fr(sumlx + fr(fr(w * xi) * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  return suml2 > 0 ? fr(sumlx / suml2) : 0;
}

const ONE_SCALE = new Float64Array(32);
const ONE_EXACT = new Uint8Array(128);

/** make_q3_quants with C's scale returned (searchQ3 plus q3ExactScale where needed). */
export function makeQ3Quants(n: number, nmax: number, x: Float32Array, xo: number, L: Uint8Array, lo: number): number {
  searchQ3(n, nmax, x, new Int32Array(x.buffer, x.byteOffset, x.length), xo, L, lo, ONE_SCALE, ONE_EXACT, 0);
  return ONE_EXACT[0] === 1 ? ONE_SCALE[0] : q3ExactScale(n, nmax, x, xo, L, lo);
}
