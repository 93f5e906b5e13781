/**
 * `convert`: a Hugging Face safetensors folder to GGUF in one streaming pass.
 *
 * Two routes, both producing exactly what llama.cpp produces:
 * - F32, F16, BF16, Q8_0: what `convert_hf_to_gguf.py --outtype <type>` writes (norms, biases
 *   and 1-D tensors F32; Q8_0 falls back to F16 for rows not a multiple of 32).
 * - every other mixture: what `llama-quantize` writes from the converter's F32 output, without
 *   that F32 file ever existing: the F32 conversion is planned in memory and each tensor goes
 *   straight from the safetensors bytes through the pool into the GGUF writer.
 */
import { readFile } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { ToolError } from "../formats/errors.ts";
import { openHfFolder } from "../formats/safetensors/hf-folder.ts";
import type { HfModel } from "../formats/safetensors/types.ts";
import { GgmlType, GgufValueType, type GgufMetadata } from "../formats/gguf/types.ts";
import { createGgufWriter, type GgufWriterResult } from "../formats/gguf/writer.ts";
import { chooseTensorTypes, fileTypeOf, llamaTensorOrder, mixtureModelFromMetadata, type MixtureName } from "../quant/mixtures.ts";
import { createQuantPool } from "../quant/pool.ts";
import { countTensorTypes, requantizedMetadata } from "../quant/requantize.ts";
import type { Architecture, HfConfig, PlannedTensor } from "./architecture.ts";
import { findArchitecture, supportedArchitectures } from "./architectures/index.ts";
import { addGeneralMetadata } from "./general-metadata.ts";
import { readModelCard } from "./model-card.ts";
import { ShardFiles, sourceFloatType, tensorRowReader } from "./tensor-reader.ts";
import { loadVocab } from "./tokenizer/vocab.ts";

/** The mixtures llama.cpp's converter writes itself; the others are llama-quantize's. */
const CONVERTER_TYPES: Partial<Record<MixtureName, GgmlType>> = {
  F32: GgmlType.F32,
  F16: GgmlType.F16,
  BF16: GgmlType.BF16,
  Q8_0: GgmlType.Q8_0,
};

export interface ConvertProgress {
  item: number;
  itemCount: number;
  label: string;
  bytesDone: number;
  bytesTotal: number;
}

export interface ConvertOptions {
  /** the mixture; default F16, as llama.cpp's converter */
  mixture?: MixtureName;
  /** output path; default `<folder name>-<TYPE>.gguf` in the current folder */
  output?: string;
  /** folder for the temporary output (same filesystem as the output) */
  tempDir?: string;
  threads?: number;
  /** tokenizer.ggml.pre override */
  preTokenizer?: string;
  onWarning?: (message: string) => void;
  onProgress?: (progress: ConvertProgress) => void;
}

export interface ConvertResult extends GgufWriterResult {
  architecture: string;
  mixture: MixtureName;
  tensorCount: number;
  typeCounts: Array<{ type: GgmlType; count: number }>;
}

/** One tensor of the output, in writing order. */
interface OutputTensor {
  name: string;
  shape: number[];
  type: GgmlType;
  /** the planned (F32-conversion) tensor, or generated data */
  planned?: PlannedTensor;
  generated?: Float32Array;
}

/** The default output file name: `<folder>-<TYPE>.gguf`. */
export function defaultOutputName(dir: string, mixture: MixtureName): string {
  return `${basename(resolve(dir))}-${mixture}.gguf`;
}

async function readJsonIfPresent(path: string): Promise<Record<string, unknown>> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path, "utf8"));
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {}; // llama.cpp ignores a missing or invalid generation_config.json too
  }
}

/** The architecture for a folder, or a ToolError naming config.json and listing the supported ones. */
export function architectureOf(model: HfModel): Architecture {
  const name = model.architecture;
  const configPath = resolve(model.dir, "config.json");
  if (name === undefined) throw new ToolError(configPath, "has no architectures entry");
  const arch = findArchitecture(name);
  if (!arch) throw new ToolError(configPath, `architecture ${name} is not supported; supported: ${supportedArchitectures().join(", ")}`);
  return arch;
}

