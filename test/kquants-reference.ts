/**
 * A deliberately plain, line-by-line port of ggml's K-quant reference quantizers
 * (quantize_row_q{2,3,4,5,6}_K_ref and their scale searches), one Math.fround per C operation.
 * It is a TEST ORACLE only: the shipped kernels in src/quant/kernels skip work and interleave
 * loops for speed, and the tests check them against this port on random data far beyond the
 * goldens (which this port must match too). Keep it simple and slow; do not optimize it.
 */
import { nearestInt, GROUP_MAX_EPS } from "../src/quant/kernels/common.ts";
import { fp16BitsToFp32, fp32ToFp16Bits } from "../src/quant/half.ts";

const fr = Math.fround;
const F01 = Math.fround(0.1);

export function makeQxQuants(n: number, nmax: number, x: Float32Array, L: Int32Array): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, 0, n);
    return 0;
  }
  let iscale = fr(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    let l = nearestInt(fr(iscale * x[i]));
    l = Math.max(-nmax, Math.min(nmax - 1, l));
    L[i] = l + nmax;
    const w = fr(x[i] * x[i]);
    sumlx = fr(sumlx + fr(fr(w * x[i]) * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  let scale = suml2 !== 0 ? fr(sumlx / suml2) : 0;
  let best = fr(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = fr(-fr(nmax + fr(F01 * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) {
      let l = nearestInt(fr(iscale * x[i]));
      l = Math.max(-nmax, Math.min(nmax - 1, l));
      const w = fr(x[i] * x[i]);
      sumlx = fr(sumlx + fr(fr(w * x[i]) * l));
      suml2 = fr(suml2 + fr(fr(w * l) * l));
    }
    if (suml2 > 0 && fr(sumlx * sumlx) > fr(best * suml2)) {
      for (let i = 0; i < n; i++) {
        const l = nearestInt(fr(iscale * x[i]));
        L[i] = nmax + Math.max(-nmax, Math.min(nmax - 1, l));
      }
      scale = fr(sumlx / suml2);
      best = fr(scale * sumlx);
    }
  }
  return scale;
}

export function makeQ3Quants(n: number, nmax: number, x: Float32Array, L: Int32Array): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, 0, n);
    return 0;
  }
  const iscale = fr(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    let l = nearestInt(fr(iscale * x[i]));
    l = Math.max(-nmax, Math.min(nmax - 1, l));
    L[i] = l;
    const w = fr(x[i] * x[i]);
    sumlx = fr(sumlx + fr(fr(w * x[i]) * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const w = fr(x[i] * x[i]);
      let slx = fr(sumlx - fr(fr(w * x[i]) * L[i]));
      if (slx > 0) {
        let sl2 = fr(suml2 - fr(fr(w * L[i]) * L[i]));
        let nl = nearestInt(fr(fr(x[i] * sl2) / slx));
        nl = Math.max(-nmax, Math.min(nmax - 1, nl));
        if (nl !== L[i]) {
          slx = fr(slx + fr(fr(w * x[i]) * nl));
          sl2 = fr(sl2 + fr(fr(w * nl) * nl));
          if (sl2 > 0 && fr(fr(slx * slx) * suml2) > fr(fr(sumlx * sumlx) * sl2)) {
            L[i] = nl;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (changed === 0) break;
  }
  for (let i = 0; i < n; i++) L[i] += nmax;
  return suml2 > 0 ? fr(sumlx / suml2) : 0;
}

export function makeQkx2Quants(
  n: number, nmax: number, x: Float32Array, w: Float32Array, L: Int32Array, mins: Float32Array, j: number,
  rmin: number, rdelta: number, nstep: number, useMad: boolean,
): number {
  let min = x[0];
  let max = x[0];
  let sumW = w[0];
  let sumX = fr(sumW * x[0]);
  for (let i = 1; i < n; i++) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sumW = fr(sumW + w[i]);
    sumX = fr(sumX + fr(w[i] * x[i]));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, 0, n);
    mins[j] = -min;
    return 0;
  }
  let iscale = fr(nmax / fr(max - min));
  let scale = fr(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = nearestInt(fr(iscale * fr(x[i] - min)));
    L[i] = Math.max(0, Math.min(nmax, l));
    let diff = fr(fr(fr(scale * L[i]) + min) - x[i]);
    diff = useMad ? Math.abs(diff) : fr(diff * diff);
    bestError = fr(bestError + fr(w[i] * diff));
  }
  const Laux = new Int32Array(n);
  for (let is = 0; is <= nstep; is++) {
    iscale = fr(fr(fr(rmin + fr(rdelta * is)) + nmax) / fr(max - min));
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      let l = nearestInt(fr(iscale * fr(x[i] - min)));
      l = Math.max(0, Math.min(nmax, l));
      Laux[i] = l;
      sumL = fr(sumL + fr(w[i] * l));
      sumL2 = fr(sumL2 + fr(fr(w[i] * l) * l));
      sumXL = fr(sumXL + fr(fr(w[i] * l) * x[i]));
    }
    const D = fr(fr(sumW * sumL2) - fr(sumL * sumL));
    if (D > 0) {
      let thisScale = fr(fr(fr(sumW * sumXL) - fr(sumX * sumL)) / D);
      let thisMin = fr(fr(fr(sumL2 * sumX) - fr(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = fr(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        let diff = fr(fr(fr(thisScale * Laux[i]) + thisMin) - x[i]);
        diff = useMad ? Math.abs(diff) : fr(diff * diff);
        curError = fr(curError + fr(w[i] * diff));
      }
      if (curError < bestError) {
        L.set(Laux.subarray(0, n));
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  mins[j] = -min;
  return scale;
}

function putFp16(y: Uint8Array, o: number, v: number): number {
  const h = fp32ToFp16Bits(v);
  y[o] = h & 0xff;
  y[o + 1] = h >>> 8;
  return fp16BitsToFp32(h);
}

export function refQuantizeQ2K(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 256;
  const L = new Int32Array(256);
  const scales = new Float32Array(16);
  const mins = new Float32Array(16);
  for (let b = 0; b < nb; b++) {
    const xb = x.subarray(256 * b, 256 * b + 256);
    const o = 84 * b;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 16; j++) {
      const xs = xb.subarray(16 * j, 16 * j + 16);
      const w = new Float32Array(16);
      for (let l = 0; l < 16; l++) w[l] = Math.abs(xs[l]);
      const sub = new Int32Array(16);
      scales[j] = makeQkx2Quants(16, 3, xs, w, sub, mins, j, -0.5, F01, 15, true);
      L.set(sub, 16 * j);
      if (scales[j] > maxScale) maxScale = scales[j];
      if (mins[j] > maxMin) maxMin = mins[j];
    }
    let d = 0;
    let dmin = 0;
    if (maxScale > 0) {
      const iscale = fr(15 / maxScale);
      for (let j = 0; j < 16; j++) y[o + j] = nearestInt(fr(iscale * scales[j])) & 0xff;
      d = putFp16(y, o + 80, fr(maxScale / 15));
    } else {
      for (let j = 0; j < 16; j++) y[o + j] = 0;
      d = putFp16(y, o + 80, 0);
    }
    if (maxMin > 0) {
      const iscale = fr(15 / maxMin);
      for (let j = 0; j < 16; j++) y[o + j] |= (nearestInt(fr(iscale * mins[j])) << 4) & 0xff;
      dmin = putFp16(y, o + 82, fr(maxMin / 15));
    } else {
      dmin = putFp16(y, o + 82, 0);
    }
    for (let j = 0; j < 16; j++) {
      const dj = fr(d * (y[o + j] & 0xf));
      if (dj === 0) continue;
      const dm = fr(dmin * (y[o + j] >> 4));
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(fr(fr(xb[16 * j + ii] + dm) / dj));
        L[16 * j + ii] = Math.max(0, Math.min(3, l));
      }
    }
    for (let j = 0; j < 256; j += 128) {
      for (let l = 0; l < 32; l++) {
        y[o + 16 + j / 4 + l] = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6);
      }
    }
  }
}

export function refQuantizeQ3K(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 256;
  const L = new Int32Array(256);
  const scales = new Float32Array(16);
  for (let b = 0; b < nb; b++) {
    const xb = x.subarray(256 * b, 256 * b + 256);
    const o = 110 * b;
    let maxScale = 0;
    let amax = 0;
    for (let j = 0; j < 16; j++) {
      const sub = new Int32Array(16);
      scales[j] = makeQ3Quants(16, 4, xb.subarray(16 * j, 16 * j + 16), sub);
      L.set(sub, 16 * j);
      const s = Math.abs(scales[j]);
      if (s > amax) {
        amax = s;
        maxScale = scales[j];
      }
    }
    for (let k = 0; k < 12; k++) y[o + 96 + k] = 0;
    let d: number;
    if (maxScale !== 0) {
      const iscale = fr(-32 / maxScale);
      for (let j = 0; j < 16; j++) {
        let l = (nearestInt(fr(iscale * scales[j])) << 24) >> 24;
        l = Math.max(-32, Math.min(31, l)) + 32;
        if (j < 8) y[o + 96 + j] = l & 0xf;
        else y[o + 96 + j - 8] |= (l & 0xf) << 4;
        l >>= 4;
        y[o + 96 + 8 + (j % 4)] |= l << (2 * (j >> 2));
      }
      d = putFp16(y, o + 108, fr(1 / iscale));
    } else {
      d = putFp16(y, o + 108, 0);
    }
    for (let j = 0; j < 16; j++) {
      let sc = j < 8 ? y[o + 96 + j] & 0xf : y[o + 96 + j - 8] >> 4;
      sc = (sc | (((y[o + 96 + 8 + (j % 4)] >> (2 * (j >> 2))) & 3) << 4)) - 32;
      const dj = fr(d * sc);
      if (dj === 0) continue;
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(fr(xb[16 * j + ii] / dj));
        L[16 * j + ii] = Math.max(-4, Math.min(3, l)) + 4;
      }
    }
    for (let k = 0; k < 32; k++) y[o + k] = 0;
    for (let j = 0; j < 256; j++) {
      if (L[j] > 3) {
        y[o + (j % 32)] |= 1 << (j >> 5);
        L[j] -= 4;
      }
    }
    for (let j = 0; j < 256; j += 128) {
      for (let l = 0; l < 32; l++) {
        y[o + 32 + j / 4 + l] = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6);
      }
    }
  }
}

function refQuantizeQ45K(x: Float32Array, y: Uint8Array, five: boolean): void {
  const nb = x.length / 256;
  const bytes = five ? 176 : 144;
  const nmax = five ? 31 : 15;
  const L = new Int32Array(256);
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  for (let b = 0; b < nb; b++) {
    const xb = x.subarray(256 * b, 256 * b + 256);
    const o = bytes * b;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j++) {
      const xs = xb.subarray(32 * j, 32 * j + 32);
      let sumX2 = 0;
      for (let l = 0; l < 32; l++) sumX2 = fr(sumX2 + fr(xs[l] * xs[l]));
      const av = fr(Math.sqrt(fr(sumX2 / 32)));
      const w = new Float32Array(32);
      for (let l = 0; l < 32; l++) w[l] = fr(av + Math.abs(xs[l]));
      const sub = new Int32Array(32);
      scales[j] = five
        ? makeQkx2Quants(32, 31, xs, w, sub, mins, j, -0.5, F01, 15, false)
        : makeQkx2Quants(32, 15, xs, w, sub, mins, j, -1, F01, 20, false);
      L.set(sub, 32 * j);
      if (scales[j] > maxScale) maxScale = scales[j];
      if (mins[j] > maxMin) maxMin = mins[j];
    }
    const invScale = maxScale > 0 ? fr(63 / maxScale) : 0;
    const invMin = maxMin > 0 ? fr(63 / maxMin) : 0;
    const sc = o + 4;
    for (let j = 0; j < 8; j++) {
      const ls = Math.min(63, nearestInt(fr(invScale * scales[j])) & 0xff);
      const lm = Math.min(63, nearestInt(fr(invMin * mins[j])) & 0xff);
      if (j < 4) {
        y[sc + j] = ls;
        y[sc + j + 4] = lm;
      } else {
        y[sc + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
        y[sc + j - 4] |= (ls >> 4) << 6;
        y[sc + j] |= (lm >> 4) << 6;
      }
    }
    const d = putFp16(y, o, fr(maxScale / 63));
    const dmin = putFp16(y, o + 2, fr(maxMin / 63));
    for (let j = 0; j < 8; j++) {
      let s: number;
      let m: number;
      if (j < 4) {
        s = y[sc + j] & 63;
        m = y[sc + j + 4] & 63;
      } else {
        s = (y[sc + j + 4] & 0xf) | ((y[sc + j - 4] >> 6) << 4);
        m = (y[sc + j + 4] >> 4) | ((y[sc + j] >> 6) << 4);
      }
      const dj = fr(d * s);
      if (dj === 0) continue;
      const dm = fr(dmin * m);
      for (let ii = 0; ii < 32; ii++) {
        const l = nearestInt(fr(fr(xb[32 * j + ii] + dm) / dj));
        L[32 * j + ii] = Math.max(0, Math.min(nmax, l));
      }
    }
    if (five) {
      const qh = o + 16;
      const ql = o + 48;
      for (let k = 0; k < 32; k++) y[qh + k] = 0;
      let m1 = 1;
      let m2 = 2;
      for (let n = 0; n < 256; n += 64) {
        for (let j = 0; j < 32; j++) {
          let l1 = L[n + j];
          if (l1 > 15) {
            l1 -= 16;
            y[qh + j] |= m1;
          }
          let l2 = L[n + j + 32];
          if (l2 > 15) {
            l2 -= 16;
            y[qh + j] |= m2;
          }
          y[ql + n / 2 + j] = l1 | (l2 << 4);
        }
        m1 <<= 2;
        m2 <<= 2;
      }
    } else {
      for (let j = 0; j < 256; j += 64) {
        for (let l = 0; l < 32; l++) y[o + 16 + j / 2 + l] = L[j + l] | (L[j + l + 32] << 4);
      }
    }
  }
}

export function refQuantizeQ4K(x: Float32Array, y: Uint8Array): void {
  refQuantizeQ45K(x, y, false);
}

export function refQuantizeQ5K(x: Float32Array, y: Uint8Array): void {
  refQuantizeQ45K(x, y, true);
}

export function refQuantizeQ6K(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 256;
  const L = new Int32Array(256);
  const scales = new Float32Array(16);
  for (let b = 0; b < nb; b++) {
    const xb = x.subarray(256 * b, 256 * b + 256);
    const o = 210 * b;
    let maxScale = 0;
    let maxAbs = 0;
    for (let ib = 0; ib < 16; ib++) {
      const sub = new Int32Array(16);
      const s = makeQxQuants(16, 32, xb.subarray(16 * ib, 16 * ib + 16), sub);
      L.set(sub, 16 * ib);
      scales[ib] = s;
      if (Math.abs(s) > maxAbs) {
        maxAbs = Math.abs(s);
        maxScale = s;
      }
    }
    if (maxAbs < GROUP_MAX_EPS) {
      y.fill(0, o, o + 210);
      continue;
    }
    const iscale = fr(-128 / maxScale);
    const d = putFp16(y, o + 208, fr(1 / iscale));
    for (let ib = 0; ib < 16; ib++) {
      const v = nearestInt(fr(iscale * scales[ib]));
      y[o + 192 + ib] = Math.min(127, v) & 0xff;
    }
    for (let j = 0; j < 16; j++) {
      const dj = fr(d * ((y[o + 192 + j] << 24) >> 24));
      if (dj === 0) continue;
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(fr(xb[16 * j + ii] / dj));
        L[16 * j + ii] = Math.max(-32, Math.min(31, l)) + 32;
      }
    }
    for (let j = 0; j < 256; j += 128) {
      const ql = o + j / 2;
      const qh = o + 128 + j / 4;
      for (let l = 0; l < 32; l++) {
        y[ql + l] = (L[j + l] & 0xf) | ((L[j + l + 64] & 0xf) << 4);
        y[ql + l + 32] = (L[j + l + 32] & 0xf) | ((L[j + l + 96] & 0xf) << 4);
        y[qh + l] = (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6);
      }
    }
  }
}
