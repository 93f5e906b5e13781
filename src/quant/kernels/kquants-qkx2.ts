/**
 * make_qkx2_quants, the scale + min search of Q2_K, Q4_K and Q5_K (quantization-and-gguf.md
 * §4.4), with ggml's float32 results bit for bit but without its cost in JS.
 *
 * Why not a line-by-line port: C's search is float32 running sums (16-21 trial scales, each
 * summing over the whole sub-block twice). In C a step is one `addss`; in JS `fround(s + t)` is an
 * add and two conversions on the loop-carried path, and the products need conversions too, so a
 * direct port runs at a quarter of C's speed.
 *
 * What this file does instead: each trial's levels are computed exactly as C computes them, and
 * its sums in float64, where they are exact up to 2^-48 relative. From those, C's error for the
 * trial is bounded without any float32 arithmetic: for squared error (Q4_K, Q5_K) first by the
 * least-squares minimum of its levels, which holds for whatever scale and min C derives
 * (rejectsSurely, which decides over 80% of the trials); otherwise interval arithmetic bounds
 * every float32 value C derives (D, the candidate's scale and min: candidateInterval; its error:
 * candidateBounds). A trial whose error bound lies entirely above the best one's is rejected;
 * only trials that are adopted, or whose bounds overlap the best one's (near-ties, NaN,
 * overflow), are computed the way C computes them. Adopted candidates get their exact float32
 * scale and min, since those are the results (and C's `min` moves the levels of every later
 * trial). A trial whose levels equal the previous
 * trial's is skipped: a candidate depends only on its levels, and that one was already compared
 * (the best error only decreases). Levels are not recomputed from scratch for every trial:
 * between adoptions iscale only grows and each level is monotone in it, so a level needs
 * re-evaluating only once iscale reaches the threshold where it could grow (stepLevels), and the
 * float64 sums are updated by the changes (still exact to far better than the bounds need).
 */
import { nearestIntOfProduct } from "./kquants-search.ts";

const fr = Math.fround;
/**
 * The imported binding read once: loaders that run this file as CommonJS (tsx, vitest) turn
 * every use of an import into a getter call, which V8 stopped inlining here once the search
 * grew (10% of Q4_K's time went to the getter in a profile of the whole kernel).
 */
const nearestIntOfProductFn = nearestIntOfProduct;

const MAX_N = 32;

// Module-level scratch, reused by every call: no allocation per sub-block.
const XS = new Float64Array(MAX_N); // the sub-block's values
const AX = new Float64Array(MAX_N); // |x|
const WS = new Float64Array(MAX_N); // their weights
const DX = new Float64Array(MAX_N); // C's fr(x - min), for the current min (filled by allLevels)
const GROW_AT = new Float64Array(MAX_N); // the product iscale * (x - min) from which a level could grow (see stepLevels)
const CUR = new Uint8Array(256); // the current trial's levels
const BEST = new Uint8Array(256); // the best candidate's levels
const HIT = new Int32Array(MAX_N + 1); // stepLevels: the values it re-evaluates

// State of the current call, shared by the helpers below. Numbers live in a Float64Array, not
// in module-level `let`s: V8 boxes every double stored to a module variable (an allocation per
// store), while a typed-array store is free.
const S = new Float64Array(36);
const NMAX = 0; // nmax
const MAX = 1; // max of the values
const SUM_W = 2; // C's float32 sum_w and sum_x
const SUM_X = 3;
const W = 4; // float64 sums over the sub-block: w, w*x, w*x*x, w*|x|
const WX = 5;
const WXX = 6;
const WAX = 7;
const W_MAX = 8; // bounds on the largest weight and |x|
const X_MAX = 9;
const RANGE = 10; // fr(max - min) for the current min
const MIN = 11; // C's `min`: the best candidate's (initially the data's)
const SCALE = 12; // C's `scale`: the best candidate's
const BEST_LO = 13; // bounds on the best candidate's float32 error
const BEST_HI = 14;
const BEST_EXACT = 15; // its exact error, when BEST_EXACT_KNOWN
const SL = 16; // float64 sums of w*l, w*l*l, w*l*x, w*l*|x| over the levels in CUR
const SL2 = 17;
const SXL = 18;
const SAXL = 19;
const C_SCALE = 20; // a candidate's scale and min: midpoints, and radii
const C_SCALE_R = 21;
const C_MIN = 22;
const C_MIN_R = 23;
const LO = 24; // candidateBounds: bounds on a candidate's float32 error
const HI = 25;
const MAX_ABS_DX = 26; // a bound on |x - min| for the current min (setMin)
const CUR_ISCALE = 27; // iscale of the levels in CUR, with the current min (0: none)
const TRIAL_ISCALE = 29; // the iscale allLevels and stepLevels work with (a double argument would be boxed)
const GUESS_ISCALE = 28; // the initial guess's iscale, for firstLevels
const SQRT_W = 30; // sqrt(S[W]), for rejectsSurely
const BEST_ROOT = 31; // sqrt((S[BEST_HI] + 1e-45 W + 1e-42) / (1 - 2.1e-6)), for rejectsSurely
const NUM_RMIN = 32; // the rmin, rdelta, nmax and nstep TRIAL_NUM was filled for
const NUM_RDELTA = 33;
const NUM_NMAX = 34;
const NUM_NSTEP = 35;
/** C's fr(fr(rmin + fr(rdelta * is)) + nmax) for trials is = 0..nstep: the same in every call of a kernel */
const TRIAL_NUM = new Float64Array(21);
let kN = 0;
let kUseMad = false;
let kBestExactKnown = false;
let kPrescreen = false; // rejectsSurely applies (squared error, magnitudes in range)

