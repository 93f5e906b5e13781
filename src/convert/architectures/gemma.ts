/**
 * GemmaForCausalLM (Gemma 1): llama.cpp's `GemmaModel`. Its vocabulary (SentencePiece, no space
 * prefix, CodeGemma's fill-in-the-middle ids) is the tokenizer's Gemma route, see tokenizer/vocab.ts.
 */
import type { Architecture } from "../architecture.ts";
import { gemmaMetadata, mapGemmaTensor } from "./gemma-common.ts";

export const gemma: Architecture = {
  hfArchitectures: ["GemmaForCausalLM"],
  ggufArchitecture: "gemma",
  withDefaults(config) {
    // GemmaConfig's default, which llama.cpp sees through AutoConfig
    return { head_dim: 256, ...config };
  },
  metadata(md, config, fileType) {
    gemmaMetadata(md, "gemma", config, fileType);
  },
  mapTensor(name, shape) {
    return mapGemmaTensor(name, shape, {});
  },
};
