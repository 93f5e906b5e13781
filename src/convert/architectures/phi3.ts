/**
 * Phi3ForCausalLM: llama.cpp's `Phi3MiniModel`. The fused `qkv_proj` and `gate_up_proj` stay
 * fused (`attn_qkv`, and `ffn_up` with twice the rows); long-context models get rope factor tensors.
 */
import { type Architecture, type HfConfig, f32, ropeParameters, u32 } from "../architecture.ts";
import { GgufValueType } from "../../formats/gguf/types.ts";
import { ggufShape, mapTensorName } from "../tensor-names.ts";

function ropeDims(config: HfConfig): number {
  const rope = ropeParameters(config);
  const rotPct = (rope.partial_rotary_factor as number | undefined) ?? 1.0;
  return Math.floor(Math.floor(rotPct * (config.hidden_size as number)) / (config.num_attention_heads as number));
}

function originalContext(config: HfConfig): number {
  const rope = ropeParameters(config);
  return (rope.original_max_position_embeddings ?? config.original_max_position_embeddings) as number;
}

export const phi3: Architecture = {
  hfArchitectures: ["Phi3ForCausalLM"],
  ggufArchitecture: "phi3",

  metadata(md, config, fileType) {
    const rope = ropeParameters(config);
    u32(md, "phi3.context_length", (config.n_positions ?? config.max_position_embeddings) as number);
    u32(md, "phi3.rope.scaling.original_context_length", originalContext(config));
    u32(md, "phi3.embedding_length", config.hidden_size as number);
    u32(md, "phi3.feed_forward_length", config.intermediate_size as number);
    u32(md, "phi3.block_count", config.num_hidden_layers as number);
    u32(md, "phi3.attention.head_count", config.num_attention_heads as number);
    u32(md, "phi3.attention.head_count_kv", config.num_key_value_heads as number);
    f32(md, "phi3.attention.layer_norm_rms_epsilon", config.rms_norm_eps as number);
    u32(md, "phi3.rope.dimension_count", ropeDims(config));
    f32(md, "phi3.rope.freq_base", ((rope.full_attention ?? rope) as Record<string, unknown>).rope_theta as number);
    u32(md, "general.file_type", fileType);
    // 0 tells Phi-4 (no sliding window) from the other Phi-3 models
    u32(md, "phi3.attention.sliding_window", (config.sliding_window as number | null | undefined) ?? 0);
    const longFactors = rope.long_factor;
    if (Array.isArray(longFactors) && longFactors.length > 0) {
      const scale = (config.max_position_embeddings as number) / originalContext(config);
      const type = String(rope.rope_type ?? rope.type ?? "").toLowerCase();
      let attnFactor = 1.0;
      if (scale > 1 && (type === "su" || type === "longrope")) attnFactor = Math.sqrt(1 + Math.log(scale) / Math.log(originalContext(config)));
      else if (scale > 1 && type === "yarn") attnFactor = 0.1 * Math.log(scale) + 1.0;
      md.set("phi3.rope.scaling.attn_factor", { type: GgufValueType.FLOAT32, value: attnFactor });
    }
  },

  generatedTensors(config) {
    const rope = ropeParameters(config);
    const long = rope.long_factor as number[] | undefined;
    const short = rope.short_factor as number[] | undefined;
    if (!long || long.length === 0) return [];
    if (!short || short.length !== long.length || long.length !== ropeDims(config) / 2) {
      throw new Error(`rope long and short factors must have ${ropeDims(config) / 2} entries each`);
    }
    return [
      { name: "rope_factors_long.weight", data: Float32Array.from(long) },
      { name: "rope_factors_short.weight", data: Float32Array.from(short) },
    ];
  },

  mapTensor(name, shape) {
    const mapped = mapTensorName(name);
    return mapped && { name: mapped.name, source: name, shape: ggufShape(shape) };
  },
};