const U = 2 ** -24; // float32 unit roundoff
const TINY = 1e-44; // covers float32 underflow (2^-150 per rounding) with room
/** relative error of a float32 running sum of <= 32 rounded products, with room (31u/(1-31u) + 2u = 1.97e-6) */
const SUM_REL = 2.2e-6;
/** underflow in a float32 running sum of <= 32 rounded products (2^-150 each), with room */
const SUM_TINY = 1e-42;
/** magnitudes from which a float32 value could overflow in C (FLT_MAX is 3.4e38), with room */
const BIG = 1e37;
/**
 * relative error of float64 arithmetic, with room: midpoints, closed forms, and sums kept up to
 * date over <= 32 * 21 changes (under 1e-13 of the sum of |terms|)
 */
const REL64 = 1e-12;

/** Sets C's `min`; the values' x - min follow in the next allLevels (every new min is followed by one). */
function setMin(min: number): void {
  const st = S;
  st[MIN] = min;
  st[RANGE] = fr(st[MAX] - min);
  st[CUR_ISCALE] = 0; // levels computed with another min say nothing about this one's: allLevels next
  // |fr(x - min)| <= (|x| + |min|)(1 + 2^-24); X_MAX is infinite when a value or weight is NaN or
  // infinite, and a range <= 0 (or NaN) must not step either: then every trial computes all levels
  st[MAX_ABS_DX] = st[RANGE] > 0 ? (st[X_MAX] + Math.abs(min)) * 1.0000001 : Infinity;
}

/** C's level of a value with x - min = d: clamp(nearest_int(fr(iscale * d)), 0, nmax). */
function level(is: number, d: number, nmax: number): number {
  const q = nearestIntOfProductFn(is, d);
  return q > nmax ? nmax : q < 0 ? 0 : q;
}

/** The product iscale * (x - min) from which level q could grow: q + 0.5, or Infinity at the top. */
function growAt(q: number, nmax: number): number {
  return q < nmax ? q + 0.5 : Infinity;
}

/**
 * All levels at iscale S[TRIAL_ISCALE] into CUR, their float64 sums (w*l, w*l*l, w*l*x, w*l*|x|,
 * exact products) into S[SL..SAXL], and their growth thresholds; also C's x - min for the
 * current min into DX. Returns true when some level changed.
 *
 * CUR holds the previous trial's levels (another min, after an adoption), and most stay (in
 * Q4_K all but one of 32 on average): a level q is kept without computing C's when the product
 * p = iscale * (x - min) (exact in float64) lies below q + 0.5 (GROW_AT) and, for q > 0, at or
 * above q - 0.5, each by a relative 1.1e-6, far more than C's float32 rounding of p moves it;
 * while |p| < 4e6 nearest_int is exact, so C's level then is q (a p below 0.5 clamps to 0).
 */
function allLevels(): boolean {
  const st = S;
  const xsA = XS;
  const axA = AX;
  const wsA = WS;
  const dxA = DX;
  const growA = GROW_AT;
  const curA = CUR;
  const n = kN | 0;
  const nmax = st[NMAX] | 0;
  const is = st[TRIAL_ISCALE];
  const min = st[MIN];
  const checkKept = is * st[MAX_ABS_DX] < 4e6;
  let changed = 0;
  let l1 = 0, l2 = 0, xl = 0, axl = 0;
  for (let i = 0; i < n; i++) {
    const d = fr(xsA[i] - min);
    dxA[i] = d;
    const p = is * d;
    let q = curA[i];
    if (!(checkKept && p * 1.0000011 < growA[i] && (q === 0 || p * 0.9999989 >= q - 0.5))) {
      const next = level(is, d, nmax);
      changed |= next ^ q;
      q = next;
      curA[i] = q;
      growA[i] = growAt(q, nmax);
    }
    const wq = wsA[i] * q;
    l1 += wq;
    l2 += wq * q;
    xl += wq * xsA[i];
    axl += wq * axA[i];
  }
  st[SL] = l1;
  st[SL2] = l2;
  st[SXL] = xl;
  st[SAXL] = axl;
  st[CUR_ISCALE] = is;
  return changed !== 0;
}

