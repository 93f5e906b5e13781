/**
 * llama-quantize's per-tensor type rules (llama.cpp src/llama-quant.cpp, snapshot 2026-08-23:
 * tensor_allows_quantization, tensor_get_category, llama_tensor_get_type_impl,
 * tensor_type_fallback), restricted to the mixtures we offer, without an imatrix and without
 * --tensor-type. quantization-and-gguf.md §7 describes them; mixtures.json checks them.
 */
import { ToolError } from "../formats/errors.ts";
import { GGML_TYPE_TRAITS, GgmlType } from "../formats/gguf/types.ts";
import type { MixtureName } from "./mixtures.ts";

/** What the rules need to know about the model (from the GGUF's metadata, see mixtureModelFromMetadata). */
export interface MixtureModel {
  /** general.architecture ("llama", "falcon", ...) */
  architecture: string;
  /** <arch>.block_count */
  layerCount: number;
  /** attention heads; with headCountKv gives GQA = headCount / headCountKv (0 if unknown) */
  headCount?: number;
  /** KV heads (default: headCount) */
  headCountKv?: number;
  /** <arch>.expert_count (0 or 1: not a mixture of experts) */
  expertCount?: number;
}

/** The counters llama-quantize keeps while it walks the tensors (quantize_state_impl). */
export interface MixtureState {
  nAttentionWv: number;
  iAttentionWv: number;
  iFfnDown: number;
  /** no output.weight: token_embd.weight is the output tensor too */
  tiedEmbeddings: boolean;
}

export type TensorCategory =
  | "token_embd"
  | "output"
  /** attn_v, attn_qkv and attn_kv_b: llama.cpp treats the three alike (category_is_attn_v) */
  | "attn_v"
  | "attn_k"
  | "attn_q"
  | "attn_output"
  | "ffn_up"
  | "ffn_gate"
  | "ffn_down"
  | "other";

/** tensor_get_category: substring tests in llama.cpp's order (fused attn_qkv lands in "attn_v"). */
export function tensorCategory(name: string): TensorCategory {
  if (name === "output.weight") return "output";
  if (name === "token_embd.weight" || name === "per_layer_token_embd.weight") return "token_embd";
  if (name.includes("attn_qkv.weight") || name.includes("attn_kv_b.weight") || name.includes("attn_v.weight")) return "attn_v";
  if (name.includes("attn_k.weight")) return "attn_k";
  if (name.includes("attn_q.weight")) return "attn_q";
  if (name.includes("attn_output.weight")) return "attn_output";
  if (name.includes("ffn_up")) return "ffn_up";
  if (name.includes("ffn_gate")) return "ffn_gate";
  if (name.includes("ffn_down")) return "ffn_down";
  return "other";
}

/** Substrings that keep a tensor unquantized (tensor_allows_quantization). */
const NEVER_QUANTIZED = [
  "_norm.weight",
  "ffn_gate_inp.weight",
  "ffn_gate_tid2eid.weight",
  "altup",
  "laurel",
  "per_layer_model_proj",
  "ssm_conv1d",
  "shortconv.conv.weight",
  "indexer.k_proj.weight",
  "indexer.q_proj.weight",
  "time_mix_first.weight",
  "time_mix_w0.weight",
  "time_mix_w1.weight",
  "time_mix_w2.weight",
  "time_mix_v0.weight",
  "time_mix_v1.weight",
  "time_mix_v2.weight",
  "time_mix_a0.weight",
  "time_mix_a1.weight",
  "time_mix_a2.weight",
  "time_mix_g1.weight",
  "time_mix_g2.weight",
  "time_mix_decay_w1.weight",
  "time_mix_decay_w2.weight",
  "time_mix_lerp_fused.weight",
  "attn_rel_b.weight",
  ".position_embd",
  "sam.pos_embd",
  "sam.neck.",
  "sam.net_",
  ".rel_pos",
  ".patch_embd",
  ".patch_merger",
  "a.rvq.codebook",
  "mm.a.code_embd",
];

/**
 * llama.cpp also leaves the architecture's position-embedding and token-type tensors alone
 * (BERT-like models). Their names are the same in every architecture that has them, and no
 * architecture without them has tensors so named, so the test is by name only.
 */
const ARCH_UNQUANTIZED = new Set(["position_embd.weight", "token_types.weight"]);

