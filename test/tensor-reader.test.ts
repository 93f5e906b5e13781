/**
 * The convert row reader under every chunking: the fixtures convert each tensor in one chunk,
 * real models in chunks that start and end inside attention heads. Any chunking must give the
 * rows of llama.cpp's permute (gguf-py LlamaModel.permute, written out here as numpy does it:
 * reshape(n_head, 2, rows / n_head / 2, ...).swapaxes(1, 2)), for F32, F16 and BF16 sources,
 * 2-D weights and 1-D biases.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readSafetensorsHeader } from "../src/formats/safetensors/reader.ts";
import { GgmlType } from "../src/formats/gguf/types.ts";
import { quantizeRows } from "../src/quant/kernels/index.ts";
import type { PlannedTensor } from "../src/convert/architecture.ts";
import { ShardFiles, tensorRowReader } from "../src/convert/tensor-reader.ts";

const dir = mkdtempSync(join(os.tmpdir(), "gguf-tool-tensor-reader-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DTYPES = [
  { dtype: "F32", type: GgmlType.F32, bytes: 4 },
  { dtype: "F16", type: GgmlType.F16, bytes: 2 },
  { dtype: "BF16", type: GgmlType.BF16, bytes: 2 },
] as const;

/** Values exactly representable in F16 and BF16, all different, so that any misplaced row shows. */
function values(n: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = ((i % 251) - 125) * 2 ** -((i >> 8) % 7);
  return v;
}

/** A one-tensor safetensors file; `before` values of another tensor come first, so offsets are not 0. */
function writeSafetensors(name: string, dtype: (typeof DTYPES)[number], shape: number[], data: Float32Array): string {
  const before = 3;
  const raw = new Uint8Array((before + data.length) * dtype.bytes);
  quantizeRows(dtype.type, values(before), raw.subarray(0, before * dtype.bytes));
  quantizeRows(dtype.type, data, raw.subarray(before * dtype.bytes));
  const header = JSON.stringify({
    pad: { dtype: dtype.dtype, shape: [before], data_offsets: [0, before * dtype.bytes] },
    [name]: { dtype: dtype.dtype, shape, data_offsets: [before * dtype.bytes, raw.length] },
  });
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(header)));
  const path = join(dir, `${name}-${dtype.dtype}-${shape.join("x")}.safetensors`);
  writeFileSync(path, Buffer.concat([len, Buffer.from(header), raw]));
  return path;
}

/** llama.cpp's permute of `units` units of `unit` values each. */
function permuteReference(src: Float32Array, units: number, unit: number, heads: number): Float32Array {
  const perHead = units / heads;
  const half = perHead / 2;
  const out = new Float32Array(src.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < 2; j++) {
      for (let i = 0; i < half; i++) {
        const from = h * perHead + j * half + i;
        const to = h * perHead + 2 * i + j;
        out.set(src.subarray(from * unit, (from + 1) * unit), to * unit);
      }
    }
  }
  return out;
}

/** Reads the whole tensor through the reader, `chunkRows` rows per call, as the pool does. */
async function readInChunks(path: string, name: string, planned: PlannedTensor, chunkRows: number): Promise<Float32Array> {
  const header = await readSafetensorsHeader(path);
  const source = { ...header.tensors.find((t) => t.name === name)!, file: path };
  const files = new ShardFiles();
  try {
    const read = tensorRowReader(files, source, planned);
    const rowLength = planned.shape[0];
    const rowCount = planned.shape.slice(1).reduce((a, b) => a * b, 1);
    const out = new Float32Array(rowLength * rowCount);
    const dst = new Float32Array(chunkRows * rowLength);
    for (let first = 0; first < rowCount; first += chunkRows) {
      const count = Math.min(chunkRows, rowCount - first);
      dst.fill(NaN);
      await read(first, count, dst);
      out.set(dst.subarray(0, count * rowLength), first * rowLength);
    }
    return out;
  } finally {
    await files.close();
  }
}

describe("tensorRowReader", () => {
  for (const dtype of DTYPES) {
    it(`${dtype.dtype}: permuted Q rows equal llama.cpp's permute for any chunk size`, async () => {
      // 6 heads of 10 rows (half 5: chunks straddle halves and heads), rows of 8 values
      const heads = 6;
      const rows = 60;
      const rowLength = 8;
      const data = values(rows * rowLength);
      const path = writeSafetensors("q", dtype, [rows, rowLength], data);
      const planned: PlannedTensor = { name: "blk.0.attn_q.weight", source: "q", shape: [rowLength, rows], transform: { kind: "permute-rope", heads } };
      const expected = permuteReference(data, rows, rowLength, heads);
      for (const chunkRows of [1, 2, 3, 4, 7, 10, 13, 25, 60]) {
        expect(await readInChunks(path, "q", planned, chunkRows), `${chunkRows} rows per chunk`).toEqual(expected);
      }
    });

    it(`${dtype.dtype}: a permuted 1-D bias and plain rows read as they are stored`, async () => {
      const bias = values(24);
      const biasPath = writeSafetensors("bq", dtype, [24], bias);
      const planned: PlannedTensor = { name: "blk.0.attn_q.bias", source: "bq", shape: [24], transform: { kind: "permute-rope", heads: 3 } };
      expect(await readInChunks(biasPath, "bq", planned, 1)).toEqual(permuteReference(bias, 24, 1, 3));

      const data = values(9 * 16);
      const path = writeSafetensors("w", dtype, [9, 16], data);
      const plain: PlannedTensor = { name: "blk.0.ffn_up.weight", source: "w", shape: [16, 9] };
      for (const chunkRows of [1, 4, 9]) expect(await readInChunks(path, "w", plain, chunkRows)).toEqual(data);
    });
  }
});