/**
 * One pass for the first two level sets, both with the data's min: the initial guess's (iscale
 * S[GUESS_ISCALE]) into BEST, its float64 sums returned in S[SL..SAXL] with those of trial 0
 * (iscale S[TRIAL_ISCALE], into CUR with its growth thresholds, like allLevels) in
 * S[C_SCALE..C_MIN_R] (scratch until the first candidate); C's x - min into DX.
 */
function firstLevels(): void {
  const st = S;
  const xsA = XS;
  const axA = AX;
  const wsA = WS;
  const dxA = DX;
  const growA = GROW_AT;
  const curA = CUR;
  const bestA = BEST;
  const n = kN | 0;
  const nmax = st[NMAX] | 0;
  const is0 = st[GUESS_ISCALE];
  const is = st[TRIAL_ISCALE];
  const min = st[MIN];
  let g1 = 0, g2 = 0, gxl = 0, gaxl = 0;
  let l1 = 0, l2 = 0, xl = 0, axl = 0;
  for (let i = 0; i < n; i++) {
    const d = fr(xsA[i] - min);
    dxA[i] = d;
    const x = xsA[i];
    const ax = axA[i];
    const w = wsA[i];
    const p = level(is0, d, nmax);
    bestA[i] = p;
    const wp = w * p;
    g1 += wp;
    g2 += wp * p;
    gxl += wp * x;
    gaxl += wp * ax;
    const q = level(is, d, nmax);
    curA[i] = q;
    growA[i] = growAt(q, nmax);
    const wq = w * q;
    l1 += wq;
    l2 += wq * q;
    xl += wq * x;
    axl += wq * ax;
  }
  st[SL] = g1;
  st[SL2] = g2;
  st[SXL] = gxl;
  st[SAXL] = gaxl;
  st[C_SCALE] = l1;
  st[C_SCALE_R] = l2;
  st[C_MIN] = xl;
  st[C_MIN_R] = axl;
  st[CUR_ISCALE] = is;
}

/**
 * The levels at iscale S[TRIAL_ISCALE] into CUR, like allLevels, when it is not below CUR's: with the same
 * min each level is monotone in iscale (the float32 product, nearest_int in its exact range and
 * the clamp all are) and can only grow once fr(iscale * (x - min)) reaches q + 0.5 (GROW_AT).
 * While the float64 product is below it by a relative 1.1e-6 (far more than float32's rounding
 * of the product and float64's of iscale * 1.0000011 * (x - min)) it cannot, so only the values
 * at or past their threshold are re-evaluated, and the sums are updated by the changes. Values
 * with x - min <= 0 (or NaN) never reach it and stay at 0 while |iscale * (x - min)| < 4e6, inside
 * nearest_int's exact range (2^22); otherwise all levels are recomputed. Returns true when some
 * level changed.
 */
function stepLevels(): boolean {
  const st = S;
  const xsA = XS;
  const axA = AX;
  const wsA = WS;
  const dxA = DX;
  const growA = GROW_AT;
  const curA = CUR;
  const hitA = HIT;
  const is = st[TRIAL_ISCALE];
  if (!(is >= st[CUR_ISCALE] && st[CUR_ISCALE] > 0 && is * st[MAX_ABS_DX] < 4e6)) return allLevels();
  st[CUR_ISCALE] = is;
  const reach = is * 1.0000011; // reach * d >= GROW_AT: is * d > GROW_AT * (1 - 1.1e-6)
  const n = kN | 0;
  // First the values at or past their threshold, without a branch (which would mispredict on
  // every hit), then their levels.
  let hits = 0;
  for (let i = 0; i < n; i++) {
    hitA[hits] = i;
    hits += +(reach * dxA[i] >= growA[i]);
  }
  if (hits === 0) return false;
  const nmax = st[NMAX] | 0;
  let changed = 0;
  let l1 = st[SL], l2 = st[SL2], xl = st[SXL], axl = st[SAXL];
  for (let h = 0; h < hits; h++) {
    const i = hitA[h];
    const d = dxA[i];
    const q = level(is, d, nmax);
    growA[i] = growAt(q, nmax);
    const old = curA[i];
    if (q !== old) {
      changed = 1;
      curA[i] = q;
      const w = wsA[i];
      l1 += w * (q - old);
      l2 += w * (q * q - old * old);
      xl += w * (q - old) * xsA[i];
      axl += w * (q - old) * axA[i];
    }
  }
  st[SL] = l1;
  st[SL2] = l2;
  st[SXL] = xl;
  st[SAXL] = axl;
  return changed !== 0;
}

