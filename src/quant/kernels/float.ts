/**
 * F32, F16 and BF16 "kernels": float32 rows to and from their raw little-endian bytes, as
 * ggml_fp32_to_fp16_row / ggml_fp32_to_bf16_row and their inverses (quantization-and-gguf.md
 * §4.1, §4.2). Values are handled as float32 bit patterns (Uint32Array views), never as JS
 * numbers, so NaN payloads and -0 come through exactly.
 *
 * Byte buffers may sit at any byteOffset (slices of a file buffer or a SharedArrayBuffer);
 * an aligned Uint16Array/Uint32Array view is used when the offset allows, bytes otherwise.
 * The host is little-endian (x86-64, arm64), like the files.
 */
import { FP16_TO_FP32_BITS, fp32BitsToBf16Bits, fp32BitsToFp16Bits } from "../half.ts";

/** The float32 bit patterns; Int32 rather than Uint32 so V8 keeps every element a small integer. */
function bitsOf(src: Float32Array): Int32Array {
  return new Int32Array(src.buffer, src.byteOffset, src.length);
}

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function quantizeRowsF32(src: Float32Array, dst: Uint8Array): void {
  dst.set(bytesOf(src));
}

export function dequantizeRowsF32(src: Uint8Array, dst: Float32Array): void {
  bytesOf(dst).set(src.subarray(0, dst.byteLength));
}

export function quantizeRowsF16(src: Float32Array, dst: Uint8Array): void {
  const x = bitsOf(src);
  const n = x.length;
  if ((dst.byteOffset & 1) === 0) {
    const y = new Uint16Array(dst.buffer, dst.byteOffset, n);
    for (let i = 0; i < n; i++) y[i] = fp32BitsToFp16Bits(x[i]);
  } else {
    for (let i = 0; i < n; i++) {
      const h = fp32BitsToFp16Bits(x[i]);
      dst[2 * i] = h;
      dst[2 * i + 1] = h >>> 8;
    }
  }
}

/** Exact fp16 -> float32 of `dst.length` values from raw little-endian bytes. */
export function dequantizeRowsF16(src: Uint8Array, dst: Float32Array): void {
  const y = bitsOf(dst);
  const n = y.length;
  if ((src.byteOffset & 1) === 0) {
    const x = new Uint16Array(src.buffer, src.byteOffset, n);
    for (let i = 0; i < n; i++) y[i] = FP16_TO_FP32_BITS[x[i]];
  } else {
    for (let i = 0; i < n; i++) y[i] = FP16_TO_FP32_BITS[src[2 * i] | (src[2 * i + 1] << 8)];
  }
}

export function quantizeRowsBF16(src: Float32Array, dst: Uint8Array): void {
  const x = bitsOf(src);
  const n = x.length;
  if ((dst.byteOffset & 1) === 0) {
    const y = new Uint16Array(dst.buffer, dst.byteOffset, n);
    for (let i = 0; i < n; i++) y[i] = fp32BitsToBf16Bits(x[i]);
  } else {
    for (let i = 0; i < n; i++) {
      const h = fp32BitsToBf16Bits(x[i]);
      dst[2 * i] = h;
      dst[2 * i + 1] = h >>> 8;
    }
  }
}

/** Exact bf16 -> float32 (`bits << 16`) of `dst.length` values from raw little-endian bytes. */
export function dequantizeRowsBF16(src: Uint8Array, dst: Float32Array): void {
  const y = bitsOf(dst);
  const n = y.length;
  if ((src.byteOffset & 1) === 0) {
    const x = new Uint16Array(src.buffer, src.byteOffset, n);
    for (let i = 0; i < n; i++) y[i] = x[i] << 16;
  } else {
    for (let i = 0; i < n; i++) y[i] = (src[2 * i] << 16) | (src[2 * i + 1] << 24);
  }
}