/** config.json as llama.cpp sees it: text_config merged in, the architecture's defaults filled. */
function effectiveConfig(arch: Architecture, config: HfConfig): HfConfig {
  const merged = typeof config.text_config === "object" && config.text_config !== null ? { ...config, ...(config.text_config as HfConfig) } : config;
  return arch.withDefaults ? arch.withDefaults(merged) : merged;
}

/** Plans the F32 conversion: every HF tensor mapped, checked against the config, in llama.cpp's order. */
function planTensors(model: HfModel, arch: Architecture, config: HfConfig, tokenizerVocabSize: number): PlannedTensor[] {
  const planned: PlannedTensor[] = [];
  const seen = new Set<string>();
  for (const t of model.tensors.values()) {
    if (/\.(attention\.masked_bias|attention\.bias|rotary_emb\.inv_freq)$/.test(t.name)) continue;
    const p = arch.mapTensor(t.name, t.shape, { config, tokenizerVocabSize });
    if (p === null) continue;
    if (p === undefined) throw new ToolError(t.file, `cannot map tensor ${t.name} for ${arch.ggufArchitecture}`);
    sourceFloatType(t);
    if (seen.has(p.name)) throw new ToolError(t.file, `tensor ${t.name} maps to ${p.name}, which another tensor already gave`);
    seen.add(p.name);
    planned.push(p);
  }
  checkShapes(model, planned, config);
  return planned;
}

/** The shapes the config promises: a model whose weights disagree with it would not load. */
function checkShapes(model: HfModel, planned: PlannedTensor[], config: HfConfig): void {
  const hidden = config.hidden_size;
  const vocab = config.vocab_size;
  for (const p of planned) {
    const source = model.tensors.get(p.source)!;
    const expectRow = (n: unknown, what: string) => {
      if (typeof n === "number" && p.shape[0] !== n) {
        throw new ToolError(source.file, `tensor ${p.source} has rows of ${p.shape[0]} values, but config.json's ${what} is ${n}`);
      }
    };
    if (p.name === "token_embd.weight" || p.name === "output.weight") {
      expectRow(hidden, "hidden_size");
      if (typeof vocab === "number" && p.shape[1] > vocab) {
        throw new ToolError(source.file, `tensor ${p.source} has ${p.shape[1]} rows, more than config.json's vocab_size ${vocab}`);
      }
    } else if (/^blk\.\d+\.(attn_q|attn_k|attn_v|attn_qkv|ffn_gate|ffn_up)\.weight$/.test(p.name)) {
      expectRow(hidden, "hidden_size");
    } else if (/^blk\.\d+\.ffn_down\.weight$/.test(p.name)) {
      expectRow(config.intermediate_size, "intermediate_size");
    }
  }
  const layers = config.num_hidden_layers;
  if (typeof layers === "number") {
    const maxLayer = Math.max(-1, ...planned.map((p) => Number(/^blk\.(\d+)\./.exec(p.name)?.[1] ?? -1)));
    if (maxLayer + 1 !== layers) {
      throw new ToolError(resolve(model.dir, "config.json"), `num_hidden_layers is ${layers}, but the weights have ${maxLayer + 1} layers`);
    }
  }
}

/** llama.cpp's converter's type for a tensor (prepare_tensors): F32 for 1-D, norms and non-weights. */
function converterType(name: string, shape: number[], target: GgmlType): GgmlType {
  if (shape.length <= 1 || name.endsWith("_norm.weight") || !name.endsWith(".weight")) return GgmlType.F32;
  // gguf-py raises QuantError for rows that do not fit the block, and the converter falls back to F16
  if (target === GgmlType.Q8_0 && shape[0] % 32 !== 0) return GgmlType.F16;
  return target;
}

const product = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Converts the Hugging Face folder `dir` to a GGUF file, streaming tensor by tensor.
 * Errors about the input are ToolErrors naming the file; nothing is left behind on failure.
 */