/**
 * The radius of the float32 result of an operation whose exact result lies within c ± r: one
 * float32 rounding (u relative, or 2^-150 absolute below the normal range) plus slack for the
 * float64 arithmetic that computed c and r.
 */
function widen(c: number, r: number): number {
  const a = Math.abs(c);
  return r + U * (a + r) + REL64 * a + TINY;
}

/**
 * Bounds S[LO], S[HI] on C's float32 error of a candidate whose float32 scale and min lie within
 * S[C_SCALE] ± S[C_SCALE_R] and S[C_MIN] ± S[C_MIN_R], levels in lv (their float64 sums in
 * S[SL..SAXL]).
 *
 * Absolute error (Q2_K): with d_c = s_c l + m_c - x at the midpoints, C's float32 d differs
 * from d_c by at most B = (r_s nmax + r_m) + 3.001 u M + TINY, M bounding |s| nmax + |m| + |x|
 * (three float32 roundings of quantities below M), so sum w |d| is within B W of
 * sum w |d_c| (W = sum w), computed in one float64 pass.
 *
 * Squared error: C's float32 (s, m) = (s_c + ds, m_c + dm), |ds| <= r_s, |dm| <= r_m, and
 * E(s, m) = sum w (s l + m - x)^2 is a quadratic in closed form from the sums:
 * E(s, m) = E(s_c, m_c) + 2 ds g_s + 2 dm g_m + ds^2 L2 + 2 ds dm L + dm^2 W with the gradient
 * halves g_s = s_c L2 + m_c L - XL, g_m = s_c L + m_c W - WX (near 0: the candidate solves these
 * normal equations up to C's roundings, so the radii enter only through g and squared, instead of
 * as a first-order error in every d). C's float32 d then differs from s l + m - x by at most
 * B = 3.001 u M + TINY, hence sum w d^2 is within 2 B sqrt(W E) + B^2 W of E (Cauchy-Schwarz).
 *
 * The terms' own roundings and the float32 running sum add under 2.1e-6 relative. Magnitudes
 * where a float32 step could overflow give infinite bounds (forcing exact arithmetic).
 */
function candidateBounds(lv: Uint8Array): void {
  const st = S;
  const xsA = XS;
  const wsA = WS;
  const s = st[C_SCALE];
  const m = st[C_MIN];
  const nmax = st[NMAX];
  const sw = st[W];
  const rs = st[C_SCALE_R];
  const rm = st[C_MIN_R];
  const M = (Math.abs(s) + rs) * nmax + Math.abs(m) + rm + st[X_MAX];
  const Bround = 3.001 * U * M + TINY;
  let lo: number;
  let hi: number;
  let safe: boolean;
  if (kUseMad) {
    const n = kN | 0;
    let e = 0;
    for (let i = 0; i < n; i++) e += wsA[i] * Math.abs(s * lv[i] + m - xsA[i]);
    const B = rs * nmax + rm + Bround;
    const spread = B * sw + REL64 * (e + M * sw);
    lo = (e - spread) * (1 - 2.1e-6) - 1e-42;
    hi = (e + spread) * (1 + 2.1e-6) + 1e-42;
    safe = st[W_MAX] * M < 1e37;
  } else {
    const l = st[SL];
    const l2 = st[SL2];
    const xl = st[SXL];
    const wx = st[WX];
    const as = Math.abs(s);
    const am = Math.abs(m);
    const ec = s * s * l2 + 2 * s * m * l + m * m * sw - 2 * s * xl - 2 * m * wx + st[WXX];
    // float64 rounding (and the sums' own, 1e-13 relative) in E(s_c, m_c), g_s and g_m
    const gs = Math.abs(s * l2 + m * l - xl) + REL64 * (as * l2 + am * l + st[SAXL]);
    const gm = Math.abs(s * l + m * sw - wx) + REL64 * (as * l + am * sw + st[WAX]);
    const err = REL64 * (s * s * l2 + 2 * as * am * l + m * m * sw + 2 * as * st[SAXL] + 2 * am * st[WAX] + st[WXX]) +
      2 * rs * gs + 2 * rm * gm + (rs * rs * l2 + 2 * rs * rm * l + rm * rm * sw) * 1.000001;
    const B = Bround;
    const ecHi = ec + err;
    const spread = 2 * B * Math.sqrt(sw * (ecHi > 0 ? ecHi : 0)) + B * B * sw;
    lo = (ec - err - spread) * (1 - 2.1e-6) - 1e-45 * sw - 1e-42;
    hi = (ecHi + spread) * (1 + 2.1e-6) + 1e-45 * sw + 1e-42;
    safe = M < 1e18 && st[W_MAX] * M * M < 1e37;
  }
  if (safe && hi < 1e37) {
    st[LO] = lo;
    st[HI] = hi;
  } else {
    st[LO] = -Infinity;
    st[HI] = Infinity;
  }
}

