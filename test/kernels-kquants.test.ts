import { describe, expect, it } from "vitest";
import {
  dequantizeRowsQ2K,
  dequantizeRowsQ3K,
  dequantizeRowsQ4K,
  dequantizeRowsQ5K,
  dequantizeRowsQ6K,
  quantizeRowsQ2K,
  quantizeRowsQ3K,
  quantizeRowsQ4K,
  quantizeRowsQ5K,
  quantizeRowsQ6K,
} from "../src/quant/kernels/kquants.ts";
import { makeQkx2Quants } from "../src/quant/kernels/kquants-qkx2.ts";
import { makeQ3Quants, makeQxQuants } from "../src/quant/kernels/kquants-search.ts";
import { firstByteMismatch, firstFloatMismatch, goldenEntries, loadGolden, rmse, type GoldenTypeName } from "./golden.ts";
import * as ref from "./kquants-reference.ts";

type Quantize = (src: Float32Array, dst: Uint8Array) => void;
type Dequantize = (src: Uint8Array, dst: Float32Array) => void;

interface KType {
  name: GoldenTypeName;
  bytes: number;
  quantize: Quantize;
  dequantize: Dequantize;
  reference: Quantize;
}

const TYPES: KType[] = [
  { name: "q2_K", bytes: 84, quantize: quantizeRowsQ2K, dequantize: dequantizeRowsQ2K, reference: ref.refQuantizeQ2K },
  { name: "q3_K", bytes: 110, quantize: quantizeRowsQ3K, dequantize: dequantizeRowsQ3K, reference: ref.refQuantizeQ3K },
  { name: "q4_K", bytes: 144, quantize: quantizeRowsQ4K, dequantize: dequantizeRowsQ4K, reference: ref.refQuantizeQ4K },
  { name: "q5_K", bytes: 176, quantize: quantizeRowsQ5K, dequantize: dequantizeRowsQ5K, reference: ref.refQuantizeQ5K },
  { name: "q6_K", bytes: 210, quantize: quantizeRowsQ6K, dequantize: dequantizeRowsQ6K, reference: ref.refQuantizeQ6K },
];

/** `n` bytes at an odd byteOffset of a SharedArrayBuffer, as the worker pool hands them out. */
function oddSharedBytes(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n + 3), 1, n);
}

/** `n` floats at byteOffset 4 of a SharedArrayBuffer. */
function sharedFloats(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(4 * (n + 2)), 4, n);
}

describe.each(TYPES)("$name kernels against the llama.cpp goldens", (t) => {
  const entries = goldenEntries(t.name);

  it("has every golden entry, normal and special", () => {
    expect(entries.filter((e) => e.category === "normal").length).toBe(18);
    expect(entries.filter((e) => e.category === "special").length).toBe(3);
    for (const e of entries) expect(e.bytesPerBlock).toBe(t.bytes);
  });

  describe.each(entries.map((e) => [`${e.case} (${e.category})`, e] as const))("%s", (_label, entry) => {
    const g = loadGolden(entry);
    const anyNaN = entry.category === "special";

    it("quantizes to the reference bytes", () => {
      const out = new Uint8Array(g.quantized.length);
      t.quantize(g.input, out);
      expect(firstByteMismatch(out, g.quantized, t.bytes)).toBe(null);
    });

    it("dequantizes the reference bytes to the reference floats", () => {
      const out = new Float32Array(g.dequantized.length);
      t.dequantize(g.quantized, out);
      expect(firstFloatMismatch(out, g.dequantized, anyNaN)).toBe(null);
    });

    it("gives the same bytes block by block, from and into unaligned shared views", () => {
      const blocks = g.input.length / 256;
      const src = sharedFloats(g.input.length);
      src.set(g.input);
      const q = oddSharedBytes(g.quantized.length);
      const deq = sharedFloats(g.input.length);
      for (let b = 0; b < blocks; b++) {
        const qb = q.subarray(b * t.bytes, (b + 1) * t.bytes);
        t.quantize(src.subarray(b * 256, (b + 1) * 256), qb);
        t.dequantize(qb, deq.subarray(b * 256, (b + 1) * 256));
      }
      expect(firstByteMismatch(q, g.quantized, t.bytes)).toBe(null);
      expect(firstFloatMismatch(deq, g.dequantized, anyNaN)).toBe(null);
    });
  });

  it("RMSE of quantize -> dequantize is within 1.01x of llama.cpp's on the random goldens", () => {
    const cases = new Set(["gauss_s1", "gauss_w002", "uniform", "outliers", "offset_gauss", "mixed_signs", "blockscales"]);
    const picked = entries.filter((e) => cases.has(e.case));
    expect(picked.length).toBe(cases.size);
    for (const entry of picked) {
      const g = loadGolden(entry);
      const q = new Uint8Array(g.quantized.length);
      const deq = new Float32Array(g.input.length);
      t.quantize(g.input, q);
      t.dequantize(q, deq);
      const ref = rmse(g.dequantized, g.input);
      expect(ref, entry.id).toBeGreaterThan(0);
      expect(rmse(deq, g.input), entry.id).toBeLessThanOrEqual(1.01 * ref);
    }
  });
});

