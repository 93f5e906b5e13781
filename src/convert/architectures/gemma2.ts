/** Gemma2ForCausalLM: llama.cpp's `Gemma2Model`: soft-capping, sliding window, four norms per layer. */
import type { Architecture } from "../architecture.ts";
import { f32, u32 } from "../architecture.ts";
import { GgufValueType } from "../../formats/gguf/types.ts";
import { GEMMA_SANDWICH_NORMS, gemmaMetadata, mapGemmaTensor } from "./gemma-common.ts";

export const gemma2: Architecture = {
  hfArchitectures: ["Gemma2ForCausalLM"],
  ggufArchitecture: "gemma2",
  withDefaults(config) {
    return { head_dim: 256, attn_logit_softcapping: 50.0, final_logit_softcapping: 30.0, sliding_window: 4096, ...config };
  },
  metadata(md, config, fileType) {
    gemmaMetadata(md, "gemma2", config, fileType);
    f32(md, "gemma2.attn_logit_softcapping", config.attn_logit_softcapping as number);
    f32(md, "gemma2.final_logit_softcapping", config.final_logit_softcapping as number);
    u32(md, "gemma2.attention.sliding_window", config.sliding_window as number);
  },
  finishVocab(md) {
    md.set("tokenizer.ggml.add_space_prefix", { type: GgufValueType.BOOL, value: false });
  },
  mapTensor(name, shape) {
    return mapGemmaTensor(name, shape, GEMMA_SANDWICH_NORMS);
  },
};