/**
 * Interval bounds on C's candidate for the levels whose float64 sums are in S[SL..SAXL]: sets
 * S[C_SCALE..C_MIN_R] and returns 1, or returns 0 when C certainly skips the trial (D <= 0), or
 * -1 when a branch of C's cannot be decided this way (the caller then computes it exactly).
 *
 * C's float32 sums sum_l, sum_l2, sum_xl lie within 2.2e-6 (SUM_REL) of the sums of |terms|
 * L, L2, SAXL plus 1e-42 of the exact ones; sum_w and sum_x are C's own. Propagated through C's
 * float32 steps (each rounding u relative; 2^-150 absolute below the normal range), its
 *   D = fr(fr(sum_w sum_l2) - fr(sum_l^2)) is within (2.2e-6 + 2u) |sum_w| L2 + (4.4e-6 + 2u) L^2,
 *   fr(fr(sum_w sum_xl) - fr(sum_x sum_l)) within (2.2e-6 + 2u) (|sum_w| SAXL + |sum_x| L),
 *   fr(fr(sum_l2 sum_x) - fr(sum_l sum_xl)) within (4.4e-6 + 2u) (|sum_x| L2 + L SAXL)
 * of the same expressions in exact sums, plus absolute terms under 1e-41 (1 + |sum_w| + |sum_x|
 * + L2 + SAXL) (L <= L2: integer levels). The radii below use 5e-6, 2.5e-6 and 5e-6: room for
 * the float64 evaluation (1e-12 relative of those magnitudes). A quotient n'/D' with
 * |n' - n| <= r_n, |D' - D| <= r_D lies within (r_n + |n/D| r_D) / (D - r_D) of n/D; C's division
 * adds one rounding (widen).
 */
function candidateInterval(): number {
  const st = S;
  const L = st[SL];
  const L2 = st[SL2];
  const XL = st[SXL];
  const AXL = st[SAXL];
  const sumW = st[SUM_W];
  const sumX = st[SUM_X];
  const aw = Math.abs(sumW);
  const ax = Math.abs(sumX);
  const mD = aw * L2 + L * L;
  const mNs = aw * AXL + ax * L;
  const mNm = ax * L2 + L * AXL;
  // Every float32 value of C's stays far from overflow (an inf or NaN in C is decided exactly);
  // sums of |terms| below BIG also keep C's partial sums finite.
  if (!(mD < BIG && mNs < BIG && mNm < BIG && L2 < BIG && AXL < BIG)) return -1;
  const tiny = 1e-41 * (1 + aw + ax + L2 + AXL);
  const D = sumW * L2 - L * L;
  const rD = 5e-6 * mD + tiny;
  if (!(D - rD > 0)) return D + rD <= 0 ? 0 : -1; // NaN: -1
  const invD = 1 / D; // n / D as n * (1 / D): a second float64 rounding, within REL64 of widen
  const invDlo = 1 / (D - rD);
  let s = (sumW * XL - sumX * L) * invD;
  let rs = widen(s, (2.5e-6 * mNs + tiny + Math.abs(s) * rD) * invDlo);
  let m = (L2 * sumX - L * XL) * invD;
  let rm = widen(m, (5e-6 * mNm + tiny + Math.abs(m) * rD) * invDlo);
  if (m - rm > 0) {
    // C: this_min > 0 -> this_min = 0, this_scale = sum_xl / sum_l2
    const rL2 = SUM_REL * L2 + SUM_TINY;
    const rXL = SUM_REL * AXL + SUM_TINY;
    if (!(L2 - rL2 > 0)) return -1;
    m = 0;
    rm = 0;
    s = XL / L2;
    rs = widen(s, (rXL * L2 + Math.abs(XL) * rL2) / (L2 * (L2 - rL2)));
  } else if (!(m + rm <= 0)) {
    return -1; // the clamp is undecided (or NaN)
  }
  if (!(Math.abs(s) + rs < BIG && Math.abs(m) + rm < BIG)) return -1;
  // (radii computed in float64 carry a relative 1e-15, inside the factor 1.000001)
  st[C_SCALE] = s;
  st[C_SCALE_R] = rs * 1.000001;
  st[C_MIN] = m;
  st[C_MIN_R] = rm * 1.000001;
  return 1;
}

