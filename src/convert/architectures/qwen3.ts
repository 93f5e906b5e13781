/** Qwen3ForCausalLM: llama.cpp's `Qwen3Model`. Per-head q/k norms; `head_dim` need not be hidden/heads. */
import { type Architecture, textModelMetadata } from "../architecture.ts";
import { ggufShape, mapTensorName } from "../tensor-names.ts";

export const qwen3: Architecture = {
  hfArchitectures: ["Qwen3ForCausalLM"],
  ggufArchitecture: "qwen3",
  withDefaults(config) {
    // Qwen3Config's default, which llama.cpp sees through AutoConfig
    return { head_dim: 128, ...config };
  },
  metadata(md, config, fileType) {
    textModelMetadata(md, "qwen3", config, fileType);
  },
  mapTensor(name, shape) {
    const mapped = mapTensorName(name);
    return mapped && { name: mapped.name, source: name, shape: ggufShape(shape) };
  },
};
