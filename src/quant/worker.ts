/**
 * The piscina worker of the quantization pool (pool.ts): quantizes one chunk of rows from a
 * shared input buffer into a shared output buffer. Nothing is copied or transferred: both
 * buffers are SharedArrayBuffers the main thread recycles once the task has resolved.
 */
import type { GgmlType } from "../formats/gguf/types.ts";
import { quantizeRows } from "./kernels/index.ts";

export interface QuantizeChunkTask {
  type: GgmlType;
  input: SharedArrayBuffer;
  /** float32 values to read from the start of `input` (whole rows) */
  valueCount: number;
  output: SharedArrayBuffer;
  /** bytes to write at the start of `output` */
  byteCount: number;
}

export default function quantizeChunk(task: QuantizeChunkTask): void {
  quantizeRows(task.type, new Float32Array(task.input, 0, task.valueCount), new Uint8Array(task.output, 0, task.byteCount));
}
