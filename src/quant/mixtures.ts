/**
 * llama-quantize's type mixtures ("Q4_K_M", ...): their names, the `general.file_type` each one
 * writes, and the type every tensor of a model gets (quantization-and-gguf.md §7). The per-tensor
 * rules themselves are in mixture-rules.ts.
 */
import { ToolError } from "../formats/errors.ts";
import { GGML_TYPE_TRAITS, GgmlType, GgufValueType, type GgufMetadata } from "../formats/gguf/types.ts";
import {
  ggmlLowerName,
  isQuantizableTensor,
  llamaTensorOrder,
  ruleTensorType,
  tensorCategory,
  tensorTypeFallback,
  type MixtureModel,
  type MixtureState,
} from "./mixture-rules.ts";

export { llamaTensorOrder, type MixtureModel } from "./mixture-rules.ts";

export type MixtureName =
  | "F32"
  | "F16"
  | "BF16"
  | "Q8_0"
  | "Q4_0"
  | "Q4_1"
  | "Q5_0"
  | "Q5_1"
  | "Q2_K"
  | "Q3_K_S"
  | "Q3_K_M"
  | "Q3_K_L"
  | "Q4_K_S"
  | "Q4_K_M"
  | "Q5_K_S"
  | "Q5_K_M"
  | "Q6_K";

/** `general.file_type` (llama_ftype) and the default tensor type of each mixture (§7.3). */
const MIXTURES: Record<MixtureName, { fileType: number; defaultType: GgmlType }> = {
  F32: { fileType: 0, defaultType: GgmlType.F32 },
  F16: { fileType: 1, defaultType: GgmlType.F16 },
  Q4_0: { fileType: 2, defaultType: GgmlType.Q4_0 },
  Q4_1: { fileType: 3, defaultType: GgmlType.Q4_1 },
  Q8_0: { fileType: 7, defaultType: GgmlType.Q8_0 },
  Q5_0: { fileType: 8, defaultType: GgmlType.Q5_0 },
  Q5_1: { fileType: 9, defaultType: GgmlType.Q5_1 },
  Q2_K: { fileType: 10, defaultType: GgmlType.Q2_K },
  Q3_K_S: { fileType: 11, defaultType: GgmlType.Q3_K },
  Q3_K_M: { fileType: 12, defaultType: GgmlType.Q3_K },
  Q3_K_L: { fileType: 13, defaultType: GgmlType.Q3_K },
  Q4_K_S: { fileType: 14, defaultType: GgmlType.Q4_K },
  Q4_K_M: { fileType: 15, defaultType: GgmlType.Q4_K },
  Q5_K_S: { fileType: 16, defaultType: GgmlType.Q5_K },
  Q5_K_M: { fileType: 17, defaultType: GgmlType.Q5_K },
  Q6_K: { fileType: 18, defaultType: GgmlType.Q6_K },
  BF16: { fileType: 32, defaultType: GgmlType.BF16 },
};

export const MIXTURE_NAMES: readonly MixtureName[] = [
  "F32",
  "F16",
  "BF16",
  "Q8_0",
  "Q4_0",
  "Q4_1",
  "Q5_0",
  "Q5_1",
  "Q2_K",
  "Q3_K_S",
  "Q3_K_M",
  "Q3_K_L",
  "Q4_K_S",
  "Q4_K_M",
  "Q5_K_S",
  "Q5_K_M",
  "Q6_K",
];

/** llama-quantize's short names: Q3_K, Q4_K, Q5_K mean the _M mixtures (what `--pure` users type). */
const ALIASES: Record<string, MixtureName> = { Q3_K: "Q3_K_M", Q4_K: "Q4_K_M", Q5_K: "Q5_K_M" };

/** A mixture name in any case ("q4_k_m"), or one of llama-quantize's aliases; undefined if unknown. */
export function parseMixture(text: string): MixtureName | undefined {
  const upper = text.trim().toUpperCase();
  if ((MIXTURE_NAMES as readonly string[]).includes(upper)) return upper as MixtureName;
  return ALIASES[upper];
}

/** `general.file_type` as llama-quantize writes it: the requested mixture, whatever the tensors became. */
export function fileTypeOf(m: MixtureName): number {
  return MIXTURES[m].fileType;
}

/** The type most tensors of a mixture get. */
export function defaultTypeOf(m: MixtureName): GgmlType {
  return MIXTURES[m].defaultType;
}

