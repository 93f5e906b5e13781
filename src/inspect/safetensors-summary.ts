/**
 * Summary of a safetensors file or a Hugging Face folder. For a folder, the shape of the model
 * comes from config.json (transformers' names), the chat template from tokenizer_config.json.
 */
import { join } from "node:path";
import { readJsonObject } from "../formats/safetensors/hf-folder.ts";
import type { HfModel, SafetensorsFile } from "../formats/safetensors/types.ts";
import { humanNumber } from "../ollama/human-units.ts";
import { chatTemplateSummary, compact, tensorTypeMix, type ModelSummary, type RopeSummary } from "./summary.ts";

/** A single .safetensors file: its tensors only. */
export function summarizeSafetensorsFile(file: SafetensorsFile): ModelSummary {
  const parameterCount = file.tensors.reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0);
  return {
    format: "safetensors",
    parameterCount,
    parameterSize: humanNumber(parameterCount),
    tensorCount: file.tensors.length,
    tensorTypes: tensorTypeMix(file.tensors.map((t) => ({ type: t.dtype, bytes: t.byteLength }))),
    fileSize: file.fileSize,
    files: 1,
  };
}

export async function summarizeHfModel(model: HfModel): Promise<ModelSummary> {
  const c = model.config;
  // multimodal configs keep the language model's settings in text_config
  const text = isObject(c.text_config) ? { ...c, ...c.text_config } : c;
  const n = (key: string) => (typeof text[key] === "number" ? (text[key] as number) : undefined);
  const scaling = isObject(text.rope_scaling) ? text.rope_scaling : undefined;
  const rope = compact<RopeSummary>({
    freqBase: n("rope_theta"),
    scalingType: typeof scaling?.rope_type === "string" ? scaling.rope_type : typeof scaling?.type === "string" ? scaling.type : undefined,
    scalingFactor: typeof scaling?.factor === "number" ? scaling.factor : undefined,
    originalContextLength: typeof scaling?.original_max_position_embeddings === "number" ? scaling.original_max_position_embeddings : undefined,
  });
  const tokenId = (key: string) => {
    const v = text[key];
    const id = Array.isArray(v) ? v[0] : v;
    return typeof id === "number" ? { id } : undefined;
  };
  return compact<ModelSummary>({
    format: "safetensors",
    architecture: model.architecture,
    parameterCount: model.parameterCount,
    parameterSize: humanNumber(model.parameterCount),
    fileType: typeof text.torch_dtype === "string" ? text.torch_dtype : typeof text.dtype === "string" ? text.dtype : undefined,
    tensorCount: model.tensors.size,
    tensorTypes: tensorTypeMix([...model.tensors.values()].map((t) => ({ type: t.dtype, bytes: t.byteLength }))),
    contextLength: n("max_position_embeddings"),
    embeddingLength: n("hidden_size"),
    feedForwardLength: n("intermediate_size"),
    blockCount: n("num_hidden_layers"),
    headCount: n("num_attention_heads"),
    headCountKv: n("num_key_value_heads") ?? n("num_attention_heads"),
    rope: Object.keys(rope).length > 0 ? rope : undefined,
    vocabSize: n("vocab_size"),
    bos: tokenId("bos_token_id"),
    eos: tokenId("eos_token_id"),
    chatTemplate: chatTemplateSummary(await hfChatTemplate(model.dir)),
    fileSize: model.totalBytes,
    files: model.files.length,
  });
}

/** tokenizer_config.json's chat_template (a string, or the "default" of a list), if any. */
export async function hfChatTemplate(dir: string): Promise<string | undefined> {
  let config: Record<string, unknown>;
  try {
    config = await readJsonObject(join(dir, "tokenizer_config.json"));
  } catch {
    // no or unreadable tokenizer_config.json: the summary just has no template
    return undefined;
  }
  const t = config.chat_template;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) {
    const named = t.find((x) => isObject(x) && x.name === "default") ?? t[0];
    return isObject(named) && typeof named.template === "string" ? named.template : undefined;
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