/** Deterministic xorshift32 in [0, 1). */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/**
 * Blocks chosen to stress the shortcuts of the fast kernels (skipped duplicate trials, float64
 * error sums with exact fallback near ties, speculative trial pairs): Gaussian and uniform data,
 * small integers and halves (exact ties everywhere), constant and sparse sub-blocks, all
 * positive / all negative sub-blocks, outliers, and per-sub-block magnitudes from 1e-22 to 1e22
 * (float32 underflow and overflow inside the scale searches).
 */
function stressInput(blocks: number, seed: number): Float32Array {
  const r = prng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const x = new Float32Array(256 * blocks);
  for (let b = 0; b < blocks; b++) {
    for (let sub = 0; sub < 16; sub++) {
      const kind = Math.floor(r() * 10);
      const scale = 10 ** (Math.floor(r() * 45) - 22);
      const offset = r() < 0.2 ? (r() - 0.5) * 4 * scale : 0;
      for (let i = 0; i < 16; i++) {
        let v: number;
        switch (kind) {
          case 0: v = Math.round((r() - 0.5) * 16) / 2; break; // halves: exact ties
          case 1: v = Math.round((r() - 0.3) * 8); break;
          case 2: v = 0.75; break; // constant
          case 3: v = r() < 0.8 ? 0 : gauss(); break; // sparse
          case 4: v = Math.abs(gauss()); break; // all positive
          case 5: v = -Math.abs(gauss()) - 1; break; // all negative
          case 6: v = r() - 0.5; break;
          case 7: v = gauss() * (r() < 0.05 ? 50 : 1); break; // outliers
          default: v = gauss();
        }
        x[256 * b + 16 * sub + i] = v * scale + offset;
      }
    }
  }
  return x;
}

describe.each(TYPES)("$name fast kernel against the plain reference port", (t) => {
  it("gives the same bytes on stress data", () => {
    const blocks = 48;
    for (const seed of [1, 2, 3]) {
      const x = stressInput(blocks, seed * 7919 + t.bytes);
      const fast = new Uint8Array(blocks * t.bytes);
      const ref = new Uint8Array(blocks * t.bytes);
      t.quantize(x, fast);
      t.reference(x, ref);
      expect(firstByteMismatch(fast, ref, t.bytes), `seed ${seed}`).toBe(null);
    }
  });

  it("gives the same bytes on N(0, 0.02) weights", () => {
    const blocks = 64;
    const r = prng(12345 + t.bytes);
    const x = new Float32Array(256 * blocks);
    for (let i = 0; i < x.length; i++) x[i] = 0.02 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    const fast = new Uint8Array(blocks * t.bytes);
    const ref = new Uint8Array(blocks * t.bytes);
    t.quantize(x, fast);
    t.reference(x, ref);
    expect(firstByteMismatch(fast, ref, t.bytes)).toBe(null);
  });

  it("gives the same bytes where C's float32 sums overflow or underflow (|x| near 1e-20 or 1e12..1e20)", () => {
    const exponents = [-20, -19, 12, 14, 16, 17, 18, 19, 20];
    const r = prng(4242 + t.bytes);
    const x = new Float32Array(256 * exponents.length * 2);
    for (let i = 0; i < x.length; i++) {
      const e = exponents[Math.floor(i / 512)];
      x[i] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()) * 10 ** e;
    }
    const blocks = x.length / 256;
    const fast = new Uint8Array(blocks * t.bytes);
    const ref = new Uint8Array(blocks * t.bytes);
    t.quantize(x, fast);
    t.reference(x, ref);
    expect(firstByteMismatch(fast, ref, t.bytes)).toBe(null);
  });

  it("gives the same bytes whole, row by row and block by block", () => {
    const blocks = 12;
    const x = stressInput(blocks, 99 + t.bytes);
    const whole = new Uint8Array(blocks * t.bytes);
    t.quantize(x, whole);
    for (const perCall of [1, 3, 4]) {
      const out = oddSharedBytes(blocks * t.bytes);
      for (let b = 0; b < blocks; b += perCall) {
        t.quantize(x.subarray(256 * b, 256 * (b + perCall)), out.subarray(b * t.bytes, (b + perCall) * t.bytes));
      }
      expect(firstByteMismatch(out, whole, t.bytes), `${perCall} block(s) per call`).toBe(null);
    }
  });
});