export interface ChooseOptions {
  /** --pure: every quantizable tensor gets the default type (block-size fallbacks still apply) */
  pure?: boolean;
  /** --output-tensor-type: used as is for output.weight (and a tied token_embd.weight) */
  outputTensorType?: GgmlType;
  /** --token-embedding-type: used as is for token_embd.weight */
  tokenEmbeddingType?: GgmlType;
}

/**
 * The type llama-quantize gives each tensor, one per input tensor in input order. Non-quantizable
 * tensors (1-D, norms, biases, ...) keep their own type. The rules run in llama.cpp's tensor order
 * (llamaTensorOrder), because the attn_v and ffn_down counters depend on it.
 * Throws a ToolError (subject: the tensor name) where llama-quantize aborts: a row length with no
 * fallback (legacy mixtures on rows not a multiple of 32), or an override type that does not fit.
 */
export function chooseTensorTypes(
  m: MixtureName,
  tensors: { name: string; shape: number[]; type: GgmlType }[],
  model: MixtureModel,
  options: ChooseOptions = {},
): GgmlType[] {
  const defaultType = MIXTURES[m].defaultType;
  const quantizedDefault = GGML_TYPE_TRAITS[defaultType]!.blockSize > 1;
  const categories = tensors.map((t) => tensorCategory(t.name));
  const state: MixtureState = {
    nAttentionWv: categories.filter((c) => c === "attn_v").length,
    iAttentionWv: 0,
    iFfnDown: 0,
    tiedEmbeddings: !categories.includes("output"),
  };
  const result: GgmlType[] = new Array(tensors.length);
  for (const i of llamaTensorOrder(tensors.map((t) => t.name))) {
    const t = tensors[i];
    const category = categories[i];
    if (!isQuantizableTensor(t.name, t.shape)) {
      result[i] = t.type;
      continue;
    }
    if (options.tokenEmbeddingType !== undefined && category === "token_embd") {
      result[i] = checkedOverride(t, options.tokenEmbeddingType);
      continue;
    }
    if (options.outputTensorType !== undefined && category === "output") {
      result[i] = checkedOverride(t, options.outputTensorType);
      continue;
    }
    let type = defaultType;
    if (quantizedDefault) {
      if (!options.pure) type = ruleTensorType(m, defaultType, t, category, model, state, options.outputTensorType);
      type = tensorTypeFallback(t, type);
    }
    result[i] = type;
  }
  return result;
}

/** llama-quantize takes override types as given; a type whose block does not fit the rows would fail later, so say so now. */
function checkedOverride(t: { name: string; shape: number[] }, type: GgmlType): GgmlType {
  const traits = GGML_TYPE_TRAITS[type];
  if (!traits) throw new ToolError(t.name, `unknown tensor type ${type}`);
  if (t.shape[0] % traits.blockSize !== 0) {
    throw new ToolError(t.name, `row length ${t.shape[0]} is not a multiple of ${traits.blockSize}, required for type ${ggmlLowerName(type)}`);
  }
  return type;
}

/**
 * The hyperparameters the rules need, from a GGUF's metadata: `<arch>.block_count`,
 * `.attention.head_count`, `.attention.head_count_kv` (default: head_count), `.expert_count`.
 * Per-layer arrays use layer 0, as llama.cpp's n_gqa() does. `subject` names the file in errors.
 */
export function mixtureModelFromMetadata(metadata: GgufMetadata, subject: string): MixtureModel {
  const archValue = metadata.get("general.architecture");
  if (archValue?.type !== GgufValueType.STRING) throw new ToolError(subject, "general.architecture is missing or not a string");
  const architecture = archValue.value;
  const layerCount = metadataNumber(metadata, `${architecture}.block_count`);
  if (layerCount === undefined) throw new ToolError(subject, `${architecture}.block_count is missing or not a number`);
  const headCount = metadataNumber(metadata, `${architecture}.attention.head_count`) ?? 0;
  const headCountKv = metadataNumber(metadata, `${architecture}.attention.head_count_kv`) ?? headCount;
  const expertCount = metadataNumber(metadata, `${architecture}.expert_count`) ?? 0;
  return { architecture, layerCount, headCount, headCountKv, expertCount };
}

/** A numeric key's value (the first element of a numeric array), or undefined. */
function metadataNumber(metadata: GgufMetadata, key: string): number | undefined {
  const v = metadata.get(key);
  if (v === undefined) return undefined;
  if (v.type === GgufValueType.ARRAY) {
    const first = v.value.items?.[0];
    return typeof first === "number" || typeof first === "bigint" ? Number(first) : undefined;
  }
  if (typeof v.value === "number" || typeof v.value === "bigint") return Number(v.value);
  return undefined;
}
