/**
 * The `quantize` job, as llama-quantize does it (quantization-and-gguf.md §7.7): read the input
 * header, choose every tensor's type by the mixture's rules, copy the metadata with
 * `general.quantization_version` and `general.file_type` moved to the end (split keys dropped),
 * list the tensors in llama.cpp's order, and stream each tensor through the worker pool into the
 * GGUF writer, a chunk of rows at a time: memory is bounded by a few chunks, not by the model.
 */
import { endianness } from "node:os";
import { ToolError } from "../formats/errors.ts";
import { openRegularFile, readExactly, type OpenedFile } from "../formats/file.ts";
import { readGgufModel, type GgufModel, type GgufModelTensor } from "../formats/gguf/split.ts";
import { GGML_TYPE_TRAITS, GgmlType, GgufValueType, ggmlTypeName, type GgufMetadata } from "../formats/gguf/types.ts";
import { createGgufWriter, type GgufWriterResult, type GgufWriterTensor } from "../formats/gguf/writer.ts";
import { dequantizeRows, isQuantizable } from "./kernels/index.ts";
import { ggmlDims } from "./mixture-rules.ts";
import { chooseTensorTypes, fileTypeOf, llamaTensorOrder, mixtureModelFromMetadata, type MixtureName } from "./mixtures.ts";
import { createQuantPool } from "./pool.ts";
import { findInvalidRowData } from "./validate-rows.ts";

/** ggml's GGML_QNT_VERSION, which llama-quantize writes as general.quantization_version. */
export const GGML_QNT_VERSION = 2;
/** Keys llama-quantize removes: the output of a split input is one file. */
const SPLIT_KEYS = ["split.no", "split.count", "split.tensors.count"];
const LITTLE_ENDIAN_HOST = endianness() === "LE";
/** Tensors kept in their type are copied in pieces of this size. */
const COPY_CHUNK_BYTES = 16 * 1024 * 1024;

export interface RequantizeProgress {
  /** 1-based number of the tensor being written, in output order */
  item: number;
  itemCount: number;
  /** the tensor's name */
  label: string;
  /** input tensor bytes read so far, and in all */
  bytesDone: number;
  bytesTotal: number;
}

export interface RequantizeOptions {
  mixture: MixtureName;
  /** --pure: every quantizable tensor gets the mixture's default type */
  pure?: boolean;
  /** --output-tensor-type */
  outputTensorType?: GgmlType;
  /** --token-embedding-type */
  tokenEmbeddingType?: GgmlType;
  /** worker threads; default: the pool's default (os.availableParallelism()) */
  threads?: number;
  /** folder for the temporary output file (same filesystem as the output) */
  tempDir?: string;
  /** told once when the input is already quantized and gets dequantized, then requantized */
  onWarning?: (message: string) => void;
  onProgress?: (progress: RequantizeProgress) => void;
}

export interface RequantizeResult extends GgufWriterResult {
  /** how many tensors of each type the output holds, most frequent first */
  typeCounts: Array<{ type: GgmlType; count: number }>;
  tensorCount: number;
  /** tensors that were dequantized from a quantized type, then quantized again */
  requantizedCount: number;
}

/** One output tensor: where its data comes from and what becomes of it. */
interface TensorPlan {
  source: GgufModelTensor;
  /** shape as llama-quantize writes it: trailing 1s dropped (ggml_n_dims) */
  shape: number[];
  type: GgmlType;
}

/**
 * The metadata llama-quantize writes: the input's pairs in input order, minus the split keys,
 * with general.quantization_version and general.file_type removed and appended, in that order.
 */
export function requantizedMetadata(input: GgufMetadata, mixture: MixtureName): GgufMetadata {
  const out: GgufMetadata = new Map();
  for (const [key, value] of input) {
    if (SPLIT_KEYS.includes(key) || key === "general.quantization_version" || key === "general.file_type") continue;
    out.set(key, value);
  }
  out.set("general.quantization_version", { type: GgufValueType.UINT32, value: GGML_QNT_VERSION });
  out.set("general.file_type", { type: GgufValueType.UINT32, value: fileTypeOf(mixture) });
  return out;
}

/** Every tensor of the output, in llama.cpp's order, with its chosen type. */
function planTensors(header: GgufModel, options: RequantizeOptions): TensorPlan[] {
  const shapes = header.tensors.map((t) => t.shape.slice(0, ggmlDims(t.shape)));
  const model = mixtureModelFromMetadata(header.metadata, header.path);
  const types = chooseTensorTypes(
    options.mixture,
    header.tensors.map((t, i) => ({ name: t.name, shape: shapes[i], type: t.type })),
    model,
    { pure: options.pure, outputTensorType: options.outputTensorType, tokenEmbeddingType: options.tokenEmbeddingType },
  );
  return llamaTensorOrder(header.tensors.map((t) => t.name)).map((i) => ({ source: header.tensors[i], shape: shapes[i], type: types[i] }));
}

function isQuantizedType(type: GgmlType): boolean {
  return (GGML_TYPE_TRAITS[type]?.blockSize ?? 1) > 1;
}

/**
 * Quantizes the GGUF at `inPath` (a file, or any shard of a split, whose shards are read as one
 * model, as llama-quantize does) with a llama-quantize mixture into one file at `outPath`
 * (written under a temporary name and renamed into place when complete). Throws a ToolError for
 * a bad input.
 */