/** ggml_n_dims: dimensions up to the last one that is not 1 (a [4096, 1] tensor is 1-D). */
export function ggmlDims(shape: readonly number[]): number {
  for (let i = shape.length - 1; i >= 1; i--) if (shape[i] !== 1) return i + 1;
  return 1;
}

/** tensor_allows_quantization: at least 2-D, named `...weight`, and not on the list above. */
export function isQuantizableTensor(name: string, shape: readonly number[]): boolean {
  if (ggmlDims(shape) < 2) return false;
  if (!name.endsWith("weight")) return false;
  if (ARCH_UNQUANTIZED.has(name)) return false;
  return !NEVER_QUANTIZED.some((s) => name.includes(s));
}

/** The layer number llama.cpp reads with sscanf("blk.%d."), or -1. */
function layerOf(name: string): number {
  const m = /^blk\.([+-]?\d+)/.exec(name);
  return m ? Number(m[1]) : -1;
}

/**
 * llama-quantize's tensor order (the loader's weight_name_comparer): tensors without a layer
 * first, then by layer number, then by name in byte order. Returns indices into `names`.
 * The rules' counters run in this order and the output file lists tensors in it (§7.1).
 */
export function llamaTensorOrder(names: readonly string[]): number[] {
  const layers = names.map(layerOf);
  const bytes = names.map((n) => Buffer.from(n, "utf8"));
  return names.map((_, i) => i).sort((a, b) => layers[a] - layers[b] || Buffer.compare(bytes[a], bytes[b]));
}

/** i < n/8 or i >= 7n/8 or every third layer in between (use_more_bits; integer division). */
function useMoreBits(i: number, n: number): boolean {
  const n8 = Math.trunc(n / 8);
  return i < n8 || i >= Math.trunc((7 * n) / 8) || (i - n8) % 3 === 2;
}

/** ggml's type name as its messages print it ("q4_0", "q6_K", "f16"). */
export function ggmlLowerName(type: GgmlType): string {
  const name = GGML_TYPE_TRAITS[type]?.name ?? `type ${type}`;
  return name.toLowerCase().replace(/_k$/, "_K");
}

/** llama.cpp classes these as LLM_TYPE_70B, whose attn_v gets more bits: 80 layers (llama: with GQA). */
function isClassed70B(model: MixtureModel): boolean {
  if (model.layerCount !== 80) return false;
  if (model.architecture === "llama") return (model.headCount ?? 0) !== (model.headCountKv ?? model.headCount ?? 0);
  return model.architecture === "qwen2" || model.architecture === "deci" || model.architecture === "olmoe";
}

/** n_gqa(): head_count / head_count_kv, integer division, 0 without KV heads. */
function gqa(model: MixtureModel): number {
  const kv = model.headCountKv ?? model.headCount ?? 0;
  return kv === 0 ? 0 : Math.trunc((model.headCount ?? 0) / kv);
}

/**
 * llama_tensor_get_type_impl for a quantizable tensor of a quantized mixture: the type before the
 * block-size fallback. Advances the attn_v and ffn_down counters as llama.cpp does.
 */