/** C's exact float32 sums of the levels in CUR and its candidate: returns false when D <= 0. */
function exactCandidate(): boolean {
  const st = S;
  const xsA = XS;
  const wsA = WS;
  const curA = CUR;
  const n = kN | 0;
  let sumL = 0, sumL2 = 0, sumXL = 0;
  for (let i = 0; i < n; i++) {
    const q = curA[i];
    const wq = fr(wsA[i] * q);
    sumL = fr(sumL + wq);
    sumL2 = fr(sumL2 + fr(wq * q));
    sumXL = fr(sumXL + fr(wq * xsA[i]));
  }
  const sumW = st[SUM_W];
  const sumX = st[SUM_X];
  const D = fr(fr(sumW * sumL2) - fr(sumL * sumL));
  if (!(D > 0)) return false;
  let thisScale = fr(fr(fr(sumW * sumXL) - fr(sumX * sumL)) / D);
  let thisMin = fr(fr(fr(sumL2 * sumX) - fr(sumL * sumXL)) / D);
  if (thisMin > 0) {
    thisMin = 0;
    thisScale = fr(sumXL / sumL2);
  }
  st[C_SCALE] = thisScale;
  st[C_SCALE_R] = 0;
  st[C_MIN] = thisMin;
  st[C_MIN_R] = 0;
  return true;
}

/** C's float32 error of the candidate with scale s, min m and levels lv. */
function exactError(lv: Uint8Array, s: number, m: number): number {
  const xsA = XS;
  const wsA = WS;
  const n = kN | 0;
  let e = 0;
  for (let i = 0; i < n; i++) {
    const d = fr(fr(fr(s * lv[i]) + m) - xsA[i]);
    e = fr(e + (kUseMad ? fr(wsA[i] * Math.abs(d)) : fr(wsA[i] * fr(d * d))));
  }
  return e;
}

/** Makes the candidate in S[C_SCALE], S[C_MIN] (exact values), levels in CUR, the best one. */
function adopt(lo: number, hi: number, exact: number, exactKnown: boolean): void {
  const st = S;
  const bestA = BEST;
  const curA = CUR;
  const n = kN | 0;
  for (let i = 0; i < n; i++) bestA[i] = curA[i];
  st[BEST_LO] = lo;
  st[BEST_HI] = hi;
  setBestRoot();
  st[BEST_EXACT] = exact;
  kBestExactKnown = exactKnown;
  st[SCALE] = st[C_SCALE];
  const min = st[C_MIN];
  if (min !== st[MIN]) setMin(min);
  else st[MIN] = min; // equal value (perhaps the other zero): levels and range unchanged
}

function setBestRoot(): void {
  const st = S;
  if (kPrescreen) st[BEST_ROOT] = Math.sqrt((st[BEST_HI] + 1e-45 * st[W] + 1e-42) / (1 - 2.1e-6));
}

/**
 * A cheap test, before any interval arithmetic, that C will not adopt the trial whose levels are
 * in CUR (squared error only): true when C's error surely is >= the best one's.
 *
 * Whatever scale and min (s', m') C computes from these levels (if D > 0 in float32 at all), the
 * exact error E(s', m') = sum w (s' l + m' - x)^2 is at least the least-squares minimum E_min
 * over all (s, m). With A = [[L2, L], [L, W]] (exact sums, D = det A > 0) and the half-gradient
 * g(p) = A p - b at any point p (g as in candidateBounds), E(p) = E_min + g^T A^-1 g, so
 * E_min >= E(p) - (W g_s^2 + 2 L |g_s g_m| + L2 g_m^2) / D: evaluated at the float64 solution p
 * (g near 0), with the float64 errors of E(p) and g bounded as in candidateBounds, and D's
 * (under 1e-13 (W L2 + L^2) <= 2e-9 D here) by the factor 1.000001.
 *
 * C's float32 d differs from s' l + m' - x by at most B = 3.001 u M + TINY (candidateBounds),
 * so with sqrt(W) B below sqrt(E_min), C's error is at least
 * (sqrt(E_min) - B sqrt(W))^2 (1 - 2.1e-6) - 1e-45 W - 1e-42 (Cauchy-Schwarz, then the float32
 * sum as in candidateBounds), which is >= S[BEST_HI] when E_min >= (B sqrt(W) + BEST_ROOT)^2
 * (float64 slack 1e-12 relative).
 *
 * M must bound |s'| nmax + |m'| + |x| without C's candidate. Required here: D > 1e-4 W L2,
 * W L2 >= 1e-20 and L >= 1e-20 (then L2 >= L too, levels being integers), and kPrescreen (the caller's).
 * C's sums lie within 2.2e-6 relative (of the sums of |terms|) plus 1e-42 of the exact ones, so
 * its float32 D is at least (D - 1.1e-5 W L2 - 1e-44)(1 - u) >= 0.87 D (L^2 <= W L2), and its
 * numerators are at most (W SAXL + WAX L)(1 + 1e-5) + 1e-44 and (L2 WAX + L SAXL)(1 + 1e-5) +
 * 1e-44 (|XL| <= SAXL, |sum_x| <= WAX). So |s'| <= 1.16 (W SAXL + WAX L) / D + 1.2e-44 / D and
 * |m'| likewise; C's clamped candidate (m' = 0, s' = sum_xl / sum_l2 <= 1.00001 SAXL / L2 <=
 * 1.00001 W SAXL / D) is covered too. With D >= 1e-24 the absolute terms stay below 1e-18
 * (times nmax + 1 <= 32, covered by 1e-18 with 1.25 for 1.16).
 */