export async function requantizeGguf(inPath: string, outPath: string, options: RequantizeOptions): Promise<RequantizeResult> {
  const model = await readGgufModel(inPath, { eagerArrays: true });
  const plans = planTensors(model, options);

  const converted = plans.filter((p) => p.type !== p.source.type);
  for (const p of converted) {
    if (!isQuantizable(p.source.type)) {
      throw new ToolError(inPath, `tensor ${p.source.name} has type ${ggmlTypeName(p.source.type)}, which gguf-tool cannot dequantize`);
    }
    if (!isQuantizable(p.type)) throw new ToolError(inPath, `tensor ${p.source.name}: gguf-tool cannot quantize to ${ggmlTypeName(p.type)}`);
  }
  const requantized = converted.filter((p) => isQuantizedType(p.source.type));
  if (requantized.length > 0) {
    const from = [...new Set(requantized.map((p) => ggmlTypeName(p.source.type)))].join(", ");
    options.onWarning?.(
      `${inPath}: ${requantized.length} tensors are already quantized (${from}); dequantizing and requantizing them loses quality compared with quantizing the original F32/F16/BF16 weights`,
    );
  }

  const writerTensors: GgufWriterTensor[] = plans.map((p) => ({ name: p.source.name, shape: p.shape, type: p.type }));
  const bytesTotal = plans.reduce((sum, p) => sum + p.source.size, 0);
  const inputs: OpenedFile[] = [];
  const pool = createQuantPool({ threads: options.threads });
  let writer: Awaited<ReturnType<typeof createGgufWriter>> | undefined;
  try {
    for (const shard of model.shards) inputs.push(await openRegularFile(shard.path));
    writer = await createGgufWriter(
      outPath,
      { metadata: requantizedMetadata(model.metadata, options.mixture), tensors: writerTensors, alignment: model.shards[0].alignment },
      { tempDir: options.tempDir },
    );
    const w = writer;
    // one read buffer for the whole job: copy pieces and chunks are read one at a time
    let scratch = Buffer.alloc(0);
    const scratchOf = (n: number) => {
      if (scratch.length < n) scratch = Buffer.allocUnsafe(n);
      return scratch.subarray(0, n);
    };
    let bytesDone = 0;
    for (let k = 0; k < plans.length; k++) {
      const { source, type } = plans[k];
      const report = (bytes: number) => {
        bytesDone += bytes;
        options.onProgress?.({ item: k + 1, itemCount: plans.length, label: source.name, bytesDone, bytesTotal });
      };
      report(0);
      const shard = model.shards[source.shard];
      const { handle } = inputs[source.shard];
      const start = shard.dataOffset + source.offset;
      if (type === source.type) {
        // kept as it is (norms, biases, or already of the chosen type): copied byte for byte
        const buf = scratchOf(Math.min(COPY_CHUNK_BYTES, source.size));
        for (let done = 0; done < source.size; ) {
          const n = Math.min(buf.length, source.size - done);
          await readExactly(shard.path, handle, buf, 0, n, start + done);
          await w.writeTensorData(buf.subarray(0, n));
          done += n;
          report(n);
        }
        continue;
      }
      const rowLength = source.shape[0];
      const rowCount = source.shape.slice(1).reduce((a, b) => a * b, 1);
      if (rowLength * rowCount === 0) continue;
      const inRowBytes = source.size / rowCount;
      const { blockSize, typeSize } = GGML_TYPE_TRAITS[type]!;
      let valuesWritten = 0;
      await pool.quantizeTensor({
        type,
        rowLength,
        rowCount,
        async readRows(firstRow, count, dst) {
          const byteCount = count * inRowBytes;
          const position = start + firstRow * inRowBytes;
          if (source.type === GgmlType.F32 && LITTLE_ENDIAN_HOST) {
            // F32 rows are already the float32 values: read them in place, no copy
            await readExactly(shard.path, handle, Buffer.from(dst.buffer, dst.byteOffset, byteCount), 0, byteCount, position);
          } else {
            const raw = scratchOf(byteCount);
            await readExactly(shard.path, handle, raw, 0, byteCount, position);
            dequantizeRows(source.type, raw, dst.subarray(0, count * rowLength));
          }
          report(byteCount);
        },
        write: async (bytes) => {
          // llama-quantize's ggml_validate_row_data: it refuses Inf/NaN scales or values, so do we
          const bad = findInvalidRowData(type, bytes);
          if (bad) {
            const where = bad.field === "value" ? `value ${valuesWritten + bad.index}` : `block ${valuesWritten / blockSize + bad.index} (scale ${bad.field})`;
            throw new ToolError(
              inPath,
              `tensor ${source.name}: quantized data validation failed at ${where}: Inf or NaN as ${ggmlTypeName(type)} (weights too large, or NaN/Inf in the input), as llama-quantize also refuses`,
            );
          }
          valuesWritten += (bytes.length / typeSize) * blockSize;
          await w.writeTensorData(bytes);
        },
      });
    }
    const result = await w.finish();
    return { ...result, typeCounts: countTensorTypes(plans), tensorCount: plans.length, requantizedCount: requantized.length };
  } catch (err) {
    await writer?.abort();
    throw err;
  } finally {
    await pool.close();
    for (const input of inputs) await input.handle.close();
  }
}

/** How many tensors have each type, most frequent first (for the one-line summaries). */
export function countTensorTypes(tensors: Array<{ type: GgmlType }>): Array<{ type: GgmlType; count: number }> {
  const counts = new Map<GgmlType, number>();
  for (const t of tensors) counts.set(t.type, (counts.get(t.type) ?? 0) + 1);
  return [...counts].map(([type, count]) => ({ type, count })).sort((a, b) => b.count - a.count);
}
