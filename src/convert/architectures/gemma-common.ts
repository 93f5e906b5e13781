/** What the Gemma generations share: norms stored as scale - 1, and (Gemma 1 and 2) an lm_head that llama.cpp drops. */
import type { HfConfig, PlannedTensor } from "../architecture.ts";
import { f32, u32 } from "../architecture.ts";
import { ggufShape, mapTensorName } from "../tensor-names.ts";
import type { GgufMetadata } from "../../formats/gguf/types.ts";

/** Gemma 2 and 3 have four norms per layer; their post-attention norm is not the FFN norm. */
export const GEMMA_SANDWICH_NORMS: Readonly<Record<string, string>> = {
  post_attention_layernorm: "post_attention_norm",
  pre_feedforward_layernorm: "ffn_norm",
  post_feedforward_layernorm: "post_ffw_norm",
};

/** Maps a Gemma tensor and adds 1 to every norm weight (q/k norms too): Gemma's RMSNorm scales by 1 + weight. */
export function mapNormShiftedTensor(name: string, shape: number[], overrides: Readonly<Record<string, string>>): PlannedTensor | undefined {
  const mapped = mapTensorName(name, overrides);
  if (!mapped) return undefined;
  const planned: PlannedTensor = { name: mapped.name, source: name, shape: ggufShape(shape) };
  if (name.endsWith("norm.weight")) planned.transform = { kind: "add", value: 1 };
  return planned;
}

/**
 * Gemma 1 and 2 (llama.cpp's `filter_tensors`): lm_head is skipped, as these models always tie
 * it to the embedding (AutoAWQ saves a copy anyway); the rest as mapNormShiftedTensor.
 */
export function mapGemmaTensor(name: string, shape: number[], overrides: Readonly<Record<string, string>>): PlannedTensor | null | undefined {
  if (name === "lm_head.weight") return null;
  return mapNormShiftedTensor(name, shape, overrides);
}

/** The keys Gemma 1 and 2 write in place of TextModel's, in their order. */
export function gemmaMetadata(md: GgufMetadata, arch: string, config: HfConfig, fileType: number): void {
  u32(md, `${arch}.context_length`, config.max_position_embeddings as number);
  u32(md, `${arch}.embedding_length`, config.hidden_size as number);
  u32(md, `${arch}.block_count`, config.num_hidden_layers as number);
  u32(md, `${arch}.feed_forward_length`, config.intermediate_size as number);
  u32(md, `${arch}.attention.head_count`, config.num_attention_heads as number);
  u32(md, `${arch}.attention.head_count_kv`, (config.num_key_value_heads ?? config.num_attention_heads) as number);
  f32(md, `${arch}.attention.layer_norm_rms_epsilon`, config.rms_norm_eps as number);
  u32(md, `${arch}.attention.key_length`, config.head_dim as number);
  u32(md, `${arch}.attention.value_length`, config.head_dim as number);
  u32(md, "general.file_type", fileType);
}