function rejectsSurely(): boolean {
  const st = S;
  const sw = st[W];
  const l = st[SL];
  const l2 = st[SL2];
  const wl2 = sw * l2;
  const D = wl2 - l * l;
  if (!(D > 1e-4 * wl2 && wl2 >= 1e-20 && l >= 1e-20)) return false;
  const invD = 1 / D;
  const xl = st[SXL];
  const wx = st[WX];
  const saxl = st[SAXL];
  const wax = st[WAX];
  const M = 1.25 * (st[NMAX] * (sw * saxl + wax * l) + l2 * wax + l * saxl) * invD + st[X_MAX] + 1e-18;
  if (!(M < 1e18 && st[W_MAX] * M * M < 1e37)) return false; // as candidateBounds' `safe`
  const s = (sw * xl - wx * l) * invD;
  const m = (l2 * wx - l * xl) * invD;
  const as = Math.abs(s);
  const am = Math.abs(m);
  const ec = s * s * l2 + 2 * s * m * l + m * m * sw - 2 * s * xl - 2 * m * wx + st[WXX];
  const err = REL64 * (s * s * l2 + 2 * as * am * l + m * m * sw + 2 * as * saxl + 2 * am * wax + st[WXX]);
  const gs = Math.abs(s * l2 + m * l - xl) + REL64 * (as * l2 + am * l + saxl);
  const gm = Math.abs(s * l + m * sw - wx) + REL64 * (as * l + am * sw + wax);
  const eMin = ec - err - (sw * gs * gs + 2 * l * gs * gm + l2 * gm * gm) * invD * 1.000001;
  const root = (3.001 * U * M + TINY) * st[SQRT_W] + st[BEST_ROOT];
  return eMin >= root * root * (1 + 1e-12);
}

/**
 * C's evaluation of the trial whose levels are in CUR (float64 sums in S[SL..SAXL]). With
 * rejectsSurely (squared error) nearly every trial it does not reject is adopted, so those go
 * straight to C's exact candidate; otherwise interval bounds on the candidate decide most trials
 * and only adopted ones get C's exact scale and min.
 */
function evaluateTrial(): void {
  const st = S;
  if (kPrescreen) {
    if (rejectsSurely() || !exactCandidate()) return;
    candidateBounds(CUR);
    if (st[LO] >= st[BEST_HI]) return; // certainly cur_error >= best_error
    if (st[HI] < st[BEST_LO]) {
      adopt(st[LO], st[HI], 0, false); // certainly cur_error < best_error
      return;
    }
  } else {
    const kind = candidateInterval();
    if (kind === 0) return;
    if (kind > 0) {
      candidateBounds(CUR);
      if (st[LO] >= st[BEST_HI]) return; // certainly cur_error >= best_error
      if (st[HI] < st[BEST_LO] && exactCandidate()) {
        // certainly cur_error < best_error: adopt, with C's exact scale and min (inside the
        // intervals, so LO and HI still bound its error)
        adopt(st[LO], st[HI], 0, false);
        return;
      }
    }
    if (!exactCandidate()) return;
  }
  // Undecided: exactly as C.
  if (!kBestExactKnown) {
    st[BEST_EXACT] = exactError(BEST, st[SCALE], st[MIN]);
    kBestExactKnown = true;
  }
  const e = exactError(CUR, st[C_SCALE], st[C_MIN]);
  if (e < st[BEST_EXACT]) adopt(e, e, e, true);
}

/** C's iscale of trial is: fr(fr(fr(rmin + fr(rdelta * is)) + nmax) / fr(max - min)). */
function trialIscale(is: number): number {
  return fr(TRIAL_NUM[is] / S[RANGE]);
}

