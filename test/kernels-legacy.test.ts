import { describe, expect, it } from "vitest";
import { GgmlType } from "../src/formats/gguf/types.ts";
import { fp32BitsToBf16Bits, fp32BitsToFp16Bits, fp32ToFp16Bits } from "../src/quant/half.ts";
import { nearestInt } from "../src/quant/kernels/common.ts";
import { bytesToFloat32, dequantizeRows, isQuantizable, quantizeRows } from "../src/quant/kernels/index.ts";
import { firstByteMismatch, firstFloatMismatch, goldenEntries, loadGolden, rmse, type GoldenTypeName } from "./golden.ts";

const TYPES: GoldenTypeName[] = ["f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1"];

/** A Uint8Array of `n` bytes at an odd byteOffset of a SharedArrayBuffer, as the worker pool hands them out. */
function oddSharedBytes(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n + 3), 1, n);
}

describe.each(TYPES)("%s kernels against the llama.cpp goldens", (name) => {
  const entries = goldenEntries(name);
  it("has golden entries", () => {
    expect(entries.length).toBeGreaterThan(20);
    expect(isQuantizable(entries[0].ggmlType)).toBe(true);
  });

  describe.each(entries.map((e) => [e.case, e] as const))("%s", (_case, entry) => {
    const anyNaN = entry.category === "special";
    const g = loadGolden(entry);

    it("quantizes to the reference bytes", () => {
      const out = new Uint8Array(g.quantized.length);
      quantizeRows(entry.ggmlType, g.input, out);
      expect(firstByteMismatch(out, g.quantized, entry.bytesPerBlock)).toBe(null);
    });

    it("dequantizes the reference bytes to the reference floats", () => {
      const out = new Float32Array(g.dequantized.length);
      dequantizeRows(entry.ggmlType, g.quantized, out);
      expect(firstFloatMismatch(out, g.dequantized, anyNaN)).toBe(null);
    });

    it("gives the same bytes row by row, from and into unaligned shared views", () => {
      const rowBytes = entry.rowBytes;
      const q = oddSharedBytes(g.quantized.length);
      const deq = new Float32Array(new SharedArrayBuffer(4 * (g.input.length + 1)), 4, g.input.length);
      for (let r = 0; r < entry.rows; r++) {
        const x = g.input.subarray(r * entry.cols, (r + 1) * entry.cols);
        quantizeRows(entry.ggmlType, x, q.subarray(r * rowBytes, (r + 1) * rowBytes));
        dequantizeRows(entry.ggmlType, q.subarray(r * rowBytes, (r + 1) * rowBytes), deq.subarray(r * entry.cols, (r + 1) * entry.cols));
      }
      expect(firstByteMismatch(q, g.quantized, entry.bytesPerBlock)).toBe(null);
      expect(firstFloatMismatch(deq, g.dequantized, anyNaN)).toBe(null);
    });
  });
});

describe("quantize -> dequantize error equals the reference's", () => {
  // Random inputs of the goldens; the reference's dequantized output gives the error to match.
  const cases = new Set(["gauss_s1", "gauss_w002", "uniform", "outliers", "offset_gauss", "mixed_signs", "gauss_c96", "uniform_c160"]);
  it.each(TYPES)("%s RMSE within 1.01x of llama.cpp's", (name) => {
    const entries = goldenEntries(name, "normal").filter((e) => cases.has(e.case));
    expect(entries.length).toBe(cases.size);
    for (const entry of entries) {
      const g = loadGolden(entry);
      const q = new Uint8Array(g.quantized.length);
      const deq = new Float32Array(g.input.length);
      quantizeRows(entry.ggmlType, g.input, q);
      dequantizeRows(entry.ggmlType, q, deq);
      const ours = rmse(deq, g.input);
      const ref = rmse(g.dequantized, g.input);
      expect(ref).toBeGreaterThan(0);
      expect(ours, entry.id).toBeLessThanOrEqual(1.01 * ref);
    }
  });
});

