/**
 * Reads a planned tensor's rows from its safetensors shard as float32, applying the
 * architecture's transform on the way. Only the rows asked for are read (plus, for a permuted
 * tensor, the rest of their heads), so memory follows the chunk, not the tensor.
 */
import type { FileHandle } from "node:fs/promises";
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

/** Open shard files, shared by every tensor of a conversion. */
export class ShardFiles {
  readonly #handles = new Map<string, Promise<{ handle: FileHandle }>>();

  handle(path: string): Promise<{ handle: FileHandle }> {
    let h = this.#handles.get(path);
    if (!h) {
      h = openRegularFile(path);
      this.#handles.set(path, h);
    }
    return h;
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
  const rowBytes = rowLength * elementBytes;
  const transform = planned.transform;
  const rowCount = planned.shape.slice(1).reduce((a, b) => a * b, 1);

  async function readSourceRows(first: number, count: number, dst: Float32Array): Promise<void> {
    const { handle } = await files.handle(source.file);
    const raw = Buffer.allocUnsafe(count * rowBytes);
    await readExactly(source.file, handle, raw, 0, raw.length, source.fileOffset + first * rowBytes);
    bytesToFloat32(type, raw, dst.subarray(0, count * rowLength));
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
    return async (firstRow, count, dst) => {
      const [first, n] = oneD ? [0, units] : [firstRow, count];
      const headStart = Math.floor(first / perHead);
      const headEnd = Math.ceil((first + n) / perHead);
      const block = new Float32Array((headEnd - headStart) * perHead * unit);
      await readSourceRows(oneD ? 0 : headStart * perHead, oneD ? 1 : (headEnd - headStart) * perHead, block);
      const base = headStart * perHead;
      for (let r = first; r < first + n; r++) {
        // llama.cpp's permute: output row 2i+j of a head is input row j*half+i
        const k = r % perHead;
        const src = r - k + (k >> 1) + (k & 1) * half - base;
        dst.set(block.subarray(src * unit, (src + 1) * unit), (r - first) * unit);
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
