/**
 * Hugging Face tensor names -> GGUF tensor names, as data (gguf-py's tensor_mapping.py, the
 * entries our architectures use). Architectures pass overrides where a name means something
 * else for them (Gemma 2's `post_attention_layernorm` is a post-norm, not the FFN norm).
 */

/** Names outside the layers. */
export const GLOBAL_TENSOR_NAMES: Readonly<Record<string, string>> = {
  "model.embed_tokens": "token_embd",
  "lm_head": "output",
  "model.norm": "output_norm",
};

/** Names inside `model.layers.N.`, mapped to `blk.N.<name>`. */
export const LAYER_TENSOR_NAMES: Readonly<Record<string, string>> = {
  "input_layernorm": "attn_norm",
  "self_attn.q_proj": "attn_q",
  "self_attn.k_proj": "attn_k",
  "self_attn.v_proj": "attn_v",
  "self_attn.o_proj": "attn_output",
  "self_attn.qkv_proj": "attn_qkv",
  "self_attn.q_norm": "attn_q_norm",
  "self_attn.k_norm": "attn_k_norm",
  "post_attention_layernorm": "ffn_norm",
  "mlp.gate_proj": "ffn_gate",
  "mlp.up_proj": "ffn_up",
  "mlp.down_proj": "ffn_down",
  "mlp.gate_up_proj": "ffn_up",
};

const LAYER_RE = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/;
const GLOBAL_RE = /^(.+)\.(weight|bias)$/;

/** The parts of a mapped name: GGUF name, layer number (if any) and the suffix. */
export interface MappedName {
  name: string;
  layer?: number;
  /** the HF name without `model.layers.N.` and suffix, e.g. `self_attn.q_proj` */
  hfBase: string;
  suffix: "weight" | "bias";
}

/** Maps a HF tensor name, or returns undefined when no table knows it. */
export function mapTensorName(hfName: string, layerOverrides: Readonly<Record<string, string>> = {}): MappedName | undefined {
  const layer = LAYER_RE.exec(hfName);
  if (layer) {
    const base = layer[2];
    const mapped = layerOverrides[base] ?? LAYER_TENSOR_NAMES[base];
    if (mapped === undefined) return undefined;
    const suffix = layer[3] as "weight" | "bias";
    return { name: `blk.${layer[1]}.${mapped}.${suffix}`, layer: Number(layer[1]), hfBase: base, suffix };
  }
  const global = GLOBAL_RE.exec(hfName);
  if (!global) return undefined;
  const mapped = GLOBAL_TENSOR_NAMES[global[1]];
  if (mapped === undefined) return undefined;
  const suffix = global[2] as "weight" | "bias";
  return { name: `${mapped}.${suffix}`, hfBase: global[1], suffix };
}

/** GGUF shape (ne0 first) of a tensor with HF shape (rows first). */
export function ggufShape(hfShape: readonly number[]): number[] {
  return [...hfShape].reverse();
}
