/**
 * Reads a planned tensor's rows from its safetensors shard as float32, applying the
 * architecture's transform on the way. Only the rows asked for are read (for a permuted tensor,
 * at most one more per head half), into buffers reused from chunk to chunk, so memory follows
 * the chunk, not the tensor.
 */
import type { FileHandle } from "node:fs/promises";
import { endianness } from "node:os";
import { ToolError } from "../formats/errors.ts";
import { openRegularFile, readExactly } from "../formats/file.ts";
import type { HfTensor } from "../formats/safetensors/types.ts";
import { GgmlType } from "../formats/gguf/types.ts";
import { bytesToFloat32 } from "../quant/kernels/index.ts";
import type { PlannedTensor } from "./architecture.ts";

const FLOAT_DTYPES: Record<string, GgmlType.F32 | GgmlType.F16 | GgmlType.BF16> = {
  F32: GgmlType.F32,
  F16: GgmlType.F16,
  BF16: GgmlType.BF16,
};
const LITTLE_ENDIAN_HOST = endianness() === "LE";

/**
 * Open shard files and one read buffer, shared by every tensor of a conversion: the pool calls
 * a tensor's row reader one chunk at a time and runs tensors one after another, so the buffer
 * is never used by two reads at once, and a conversion allocates it once, not once per chunk.
 */
export class ShardFiles {
  readonly #handles = new Map<string, Promise<{ handle: FileHandle }>>();
  #readBuffer = Buffer.alloc(0);

  handle(path: string): Promise<{ handle: FileHandle }> {
    let h = this.#handles.get(path);
    if (!h) {
      h = openRegularFile(path);
      this.#handles.set(path, h);
    }
    return h;
  }

  /** The shared read buffer, grown to at least `bytes`; valid until the next call. */
  readBuffer(bytes: number): Buffer {
    if (this.#readBuffer.length < bytes) this.#readBuffer = Buffer.allocUnsafe(bytes);
    return this.#readBuffer.subarray(0, bytes);
  }

  async close(): Promise<void> {
    for (const h of this.#handles.values()) await (await h).handle.close().catch(() => undefined);
    this.#handles.clear();
  }
}

/** The ggml type of a safetensors float dtype; a ToolError naming the file for any other dtype. */
export function sourceFloatType(t: HfTensor): GgmlType.F32 | GgmlType.F16 | GgmlType.BF16 {
  const type = FLOAT_DTYPES[t.dtype];
  if (type === undefined) throw new ToolError(t.file, `tensor ${t.name} has dtype ${t.dtype}; convert reads F32, F16 and BF16 weights`);
  return type;
}

/** A row reader for the pool: fills `dst` with rows [firstRow, firstRow + count) of the output tensor. */
export function tensorRowReader(
  files: ShardFiles,
  source: HfTensor,
  planned: PlannedTensor,
): (firstRow: number, count: number, dst: Float32Array) => Promise<void> {
  const type = sourceFloatType(source);
  const elementBytes = type === GgmlType.F32 ? 4 : 2;
  const rowLength = planned.shape[0];
  const transform = planned.transform;
  const rowCount = planned.shape.slice(1).reduce((a, b) => a * b, 1);

  /** Fills `dst` with `dst.length` source values from value `first` on (in source order). */
  async function readValues(first: number, dst: Float32Array): Promise<void> {
    const { handle } = await files.handle(source.file);
    const byteCount = dst.length * elementBytes;
    const position = source.fileOffset + first * elementBytes;
    if (type === GgmlType.F32 && LITTLE_ENDIAN_HOST) {
      // the bytes are already the float32 values: read them in place
      await readExactly(source.file, handle, Buffer.from(dst.buffer, dst.byteOffset, byteCount), 0, byteCount, position);
      return;
    }
    const raw = files.readBuffer(byteCount);
    await readExactly(source.file, handle, raw, 0, byteCount, position);
    bytesToFloat32(type, raw, dst);
  }

  async function readSourceRows(first: number, count: number, dst: Float32Array): Promise<void> {
    await readValues(first * rowLength, dst.subarray(0, count * rowLength));
  }

  if (transform?.kind === "permute-rope") {
    // A 1-D tensor (a bias) is permuted element by element: treat it as rows of one value.
    const oneD = planned.shape.length === 1;
    const unit = oneD ? 1 : rowLength;
    const units = oneD ? rowLength : rowCount;
    const perHead = units / transform.heads;
    if (!Number.isInteger(perHead) || perHead % 2 !== 0) {
      throw new ToolError(source.file, `tensor ${source.name}: ${units} rows do not split into ${transform.heads} heads of even size`);
    }
    const half = perHead / 2;
    let scratch = new Float32Array(0);
    return async (firstRow, count, dst) => {
      const [first, n] = oneD ? [0, units] : [firstRow, count];
      // llama.cpp's permute: output row 2i+j of a head is input row j*half+i. Output rows
      // [a, b) of a head need input rows i in [a>>1, (b-1)>>1] of both halves: two reads of
      // about n/2 rows each, so a chunk reads its own rows only, not its whole heads.
      for (let r = first; r < first + n; ) {
        const head = r - (r % perHead);
        const a = r - head;
        const b = Math.min(first + n - head, perHead);
        const lo = a >> 1;
        const m = ((b - 1) >> 1) - lo + 1;
        if (scratch.length < 2 * m * unit) scratch = new Float32Array(2 * m * unit);
        await readValues((head + lo) * unit, scratch.subarray(0, m * unit));
        await readValues((head + half + lo) * unit, scratch.subarray(m * unit, 2 * m * unit));
        for (let k = a; k < b; k++) {
          const src = (k & 1) * m + (k >> 1) - lo;
          dst.set(scratch.subarray(src * unit, (src + 1) * unit), (head + k - first) * unit);
        }
        r = head + b;
      }
    };
  }

  if (transform?.kind === "add") {
    const value = transform.value;
    return async (firstRow, count, dst) => {
      await readSourceRows(firstRow, count, dst);
      const n = count * rowLength;
      // float32 addition, as torch does it
      for (let i = 0; i < n; i++) dst[i] = dst[i] + value;
    };
  }

  return readSourceRows;
}
