/**
 * The one interface every Hugging Face architecture implements (as Ollama's converter does):
 * its metadata keys, its tensor-name map and its tensor transforms. Adding an architecture
 * means adding one file under ./architectures and one line in ./architectures/index.ts.
 */
import { GgufValueType, type GgufMetadata } from "../formats/gguf/types.ts";

export type HfConfig = Record<string, unknown>;

/** A change applied to a tensor's float32 rows between reading and quantizing. */
export type TensorTransform =
  /** llama.cpp's `LlamaModel.permute`: undoes HF's rotary half-split for Q and K rows */
  | { kind: "permute-rope"; heads: number }
  /** adds a constant to every value (Gemma stores norm weights as scale - 1) */
  | { kind: "add"; value: number };

/** One GGUF tensor to write, read from one Hugging Face tensor. */
export interface PlannedTensor {
  /** GGUF name, e.g. `blk.0.attn_q.weight` */
  name: string;
  /** the Hugging Face tensor it is read from */
  source: string;
  /** GGUF shape, ne0 (the row length) first; may have fewer rows than the source (truncation) */
  shape: number[];
  transform?: TensorTransform;
}

/** A tensor made from the config alone (e.g. llama3's `rope_freqs.weight`). */
export interface GeneratedTensor {
  name: string;
  data: Float32Array;
}

export interface ArchitectureContext {
  config: HfConfig;
  /** number of tokens the tokenizer defines (before padding), for embeddings that are cut to it */
  tokenizerVocabSize: number;
}

export interface Architecture {
  /** `architectures[0]` values of config.json handled by this file */
  readonly hfArchitectures: readonly string[];
  /** `general.architecture` */
  readonly ggufArchitecture: string;
  /** Fills config defaults the way transformers' config class does (AutoConfig.to_dict()). */
  withDefaults?(config: HfConfig): HfConfig;
  /** The architecture's keys in llama.cpp's order; `fileType` is general.file_type. */
  metadata(md: GgufMetadata, config: HfConfig, fileType: number): void;
  /** Tokenizer keys the architecture adds after the vocabulary's own (llama.cpp's set_vocab extras). */
  finishVocab?(md: GgufMetadata): void;
  /** Tensors computed from the config, written before the model's own. */
  generatedTensors?(config: HfConfig): GeneratedTensor[];
  /**
   * The GGUF tensor for a Hugging Face tensor (`shape` in HF order, rows first); null to skip
   * it, undefined when the tensor is unknown (llama.cpp refuses such a model: so do we).
   */
  mapTensor(name: string, shape: number[], ctx: ArchitectureContext): PlannedTensor | null | undefined;
}

/** config[key] for the first key present (gguf-py `find_hparam`). */
export function findHparam(config: HfConfig, keys: readonly string[]): unknown {
  for (const k of keys) if (k in config && config[k] !== undefined) return config[k];
  return undefined;
}

export function numberParam(config: HfConfig, key: string): number | undefined {
  const v = config[key];
  return typeof v === "number" ? v : undefined;
}

/** The rope parameters as llama.cpp's TextModel sees them: rope_parameters or rope_scaling, with rope_theta mirrored. */
export function ropeParameters(config: HfConfig): Record<string, unknown> {
  const base = (config.rope_parameters ?? config.rope_scaling ?? {}) as Record<string, unknown>;
  const rope: Record<string, unknown> = { ...base };
  if (!("full_attention" in rope) && !("sliding_attention" in rope)) {
    const theta = findHparam(config, ["global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta", "rotary_emb_base"]);
    const local = findHparam(config, ["local_rope_theta", "rope_local_theta", "rope_theta_local", "swa_rope_theta", "rope_local_base_freq"]);
    if (local !== undefined) rope.sliding_attention = { rope_theta: local };
    if (!("rope_theta" in rope) && theta !== undefined) rope.rope_theta = theta;
    if (!("rope_type" in rope) && rope.type !== undefined) rope.rope_type = rope.type;
  }
  return rope;
}

export const u32 = (md: GgufMetadata, key: string, value: number) => md.set(key, { type: GgufValueType.UINT32, value });
export const f32 = (md: GgufMetadata, key: string, value: number) => md.set(key, { type: GgufValueType.FLOAT32, value });
export const str = (md: GgufMetadata, key: string, value: string) => md.set(key, { type: GgufValueType.STRING, value });

