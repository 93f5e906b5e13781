/**
 * The kernel registry: one entry point to quantize float32 rows into a ggml type and back.
 * Every kernel is byte-identical to x86-64 llama.cpp's reference (quantization-and-gguf.md).
 * Kernel modules export plain `(src, dst) => void` functions; this file maps types to them and
 * checks buffer sizes once per call, so the kernels' hot loops need not.
 */
import { GgmlType, GGML_TYPE_TRAITS, ggmlByteSize, ggmlTypeName } from "../../formats/gguf/types.ts";
import { dequantizeRowsBF16, dequantizeRowsF16, dequantizeRowsF32, quantizeRowsBF16, quantizeRowsF16, quantizeRowsF32 } from "./float.ts";
import {
  dequantizeRowsQ4_0,
  dequantizeRowsQ4_1,
  dequantizeRowsQ5_0,
  dequantizeRowsQ5_1,
  dequantizeRowsQ8_0,
  quantizeRowsQ4_0,
  quantizeRowsQ4_1,
  quantizeRowsQ5_0,
  quantizeRowsQ5_1,
  quantizeRowsQ8_0,
} from "./legacy.ts";
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
} from "./kquants.ts";

/** Quantizes `src` (a whole number of blocks) into `dst` (exactly its byte size). */
export type QuantizeRowsFn = (src: Float32Array, dst: Uint8Array) => void;
/** Dequantizes `src` (raw blocks) into `dst` (as many floats as the blocks hold). */
export type DequantizeRowsFn = (src: Uint8Array, dst: Float32Array) => void;

interface Kernel {
  quantize: QuantizeRowsFn;
  dequantize: DequantizeRowsFn;
}

const KERNELS: Partial<Record<GgmlType, Kernel>> = {
  [GgmlType.F32]: { quantize: quantizeRowsF32, dequantize: dequantizeRowsF32 },
  [GgmlType.F16]: { quantize: quantizeRowsF16, dequantize: dequantizeRowsF16 },
  [GgmlType.BF16]: { quantize: quantizeRowsBF16, dequantize: dequantizeRowsBF16 },
  [GgmlType.Q8_0]: { quantize: quantizeRowsQ8_0, dequantize: dequantizeRowsQ8_0 },
  [GgmlType.Q4_0]: { quantize: quantizeRowsQ4_0, dequantize: dequantizeRowsQ4_0 },
  [GgmlType.Q4_1]: { quantize: quantizeRowsQ4_1, dequantize: dequantizeRowsQ4_1 },
  [GgmlType.Q5_0]: { quantize: quantizeRowsQ5_0, dequantize: dequantizeRowsQ5_0 },
  [GgmlType.Q5_1]: { quantize: quantizeRowsQ5_1, dequantize: dequantizeRowsQ5_1 },
  [GgmlType.Q2_K]: { quantize: quantizeRowsQ2K, dequantize: dequantizeRowsQ2K },
  [GgmlType.Q3_K]: { quantize: quantizeRowsQ3K, dequantize: dequantizeRowsQ3K },
  [GgmlType.Q4_K]: { quantize: quantizeRowsQ4K, dequantize: dequantizeRowsQ4K },
  [GgmlType.Q5_K]: { quantize: quantizeRowsQ5K, dequantize: dequantizeRowsQ5K },
  [GgmlType.Q6_K]: { quantize: quantizeRowsQ6K, dequantize: dequantizeRowsQ6K },
};

/** True when `type` has a quantize and a dequantize kernel. */
export function isQuantizable(type: GgmlType): boolean {
  return KERNELS[type] !== undefined;
}

function kernelFor(type: GgmlType): Kernel {
  const k = KERNELS[type];
  if (!k) throw new Error(`no kernel for ggml type ${ggmlTypeName(type)}`);
  return k;
}

/** Checks that `count` values of `type` fill whole blocks and take exactly `bytes` bytes. */
function checkSizes(type: GgmlType, count: number, bytes: number): void {
  const blockSize = GGML_TYPE_TRAITS[type]!.blockSize;
  if (count % blockSize !== 0) throw new RangeError(`${ggmlTypeName(type)}: ${count} values is not a multiple of the block size ${blockSize}`);
  const expected = ggmlByteSize(type, count);
  if (bytes !== expected) throw new RangeError(`${ggmlTypeName(type)}: ${count} values take ${expected} bytes, buffer has ${bytes}`);
}

/** Quantizes float32 values (any number of whole rows) into `type`'s blocks, like ggml_quantize_chunk. */
export function quantizeRows(type: GgmlType, src: Float32Array, dst: Uint8Array): void {
  const k = kernelFor(type);
  checkSizes(type, src.length, dst.length);
  k.quantize(src, dst);
}

/** Dequantizes `type`'s blocks into float32 values, like ggml's to_float. */
export function dequantizeRows(type: GgmlType, src: Uint8Array, dst: Float32Array): void {
  const k = kernelFor(type);
  checkSizes(type, dst.length, src.length);
  k.dequantize(src, dst);
}

/**
 * Exact upcast of raw little-endian F32/F16/BF16 bytes (e.g. a safetensors slice, at any
 * byteOffset) to float32: `dst.length` values from `src`.
 */
export function bytesToFloat32(type: GgmlType.F32 | GgmlType.F16 | GgmlType.BF16, src: Uint8Array, dst: Float32Array): void {
  if (type !== GgmlType.F32 && type !== GgmlType.F16 && type !== GgmlType.BF16) {
    throw new Error(`bytesToFloat32: ${ggmlTypeName(type)} is not a float type`);
  }
  dequantizeRows(type, src, dst);
}