/**
 * make_qkx2_quants(n, nmax, x + xo, weights, L + lo, &mins[mj], Laux, rmin, rdelta, nstep,
 * use_mad) for n <= 32, nmax <= 31, 1 <= nstep <= 20 and weights >= 0 (every K-quant caller):
 * writes n levels 0..nmax to L from lo, C's `-min` to mins[mj], returns the scale.
 */
export function makeQkx2Quants(
  n: number, nmax: number, x: Float32Array, xo: number, weights: Float32Array,
  L: Uint8Array, lo: number, mins: Float32Array, mj: number,
  rmin: number, rdelta: number, nstep: number, useMad: boolean,
): number {
  const st = S;
  const xsA = XS;
  const axA = AX;
  const wsA = WS;
  const bestA = BEST;
  let min = x[xo];
  let max = min;
  let sumW = weights[0];
  let sumX = fr(sumW * min);
  let w64 = 0, wx64 = 0, wxx64 = 0, wax64 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i];
    const w = weights[i];
    const ax = Math.abs(xi);
    xsA[i] = xi;
    axA[i] = ax;
    wsA[i] = w;
    if (i > 0) {
      if (xi < min) min = xi;
      if (xi > max) max = xi;
      sumW = fr(sumW + w);
      sumX = fr(sumX + fr(w * xi));
    }
    w64 += w;
    wx64 += w * xi;
    wxx64 += w * xi * xi;
    wax64 += w * ax;
  }
  // Bounds for the magnitude checks, without a running maximum (a branch that mispredicts): the
  // largest |x| is max or -min (no NaN: with one, wx64 is NaN), and no weight exceeds their sum
  // (weights >= 0). A NaN among the values or weights (it makes these sums NaN) or an infinity
  // gives infinite bounds everywhere, so every comparison is made exactly.
  st[W_MAX] = w64 === w64 ? w64 : Infinity;
  st[X_MAX] = wx64 === wx64 ? Math.max(max, -min) : Infinity;
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, lo, lo + n);
    mins[mj] = -min;
    return 0;
  }
  kN = n;
  kUseMad = useMad;
  st[NMAX] = nmax;
  st[MAX] = max;
  st[SUM_W] = sumW;
  st[SUM_X] = sumX;
  st[W] = w64;
  st[WX] = wx64;
  st[WXX] = wxx64;
  st[WAX] = wax64;
  st[SQRT_W] = Math.sqrt(w64);
  // rejectsSurely's range: C's float32 sums and their products stay below 31^2 * 1e24, far from
  // overflow, for any levels (NaN fails these comparisons).
  kPrescreen = !useMad && w64 <= 1e12 && wax64 <= 1e12 && st[X_MAX] <= 1e12;
  setMin(min);

  // The initial guess and trial 0 (same min), in one pass. Trial 0 has a smaller iscale than the
  // initial guess: all its levels are computed, and it is always evaluated. Every later trial
  // whose levels equal the previous trial's is the same candidate, already compared: skipped.
  if (!(st[NUM_RMIN] === rmin && st[NUM_RDELTA] === rdelta && st[NUM_NMAX] === nmax && st[NUM_NSTEP] >= nstep)) {
    for (let is = 0; is <= nstep; is++) TRIAL_NUM[is] = fr(fr(rmin + fr(rdelta * is)) + nmax);
    st[NUM_RMIN] = rmin;
    st[NUM_RDELTA] = rdelta;
    st[NUM_NMAX] = nmax;
    st[NUM_NSTEP] = nstep;
  }
  const iscale0 = fr(nmax / st[RANGE]);
  st[SCALE] = fr(1 / iscale0);
  st[GUESS_ISCALE] = iscale0;
  st[TRIAL_ISCALE] = trialIscale(0);
  firstLevels();
  const l1 = st[C_SCALE], l2 = st[C_SCALE_R], xl = st[C_MIN], axl = st[C_MIN_R];
  st[C_SCALE] = st[SCALE];
  st[C_SCALE_R] = 0;
  st[C_MIN] = st[MIN];
  st[C_MIN_R] = 0;
  candidateBounds(bestA);
  st[BEST_LO] = st[LO];
  st[BEST_HI] = st[HI];
  setBestRoot();
  kBestExactKnown = false;
  st[SL] = l1;
  st[SL2] = l2;
  st[SXL] = xl;
  st[SAXL] = axl;
  evaluateTrial();
  for (let is = 1; is <= nstep; is++) {
    st[TRIAL_ISCALE] = trialIscale(is);
    if (stepLevels()) evaluateTrial();
  }
  for (let i = 0; i < n; i++) L[lo + i] = bestA[i];
  mins[mj] = -st[MIN];
  return st[SCALE];
}
