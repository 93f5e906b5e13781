/** Qwen2ForCausalLM: llama.cpp's `Qwen2Model`. Plain TextModel keys; q/k/v biases map by name. */
import { type Architecture, textModelMetadata } from "../architecture.ts";
import { ggufShape, mapTensorName } from "../tensor-names.ts";

export const qwen2: Architecture = {
  hfArchitectures: ["Qwen2ForCausalLM"],
  ggufArchitecture: "qwen2",
  metadata(md, config, fileType) {
    textModelMetadata(md, "qwen2", config, fileType);
  },
  mapTensor(name, shape) {
    const mapped = mapTensorName(name);
    return mapped && { name: mapped.name, source: name, shape: ggufShape(shape) };
  },
};
