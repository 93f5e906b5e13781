/**
 * Loader for the llama.cpp kernel goldens in ../shared/golden/quant (see its README.md).
 * Shared by every kernel test (legacy, float, K-quants): import from here, do not copy.
 *
 *   for (const entry of goldenEntries("q4_K")) {
 *     const { input, quantized, dequantized } = loadGolden(entry);
 *     quantizeRows(entry.ggmlType, input, out);
 *     expect(firstByteMismatch(out, quantized, entry.bytesPerBlock)).toBe(null);
 *   }
 *
 * Every file is size- and sha256-checked and copied into its own ArrayBuffer (byteOffset 0),
 * so the typed arrays returned can be used directly. Floats are compared by bit pattern
 * (so -0 and +0 differ); `special` entries (NaN/Inf inputs) let any NaN match any NaN.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { GgmlType } from "../src/formats/gguf/types.ts";
import { SHARED } from "./helpers/cli.ts";

export const GOLDEN_QUANT_DIR = join(SHARED, "golden", "quant");

/** ggml's spelling, as used for the golden folders. */
export type GoldenTypeName = "f16" | "bf16" | "q4_0" | "q4_1" | "q5_0" | "q5_1" | "q8_0" | "q2_K" | "q3_K" | "q4_K" | "q5_K" | "q6_K";

interface GoldenFile {
  file: string;
  bytes: number;
  sha256: string;
}

interface ManifestEntry {
  id: string;
  type: GoldenTypeName;
  ggml_type_id: number;
  case: string;
  category: "normal" | "special";
  rows: number;
  cols: number;
  block_size: number;
  bytes_per_block: number;
  row_bytes: number;
  input: GoldenFile;
  quantized: GoldenFile;
  dequantized: GoldenFile;
  reference_validate_row_data: boolean;
  same_bytes_with_fma_contraction: boolean;
}

/** One (type, input case) pair of the manifest. */
export interface GoldenEntry {
  /** "q4_K/gauss_s1" */
  id: string;
  type: GoldenTypeName;
  ggmlType: GgmlType;
  case: string;
  category: "normal" | "special";
  rows: number;
  cols: number;
  blockSize: number;
  bytesPerBlock: number;
  rowBytes: number;
  /** what ggml_validate_row_data said about the reference bytes (false: llama-quantize refuses them) */
  referenceValid: boolean;
  files: { input: GoldenFile; quantized: GoldenFile; dequantized: GoldenFile };
}

export interface GoldenData {
  /** rows * cols float32 */
  input: Float32Array;
  /** rows * rowBytes bytes (for f16/bf16: one little-endian uint16 per value) */
  quantized: Uint8Array;
  /** the reference dequantizer's output for `quantized`, rows * cols float32 */
  dequantized: Float32Array;
}

let manifestEntries: ManifestEntry[] | undefined;

function manifest(): ManifestEntry[] {
  manifestEntries ??= (JSON.parse(readFileSync(join(GOLDEN_QUANT_DIR, "manifest.json"), "utf8")) as { entries: ManifestEntry[] }).entries;
  return manifestEntries;
}

/** Every entry of `type` (both categories unless one is given), in manifest order. */
export function goldenEntries(type: GoldenTypeName, category?: "normal" | "special"): GoldenEntry[] {
  return manifest()
    .filter((e) => e.type === type && (category === undefined || e.category === category))
    .map((e) => ({
      id: e.id,
      type: e.type,
      ggmlType: e.ggml_type_id as GgmlType,
      case: e.case,
      category: e.category,
      rows: e.rows,
      cols: e.cols,
      blockSize: e.block_size,
      bytesPerBlock: e.bytes_per_block,
      rowBytes: e.row_bytes,
      referenceValid: e.reference_validate_row_data,
      files: { input: e.input, quantized: e.quantized, dequantized: e.dequantized },
    }));
}

const cache = new Map<string, Uint8Array>();

/** The file's bytes, checked against the manifest's size and sha256, in a fresh ArrayBuffer. */
function readChecked(f: GoldenFile): Uint8Array {
  let bytes = cache.get(f.file);
  if (bytes) return bytes;
  const buf = readFileSync(join(GOLDEN_QUANT_DIR, f.file));
  if (buf.length !== f.bytes) throw new Error(`${f.file}: expected ${f.bytes} bytes, got ${buf.length}`);
  if (createHash("sha256").update(buf).digest("hex") !== f.sha256) throw new Error(`${f.file}: sha256 mismatch`);
  bytes = new Uint8Array(buf); // copy: own ArrayBuffer, byteOffset 0
  cache.set(f.file, bytes);
  return bytes;
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error("the golden loader assumes a little-endian host");

/**
 * A Float32Array over a copy of the file's bytes: no number round trip, so NaN payloads and
 * signs survive bit for bit (a DataView.getFloat32 round trip need not keep them).
 */
function readFloat32(f: GoldenFile): Float32Array {
  return new Float32Array(readChecked(f).slice().buffer);
}

/** The entry's input, expected quantized bytes and expected dequantized floats (fresh copies). */
export function loadGolden(entry: GoldenEntry): GoldenData {
  return {
    input: readFloat32(entry.files.input),
    quantized: readChecked(entry.files.quantized).slice(),
    dequantized: readFloat32(entry.files.dequantized),
  };
}

/** Index of the first differing byte, reported with its block number, or null when equal. */
export function firstByteMismatch(actual: Uint8Array, expected: Uint8Array, bytesPerBlock = 1): string | null {
  if (actual.length !== expected.length) return `length ${actual.length} != ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      return `byte ${i} (block ${Math.floor(i / bytesPerBlock)}, offset ${i % bytesPerBlock}): got 0x${actual[i].toString(16)}, expected 0x${expected[i].toString(16)}`;
    }
  }
  return null;
}

/** First float32 whose bit pattern differs, or null. With `anyNaN`, any NaN matches any NaN. */
export function firstFloatMismatch(actual: Float32Array, expected: Float32Array, anyNaN = false): string | null {
  if (actual.length !== expected.length) return `length ${actual.length} != ${expected.length}`;
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] === e[i]) continue;
    if (anyNaN && Number.isNaN(actual[i]) && Number.isNaN(expected[i])) continue;
    return `value ${i}: got ${actual[i]} (0x${a[i].toString(16)}), expected ${expected[i]} (0x${e[i].toString(16)})`;
  }
  return null;
}

/** Root-mean-square of (a - b), in float64. */
export function rmse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return Math.sqrt(s / a.length);
}
