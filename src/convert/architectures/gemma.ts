/** GemmaForCausalLM (Gemma 1): llama.cpp's `GemmaModel`, plus CodeGemma's fill-in-the-middle token ids. */
import type { Architecture } from "../architecture.ts";
import { u32 } from "../architecture.ts";
import { GgufValueType } from "../../formats/gguf/types.ts";
import { gemmaMetadata, mapGemmaTensor } from "./gemma-common.ts";

export const gemma: Architecture = {
  hfArchitectures: ["GemmaForCausalLM"],
  ggufArchitecture: "gemma",
  withDefaults(config) {
    return { head_dim: 256, ...config };
  },
  metadata(md, config, fileType) {
    gemmaMetadata(md, "gemma", config, fileType);
  },
  finishVocab(md) {
    // llama.cpp writes these for every Gemma 1 (they matter for CodeGemma)
    u32(md, "tokenizer.ggml.prefix_token_id", 67);
    u32(md, "tokenizer.ggml.suffix_token_id", 69);
    u32(md, "tokenizer.ggml.middle_token_id", 68);
    u32(md, "tokenizer.ggml.fsep_token_id", 70);
    u32(md, "tokenizer.ggml.eot_token_id", 107);
    md.set("tokenizer.ggml.add_space_prefix", { type: GgufValueType.BOOL, value: false });
  },
  mapTensor(name, shape) {
    return mapGemmaTensor(name, shape, {});
  },
};