export function ruleTensorType(
  m: MixtureName,
  defaultType: GgmlType,
  tensor: { name: string; shape: number[] },
  category: TensorCategory,
  model: MixtureModel,
  state: MixtureState,
  outputTensorType: GgmlType | undefined,
): GgmlType {
  const falcon = model.architecture === "falcon";
  const experts = model.expertCount ?? 0;
  const nLayer = model.layerCount;

  if (category === "output" || (state.tiedEmbeddings && category === "token_embd")) {
    if (outputTensorType !== undefined) return outputTensorType;
    // the *default* type's block decides here (§10), not the final type's
    if (falcon || tensor.shape[0] % GGML_TYPE_TRAITS[defaultType]!.blockSize !== 0) return GgmlType.Q8_0;
    return defaultType === GgmlType.Q8_0 ? GgmlType.Q8_0 : GgmlType.Q6_K;
  }
  if (category === "token_embd") return defaultType;

  if (category === "attn_v") {
    let type = defaultType;
    const i = state.iAttentionWv;
    if (m === "Q2_K") type = gqa(model) >= 4 ? GgmlType.Q4_K : GgmlType.Q3_K;
    else if (m === "Q3_K_M") type = i < 2 ? GgmlType.Q5_K : GgmlType.Q4_K;
    else if (m === "Q3_K_L") type = GgmlType.Q5_K;
    else if ((m === "Q4_K_M" || m === "Q5_K_M") && useMoreBits(i, state.nAttentionWv)) type = GgmlType.Q6_K;
    else if (m === "Q4_K_S" && i < 4) type = GgmlType.Q5_K;
    if (isClassed70B(model) && (type === GgmlType.Q3_K || type === GgmlType.Q4_K)) type = GgmlType.Q5_K;
    if (experts === 8) type = GgmlType.Q8_0;
    state.iAttentionWv++;
    return type;
  }
  if (category === "attn_k") return experts === 8 ? GgmlType.Q8_0 : defaultType;

  if (category === "ffn_down") {
    const i = layerForFfn(tensor.name, state.iFfnDown, nLayer, experts);
    let type = defaultType;
    if (m === "Q2_K") type = GgmlType.Q3_K;
    else if (m === "Q3_K_M") {
      type = i < Math.trunc(nLayer / 16) ? GgmlType.Q5_K : !falcon || useMoreBits(i, nLayer) ? GgmlType.Q4_K : GgmlType.Q3_K;
    } else if (m === "Q3_K_L") type = falcon ? GgmlType.Q4_K : GgmlType.Q5_K;
    else if (m === "Q4_K_M") {
      if (falcon) type = i < Math.trunc(nLayer / 16) ? GgmlType.Q6_K : useMoreBits(i, nLayer) ? GgmlType.Q5_K : GgmlType.Q4_K;
      else if (useMoreBits(i, nLayer)) type = GgmlType.Q6_K;
    } else if (m === "Q5_K_M" && useMoreBits(i, nLayer)) type = GgmlType.Q6_K;
    else if (m === "Q4_K_S" && !falcon && i < Math.trunc(nLayer / 8)) type = GgmlType.Q5_K;
    state.iFfnDown++;
    return type;
  }

  if (category === "attn_output") {
    if (falcon) return m === "Q3_K_L" ? GgmlType.Q4_K : defaultType;
    if (experts === 8) {
      return m === "Q2_K" || m === "Q3_K_S" || m === "Q3_K_M" || m === "Q4_K_S" || m === "Q4_K_M" ? GgmlType.Q5_K : defaultType;
    }
    if (m === "Q2_K") return GgmlType.Q3_K;
    if (m === "Q3_K_M") return GgmlType.Q4_K;
    if (m === "Q3_K_L") return GgmlType.Q5_K;
    return defaultType;
  }
  // attn_q, ffn_gate, ffn_up and the rest: only IQ mixtures (which we do not offer) change them
  return defaultType;
}

/**
 * layer_info: the ffn_down counter, except in a mixture of experts, where llama.cpp parses the
 * layer from the name because expert tensors are not in layer order.
 */
function layerForFfn(name: string, counter: number, nLayer: number, experts: number): number {
  if (experts <= 1) return counter;
  const m = /^blk\.([+-]?\d+)\./.exec(name);
  if (!m) throw new ToolError(name, "cannot determine the layer of this tensor (expected blk.N.)");
  const layer = Number(m[1]);
  if (layer < 0 || layer >= nLayer) throw new ToolError(name, `layer ${layer} is out of range [0, ${nLayer})`);
  return layer;
}

/** K-quant type -> the 32-block type llama.cpp uses when a row is not a multiple of 256. */
const FALLBACK: Partial<Record<GgmlType, GgmlType>> = {
  [GgmlType.Q2_K]: GgmlType.Q4_0,
  [GgmlType.Q3_K]: GgmlType.Q4_0,
  [GgmlType.Q4_K]: GgmlType.Q5_0,
  [GgmlType.Q5_K]: GgmlType.Q5_1,
  [GgmlType.Q6_K]: GgmlType.Q8_0,
};

/**
 * tensor_type_fallback: a type whose block does not divide the row length becomes its fallback,
 * and F16 if even that does not fit. Types without a fallback abort, as llama-quantize does.
 */
export function tensorTypeFallback(tensor: { name: string; shape: number[] }, type: GgmlType): GgmlType {
  const rowLength = tensor.shape[0];
  if (rowLength % GGML_TYPE_TRAITS[type]!.blockSize === 0) return type;
  const fallback = FALLBACK[type];
  if (fallback === undefined) {
    throw new ToolError(tensor.name, `row length ${rowLength} does not fit: no tensor type fallback is defined for type ${ggmlLowerName(type)}`);
  }
  return rowLength % GGML_TYPE_TRAITS[fallback]!.blockSize === 0 ? fallback : GgmlType.F16;
}
