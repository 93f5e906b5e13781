/**
 * Gemma3ForCausalLM (the text model): llama.cpp's `Gemma3Model`. The embedding is cut to the
 * tokenizer's real vocabulary; sliding-window layers follow the config's pattern at run time.
 */
import type { Architecture, HfConfig } from "../architecture.ts";
import { f32, ropeParameters, textModelMetadata, u32 } from "../architecture.ts";
import { GgufValueType } from "../../formats/gguf/types.ts";
import { GEMMA_SANDWICH_NORMS, mapGemmaTensor } from "./gemma-common.ts";

export const gemma3: Architecture = {
  hfArchitectures: ["Gemma3ForCausalLM"],
  ggufArchitecture: "gemma3",
  withDefaults(config) {
    // Gemma3TextConfig's defaults, which llama.cpp sees through AutoConfig
    return { head_dim: 256, sliding_window: 4096, rope_local_base_freq: 10000.0, ...config };
  },
  metadata(md, config: HfConfig, fileType) {
    textModelMetadata(md, "gemma3", config, fileType);
    // llama.cpp writes these again with its own defaults; a Map keeps the first position, as gguf-py does
    u32(md, "gemma3.context_length", (config.max_position_embeddings as number | undefined) ?? 131072);
    u32(md, "gemma3.attention.head_count", (config.num_attention_heads as number | undefined) ?? 8);
    f32(md, "gemma3.attention.layer_norm_rms_epsilon", (config.rms_norm_eps as number | undefined) ?? 1e-6);
    u32(md, "gemma3.attention.key_length", config.head_dim as number);
    u32(md, "gemma3.attention.value_length", config.head_dim as number);
    const rope = ropeParameters(config);
    const theta = ((rope.full_attention ?? rope) as Record<string, unknown>).rope_theta;
    f32(md, "gemma3.rope.freq_base", (theta as number | undefined) ?? 1_000_000.0);
    const finalSoftcap = config.final_logit_softcapping;
    if (typeof finalSoftcap === "number" && finalSoftcap !== 0) f32(md, "gemma3.final_logit_softcapping", finalSoftcap);
    if (config.sliding_window_pattern !== 1) u32(md, "gemma3.attention.sliding_window", config.sliding_window as number);
    u32(md, "gemma3.attention.head_count_kv", (config.num_key_value_heads as number | undefined) ?? 4);
  },
  finishVocab(md) {
    md.set("tokenizer.ggml.add_space_prefix", { type: GgufValueType.BOOL, value: false });
  },
  mapTensor(name, shape, { tokenizerVocabSize }) {
    const planned = mapGemmaTensor(name, shape, GEMMA_SANDWICH_NORMS);
    // llama.cpp drops the embedding's rows past the tokenizer's vocabulary
    if (planned && planned.name === "token_embd.weight") planned.shape = [planned.shape[0], Math.min(planned.shape[1], tokenizerVocabSize)];
    return planned;
  },
};