/** A port of llama.cpp's `TextModel.set_gguf_parameters`, the keys most architectures share. */
export function textModelMetadata(md: GgufMetadata, arch: string, config: HfConfig, fileType: number): void {
  const num = (keys: string[]) => {
    const v = findHparam(config, keys);
    return typeof v === "number" ? v : undefined;
  };
  const blockCount = num(["n_layers", "num_hidden_layers", "n_layer", "num_layers"]);
  if (blockCount !== undefined) u32(md, `${arch}.block_count`, blockCount);
  const ctx = num(["max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length", "model_max_length"]);
  if (ctx !== undefined) u32(md, `${arch}.context_length`, ctx);
  const embd = num(["hidden_size", "n_embd", "dim"]);
  if (embd !== undefined) u32(md, `${arch}.embedding_length`, embd);
  const ff = num(["intermediate_size", "n_inner", "hidden_dim"]);
  if (ff !== undefined) u32(md, `${arch}.feed_forward_length`, ff);
  const heads = num(["num_attention_heads", "n_head", "n_heads"]);
  if (heads !== undefined) u32(md, `${arch}.attention.head_count`, heads);
  const kvHeads = num(["num_key_value_heads", "n_kv_heads"]);
  if (kvHeads !== undefined) u32(md, `${arch}.attention.head_count_kv`, kvHeads);
  if (config.is_causal === false) md.set(`${arch}.attention.causal`, { type: GgufValueType.BOOL, value: false });

  const rope = ropeParameters(config);
  const params = (rope.full_attention ?? rope) as Record<string, unknown>;
  const ropeType = params.rope_type;
  const factor = params.factor;
  if (typeof ropeType === "string") {
    if (ropeType === "linear" && typeof factor === "number") {
      str(md, `${arch}.rope.scaling.type`, "linear");
      f32(md, `${arch}.rope.scaling.factor`, factor);
    } else if (ropeType === "yarn" && typeof factor === "number") {
      str(md, `${arch}.rope.scaling.type`, "yarn");
      f32(md, `${arch}.rope.scaling.factor`, factor);
      u32(md, `${arch}.rope.scaling.original_context_length`, params.original_max_position_embeddings as number);
      const yarn: Array<[string, unknown]> = [
        ["yarn_ext_factor", params.extrapolation_factor],
        ["yarn_attn_factor", params.attention_factor ?? params.attn_factor],
        ["yarn_beta_fast", params.beta_fast],
        ["yarn_beta_slow", params.beta_slow],
      ];
      for (const [k, v] of yarn) if (typeof v === "number") f32(md, `${arch}.rope.scaling.${k}`, v);
    } else if (ropeType === "su" || ropeType === "longrope") {
      str(md, `${arch}.rope.scaling.type`, "longrope");
    }
  }
  if (typeof params.rope_theta === "number") f32(md, `${arch}.rope.freq_base`, params.rope_theta);
  const swa = (rope.sliding_attention as Record<string, unknown> | undefined)?.rope_theta;
  if (typeof swa === "number") f32(md, `${arch}.rope.freq_base_swa`, swa);
  const rmsEps = num(["rms_norm_eps", "norm_eps"]);
  if (rmsEps !== undefined) f32(md, `${arch}.attention.layer_norm_rms_epsilon`, rmsEps);
  const normEps = num(["layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"]);
  if (normEps !== undefined) f32(md, `${arch}.attention.layer_norm_epsilon`, normEps);
  const experts = num(["num_local_experts", "num_experts"]);
  if (experts !== undefined) u32(md, `${arch}.expert_count`, experts);
  const expertsUsed = num(["num_experts_per_tok", "num_experts_per_token", "top_k_experts"]);
  if (expertsUsed !== undefined) u32(md, `${arch}.expert_used_count`, expertsUsed);
  const headDim = numberParam(config, "head_dim");
  if (headDim !== undefined) {
    u32(md, `${arch}.attention.key_length`, headDim);
    u32(md, `${arch}.attention.value_length`, headDim);
  }
  u32(md, "general.file_type", fileType);
}