export async function convertHfFolder(dir: string, options: ConvertOptions = {}): Promise<ConvertResult> {
  const mixture = options.mixture ?? "F16";
  const model = await openHfFolder(dir);
  const arch = architectureOf(model);
  const config = effectiveConfig(arch, model.config);

  const vocab = await loadVocab(dir, config, { preTokenizer: options.preTokenizer, onWarning: options.onWarning });
  const tokens = vocab.get("tokenizer.ggml.tokens");
  const tokenizerVocabSize = tokens?.type === GgufValueType.ARRAY ? tokens.value.length : Number(config.vocab_size ?? 0);

  const generated = arch.generatedTensors?.(config) ?? [];
  const planned = planTensors(model, arch, config, tokenizerVocabSize);
  const totalParams = generated.reduce((s, g) => s + g.data.length, 0) + planned.reduce((s, p) => s + product(p.shape), 0);

  // the F32 conversion's metadata, or the converter's for its own types
  const converterTarget = CONVERTER_TYPES[mixture];
  const warn = options.onWarning ?? (() => {});
  const metadata: GgufMetadata = new Map();
  addGeneralMetadata(metadata, {
    architecture: arch.ggufArchitecture,
    folderName: basename(resolve(dir)),
    config,
    generationConfig: await readJsonIfPresent(resolve(dir, "generation_config.json")),
    totalParams,
    modelCard: await readModelCard(dir, warn),
    onWarning: (message) => warn(`${resolve(dir, "README.md")}: ${message}`),
  });
  arch.metadata(metadata, config, converterTarget !== undefined ? fileTypeOf(mixture) : fileTypeOf("F32"));
  metadata.set("general.quantization_version", { type: GgufValueType.UINT32, value: 2 });
  for (const [k, v] of vocab) metadata.set(k, v);
  arch.finishVocab?.(metadata);

  const conversion: OutputTensor[] = [
    ...generated.map((g) => ({ name: g.name, shape: [g.data.length], type: GgmlType.F32, generated: g.data })),
    ...planned.map((p) => ({ name: p.name, shape: p.shape, type: converterType(p.name, p.shape, converterTarget ?? GgmlType.F32), planned: p })),
  ];
  let output: OutputTensor[];
  let outMetadata: GgufMetadata;
  if (converterTarget !== undefined) {
    output = conversion;
    outMetadata = metadata;
  } else {
    // llama-quantize on the F32 conversion: its types, its tensor order, its metadata
    const types = chooseTensorTypes(mixture, conversion, mixtureModelFromMetadata(metadata, dir));
    output = llamaTensorOrder(conversion.map((t) => t.name)).map((i) => ({ ...conversion[i], type: types[i] }));
    outMetadata = requantizedMetadata(metadata, mixture);
  }

  const outPath = options.output ?? defaultOutputName(dir, mixture);
  const bytesTotal = output.reduce((s, t) => s + (t.planned ? model.tensors.get(t.planned.source)!.byteLength : t.generated!.byteLength), 0);
  const files = new ShardFiles();
  const pool = createQuantPool({ threads: options.threads });
  let writer: Awaited<ReturnType<typeof createGgufWriter>> | undefined;
  try {
    writer = await createGgufWriter(outPath, { metadata: outMetadata, tensors: output }, { tempDir: options.tempDir });
    const w = writer;
    let bytesDone = 0;
    for (let k = 0; k < output.length; k++) {
      const t = output[k];
      const rowLength = t.shape[0];
      const rowCount = product(t.shape) / rowLength;
      const source = t.planned && model.tensors.get(t.planned.source)!;
      // progress counts source bytes; a truncated tensor (Gemma 3's embedding) reads fewer rows than it has
      const bytesPerRow = source ? source.byteLength / (product(source.shape) / rowLength) : rowLength * 4;
      options.onProgress?.({ item: k + 1, itemCount: output.length, label: t.name, bytesDone, bytesTotal });
      const readRows = source
        ? tensorRowReader(files, source, t.planned!)
        : async (first: number, count: number, dst: Float32Array) => dst.set(t.generated!.subarray(first * rowLength, (first + count) * rowLength));
      await pool.quantizeTensor({
        type: t.type,
        rowLength,
        rowCount,
        readRows: async (first, count, dst) => {
          await readRows(first, count, dst);
          bytesDone += count * bytesPerRow;
          options.onProgress?.({ item: k + 1, itemCount: output.length, label: t.name, bytesDone, bytesTotal });
        },
        write: (bytes) => w.writeTensorData(bytes),
      });
    }
    const result = await w.finish();
    return { ...result, architecture: arch.ggufArchitecture, mixture, tensorCount: output.length, typeCounts: countTensorTypes(output) };
  } catch (err) {
    await writer?.abort();
    throw err;
  } finally {
    await pool.close();
    await files.close();
  }
}