describe("bytesToFloat32", () => {
  /** Every 16-bit pattern, little-endian, at byteOffset 1 of a buffer (unaligned) and at 0. */
  function allPatterns(): { aligned: Uint8Array; unaligned: Uint8Array } {
    const aligned = new Uint8Array(131072);
    for (let h = 0; h < 65536; h++) {
      aligned[2 * h] = h & 0xff;
      aligned[2 * h + 1] = h >>> 8;
    }
    const unaligned = new Uint8Array(131073).subarray(1);
    unaligned.set(aligned);
    return { aligned, unaligned };
  }

  /** IEEE half -> float32 bit pattern, written independently of src/quant/half.ts. */
  function halfToFloatBits(h: number): number {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 31) return mant === 0 ? (sign < 0 ? 0xff800000 : 0x7f800000) : ((h & 0x8000) << 16) | 0x7f800000 | (mant << 13);
    const v = exp === 0 ? sign * mant * 2 ** -24 : sign * (1024 + mant) * 2 ** (exp - 25);
    return new Uint32Array(new Float32Array([v]).buffer)[0];
  }

  it("upcasts every F16 pattern exactly (NaN payloads and -0 included), aligned or not", () => {
    const { aligned, unaligned } = allPatterns();
    for (const src of [aligned, unaligned]) {
      const out = new Float32Array(65536);
      bytesToFloat32(GgmlType.F16, src, out);
      const bits = new Uint32Array(out.buffer);
      for (let h = 0; h < 65536; h++) {
        if (bits[h] !== halfToFloatBits(h) >>> 0) throw new Error(`f16 0x${h.toString(16)}: got 0x${bits[h].toString(16)}`);
      }
    }
  });

  it("upcasts every BF16 pattern exactly (bits << 16), aligned or not", () => {
    const { aligned, unaligned } = allPatterns();
    for (const src of [aligned, unaligned]) {
      const out = new Float32Array(65536);
      bytesToFloat32(GgmlType.BF16, src, out);
      const bits = new Uint32Array(out.buffer);
      for (let h = 0; h < 65536; h++) {
        if (bits[h] !== (h << 16) >>> 0) throw new Error(`bf16 0x${h.toString(16)}: got 0x${bits[h].toString(16)}`);
      }
    }
  });

  it("copies F32 bytes from an unaligned source", () => {
    const x = new Float32Array([1.5, -0, NaN, -3e-40, Infinity]);
    const src = new Uint8Array(x.byteLength + 1).subarray(1);
    src.set(new Uint8Array(x.buffer));
    const out = new Float32Array(x.length);
    bytesToFloat32(GgmlType.F32, src, out);
    expect(firstFloatMismatch(out, x)).toBe(null);
  });

  it("refuses a quantized type and a short buffer", () => {
    expect(() => bytesToFloat32(GgmlType.Q8_0 as GgmlType.F16, new Uint8Array(34), new Float32Array(32))).toThrow(/not a float type/);
    expect(() => bytesToFloat32(GgmlType.F16, new Uint8Array(6), new Float32Array(4))).toThrow(/buffer has 6/);
  });
});

describe("registry", () => {
  const ALL: GoldenTypeName[] = ["f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K"];
  it.each(ALL)("routes %s to its kernels (first golden entry, both directions)", (name) => {
    const entry = goldenEntries(name, "normal")[0];
    const g = loadGolden(entry);
    const q = new Uint8Array(g.quantized.length);
    quantizeRows(entry.ggmlType, g.input, q);
    expect(firstByteMismatch(q, g.quantized, entry.bytesPerBlock)).toBe(null);
    const deq = new Float32Array(g.input.length);
    dequantizeRows(entry.ggmlType, g.quantized, deq);
    expect(firstFloatMismatch(deq, g.dequantized)).toBe(null);
  });

  it("refuses partial blocks and wrong output sizes", () => {
    expect(() => quantizeRows(GgmlType.Q4_0, new Float32Array(48), new Uint8Array(27))).toThrow(/multiple of the block size 32/);
    expect(() => quantizeRows(GgmlType.Q8_0, new Float32Array(64), new Uint8Array(34))).toThrow(/take 68 bytes/);
    expect(() => dequantizeRows(GgmlType.IQ2_XXS, new Uint8Array(66), new Float32Array(256))).toThrow(/no kernel for ggml type IQ2_XXS/);
    expect(isQuantizable(GgmlType.IQ2_XXS)).toBe(false);
  });
});