/**
 * The scale searches alone, on many more sub-blocks than the kernel tests (the fast searches
 * decide most trials on float64 bounds and fall back to C's float32 arithmetic only near ties,
 * NaN or overflow: rare paths that need many inputs to be reached).
 */
describe("scale searches against the plain reference port", () => {
  function subBlock(r: () => number, x: Float32Array): void {
    const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    const kind = Math.floor(r() * 8);
    const scale = 10 ** (Math.floor(r() * 41) - 20);
    for (let i = 0; i < x.length; i++) {
      const v = kind === 0 ? Math.round((r() - 0.5) * 16) / 2 : kind === 1 ? Math.abs(gauss()) : kind === 2 ? (r() < 0.7 ? 0 : gauss()) : kind === 3 ? gauss() + 3 : kind === 4 ? Math.round(gauss() * 4) : gauss();
      x[i] = v * scale;
    }
  }

  it.each([
    ["Q4_K", 32, 15, -1, 20, false],
    ["Q5_K", 32, 31, -0.5, 15, false],
    ["Q2_K", 16, 3, -0.5, 15, true],
  ] as const)("make_qkx2_quants as in %s", (_name, n, nmax, rmin, nstep, mad) => {
    const r = prng(n * 100 + nmax);
    const x = new Float32Array(n);
    const w = new Float32Array(n);
    const fastL = new Uint8Array(n);
    const refL = new Int32Array(n);
    const fastMin = new Float32Array(1);
    const refMin = new Float32Array(1);
    const f01 = Math.fround(0.1);
    for (let k = 0; k < 2500; k++) {
      subBlock(r, x);
      let sumX2 = 0;
      for (let i = 0; i < n; i++) sumX2 = Math.fround(sumX2 + Math.fround(x[i] * x[i]));
      const av = Math.fround(Math.sqrt(Math.fround(sumX2 / 32)));
      for (let i = 0; i < n; i++) w[i] = mad ? Math.abs(x[i]) : av + Math.abs(x[i]);
      const fast = makeQkx2Quants(n, nmax, x, 0, w, fastL, 0, fastMin, 0, rmin, f01, nstep, mad);
      const expected = ref.makeQkx2Quants(n, nmax, x, w, refL, refMin, 0, rmin, f01, nstep, mad);
      const same = Object.is(fast, expected) && Object.is(fastMin[0], refMin[0]) && fastL.every((l, i) => l === refL[i]);
      if (!same) expect.fail(`sub-block ${k}: [${Array.from(x).join(", ")}]`);
    }
  });

  it("make_qx_quants (Q6_K) and make_q3_quants (Q3_K)", () => {
    const r = prng(616);
    const x = new Float32Array(16);
    const fastL = new Uint8Array(16);
    const refL = new Int32Array(16);
    for (let k = 0; k < 5000; k++) {
      subBlock(r, x);
      const qx = makeQxQuants(16, 32, x, 0, fastL, 0);
      const qxRef = ref.makeQxQuants(16, 32, x, refL);
      if (!Object.is(qx, qxRef) || !fastL.every((l, i) => l === refL[i])) expect.fail(`qx sub-block ${k}: [${Array.from(x).join(", ")}]`);
      const q3 = makeQ3Quants(16, 4, x, 0, fastL, 0);
      const q3Ref = ref.makeQ3Quants(16, 4, x, refL);
      if (!Object.is(q3, q3Ref) || !fastL.every((l, i) => l === refL[i])) expect.fail(`q3 sub-block ${k}: [${Array.from(x).join(", ")}]`);
    }
  });
});
