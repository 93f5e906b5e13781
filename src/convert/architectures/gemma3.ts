/**
 * Gemma3ForCausalLM (the text model): llama.cpp's `Gemma3Model`. The embedding is cut to the
 * tokenizer's real vocabulary. Like llama.cpp's converter we write the sliding window but not the
 * layer pattern: llama.cpp's loader assumes Gemma 3's five sliding layers then one global
 * (Gemma3TextConfig's default `sliding_window_pattern` 6, which every released Gemma 3 uses).
 * The vocabulary (SentencePiece without space prefix, or BPE) is the tokenizer's Gemma 3 route.
 */
import type { Architecture, HfConfig } from "../architecture.ts";
import { f32, ropeParameters, textModelMetadata, u32 } from "../architecture.ts";
import { GEMMA_SANDWICH_NORMS, mapNormShiftedTensor } from "./gemma-common.ts";

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
    // a pattern of 1 means every layer is global: without the key llama.cpp builds no sliding window
    if (config.sliding_window_pattern !== 1) u32(md, "gemma3.attention.sliding_window", config.sliding_window as number);
    u32(md, "gemma3.attention.head_count_kv", (config.num_key_value_heads as number | undefined) ?? 4);
  },
  mapTensor(name, shape, { tokenizerVocabSize }) {
    // unlike Gemma 1 and 2, llama.cpp keeps an lm_head (as output.weight): it may be untied
    const planned = mapNormShiftedTensor(name, shape, GEMMA_SANDWICH_NORMS);
    // llama.cpp drops the embedding's rows past the tokenizer's vocabulary
    if (planned && planned.name === "token_embd.weight") planned.shape = [planned.shape[0], Math.min(planned.shape[1], tokenizerVocabSize)];
    return planned;
  },
};