describe("common helpers", () => {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  /** ggml's nearest_int, literally: the float32 sum's bits. */
  function nearestIntByBits(x: number): number {
    f[0] = x + 12582912;
    return (u[0] & 0x7fffff) - 0x400000;
  }

  it("nearestInt rounds half to even and matches the bit trick everywhere", () => {
    expect([2.5, 3.5, -2.5, -0.5, 0.5, 1.4999999].map((x) => nearestInt(Math.fround(x)))).toEqual([2, 4, -2, 0, 0, 1]);
    expect(nearestInt(NaN)).toBe(0);
    expect(nearestInt(Infinity)).toBe(-4194304);
    expect(nearestInt(-Infinity)).toBe(-4194304);
    let seed = 12345;
    for (let i = 0; i < 200000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      u[0] = seed;
      const x = f[0];
      if (Number.isNaN(x)) continue;
      const scaled = Math.fround(x * 2 ** ((i % 60) - 30)); // spread over the range where the trick is exact and beyond
      if (nearestInt(scaled) !== nearestIntByBits(scaled)) throw new Error(`nearestInt(${scaled})`);
    }
  });

});

describe("float32 -> fp16 / bf16 bits (src/quant/half.ts)", () => {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);

  /** Round-to-nearest-even fp16 of a float32 bit pattern, by float64 arithmetic (independent oracle). */
  function fp16Oracle(bits: number): number {
    u[0] = bits;
    const x = f[0];
    const sign = bits >>> 31 ? 0x8000 : 0;
    if (Number.isNaN(x)) return sign | 0x7e00;
    const a = Math.abs(x);
    if (a >= 65520) return sign | 0x7c00;
    if (a < 2 ** -14) {
      // subnormal half: units of 2^-24, ties to even
      const q = a * 2 ** 24;
      let r = Math.floor(q);
      if (q - r > 0.5 || (q - r === 0.5 && r & 1)) r++;
      return sign | r;
    }
    const e = Math.floor(Math.log2(a));
    const exp = a >= 2 ** (e + 1) ? e + 1 : a < 2 ** e ? e - 1 : e; // guard log2 rounding
    const m = a / 2 ** exp - 1; // in [0, 1)
    const q = m * 1024;
    let r = Math.floor(q);
    if (q - r > 0.5 || (q - r === 0.5 && r & 1)) r++;
    return sign | (((exp + 15) << 10) + r);
  }

  it("fp16 matches round-to-nearest-even over a spread of bit patterns and every boundary", () => {
    const patterns: number[] = [0x38800000, 0x387fffff, 0x477fefff, 0x477ff000, 0x477fe000, 0x33000000, 0x33000001, 0x33c00000, 0x7f800000, 0x7f800001, 0x7fc00000, 0x80000000, 0xff800000];
    for (let b = 0; b < 2 ** 32; b += 4099) patterns.push(b);
    for (let b = 0x38000000; b < 0x39000000; b += 1) if ((b & 0xfff) === 0xfff || (b & 0x1fff) === 0x1000) patterns.push(b); // ties and near-ties
    for (const b of patterns) {
      for (const bits of [b >>> 0, (b | 0x80000000) >>> 0]) {
        const want = fp16Oracle(bits);
        if (fp32BitsToFp16Bits(bits | 0) !== want) throw new Error(`fp16 of 0x${bits.toString(16)}: got 0x${fp32BitsToFp16Bits(bits | 0).toString(16)}, want 0x${want.toString(16)}`);
      }
    }
    expect(fp32ToFp16Bits(-0)).toBe(0x8000);
    expect(fp32ToFp16Bits(65519.99)).toBe(0x7bff);
    expect(fp32ToFp16Bits(2 ** -25)).toBe(0);
    expect(fp32ToFp16Bits(3 * 2 ** -25)).toBe(2);
  });

  it("bf16 rounds to nearest even, keeps NaN quiet and its sign", () => {
    expect(fp32BitsToBf16Bits(0x3f808000)).toBe(0x3f80); // tie, even stays
    expect(fp32BitsToBf16Bits(0x3f818000)).toBe(0x3f82); // tie, odd rounds up
    expect(fp32BitsToBf16Bits(0x7f7fffff)).toBe(0x7f80); // float32 max -> inf
    expect(fp32BitsToBf16Bits(0xff800001 | 0)).toBe(0xffc0); // signalling NaN -> quiet, sign kept
    expect(fp32BitsToBf16Bits(0x00000001)).toBe(0x0000); // subnormals are not flushed, they round
    expect(fp32BitsToBf16Bits(0x00008001)).toBe(0x0001);
  });
});
