/**
 * LlamaForCausalLM (Llama 2, Llama 3.x) and MistralForCausalLM: llama.cpp's `LlamaModel`.
 * Q and K rows are permuted back from HF's rotary half-split layout to llama.cpp's
 * interleaved one; a llama3 `rope_scaling` becomes the `rope_freqs.weight` tensor.
 */
import { type Architecture, type HfConfig, type PlannedTensor, ropeParameters, textModelMetadata, u32 } from "../architecture.ts";
import { ggufShape, mapTensorName } from "../tensor-names.ts";

function headDim(config: HfConfig): number {
  return (config.head_dim as number | undefined) ?? Math.floor((config.hidden_size as number) / (config.num_attention_heads as number));
}

/**
 * llama.cpp's llama3 rope factors, computed in float32 as torch does
 * (one rounding per operation), so the tensor's bytes equal the reference converter's.
 */
export function llama3RopeFactors(config: HfConfig, rope: Record<string, unknown>): Float32Array {
  const f = Math.fround;
  const base = f((rope.rope_theta as number | undefined) ?? 10000);
  const dim = headDim(config);
  const factor = (rope.factor as number | undefined) ?? 8;
  const lowFreqFactor = (rope.low_freq_factor as number | undefined) ?? 1;
  const highFreqFactor = (rope.high_freq_factor as number | undefined) ?? 4;
  // llama.cpp reads this from the top-level config, not from rope_scaling
  const oldContextLen = (config.original_max_position_embeddings as number | undefined) ?? 8192;
  const lowFreqWavelen = oldContextLen / lowFreqFactor;
  const highFreqWavelen = oldContextLen / highFreqFactor;
  const twoPi = f(2 * Math.PI);
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) {
    const freq = f(1 / f(Math.pow(base, f((2 * i) / dim))));
    const wavelen = f(twoPi / freq);
    if (wavelen < highFreqWavelen) out[i] = 1;
    else if (wavelen > lowFreqWavelen) out[i] = factor;
    else {
      const smooth = f(f(f(oldContextLen / wavelen) - lowFreqFactor) / f(highFreqFactor - lowFreqFactor));
      out[i] = f(1 / f(f(f(1 - smooth) / factor) + smooth));
    }
  }
  return out;
}

export const llama: Architecture = {
  hfArchitectures: ["LlamaForCausalLM", "MistralForCausalLM"],
  ggufArchitecture: "llama",

  withDefaults(config) {
    // LlamaConfig / MistralConfig fill these in, and llama.cpp reads them from AutoConfig
    const c = { ...config };
    c.num_key_value_heads ??= c.num_attention_heads;
    c.head_dim ??= headDim(c);
    return c;
  },

  metadata(md, config, fileType) {
    textModelMetadata(md, "llama", config, fileType);
    u32(md, "llama.vocab_size", config.vocab_size as number);
    u32(md, "llama.rope.dimension_count", headDim(config));
  },

  generatedTensors(config) {
    const rope = ropeParameters(config);
    const params = (rope.full_attention ?? rope) as Record<string, unknown>;
    if (String(params.rope_type ?? "").toLowerCase() !== "llama3") return [];
    return [{ name: "rope_freqs.weight", data: llama3RopeFactors(config, params) }];
  },

  mapTensor(name, shape, { config }) {
    const mapped = mapTensorName(name);
    if (!mapped) return undefined;
    const planned: PlannedTensor = { name: mapped.name, source: name, shape: ggufShape(shape) };
    // llama.cpp's LlamaModel.permute: n_head for Q, n_head_kv for K
    if (mapped.hfBase === "self_attn.q_proj") planned.transform = { kind: "permute-rope", heads: config.num_attention_heads as number };
    if (mapped.hfBase === "self_attn.k_proj") planned.transform = { kind: "permute-rope", heads: config.num_key_value_heads as number };
    return planned;
  },
};
