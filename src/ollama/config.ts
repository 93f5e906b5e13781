/**
 * The config blob (`types/model/config.go` ConfigV2) as `ollama create` writes it from a GGUF:
 * format, family (`general.architecture`), families (every base GGUF's architecture, projectors
 * included), `model_type` = HumanNumber(sum of the model's tensor elements), `file_type` =
 * `FileType.String()` ("unknown" for F32), then the hard-coded `amd64`/`linux`. Field order and
 * Go's JSON encoding make the bytes, and so the digest, Ollama's.
 */
import { getArchitecture } from "../formats/gguf/metadata.ts";
import { GGUF_FILE_TYPE_NAMES } from "../formats/gguf/file-types.ts";
import { GgufValueType, type GgufMetadata, type GgufTensorInfo } from "../formats/gguf/types.ts";
import { goJsonEncode } from "./go-json.ts";
import { humanNumber } from "./human-units.ts";

export interface ModelConfig {
  model_format: string;
  model_family: string;
  model_families: string[] | null;
  model_type: string;
  file_type: string;
  renderer?: string;
  parser?: string;
  requires?: string;
  architecture: string;
  os: string;
}

/**
 * The file types Ollama's `FileType.String()` names (fs/ggml/type.go); any other id, IQ types
 * included, is "unknown". Id 4 is Ollama's own MXFP4 (llama.cpp's removed Q4_1_SOME_F16).
 */
const OLLAMA_NAMED_FILE_TYPES = new Set([1, 2, 3, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 21, 32]);

/**
 * `KV.FileType().String()`: `general.file_type` must be a UINT32 and non-zero, so F32 files (0)
 * and files without the key or with another integer type are "unknown", as Ollama reports them.
 */
export function ollamaFileType(metadata: GgufMetadata): string {
  const v = metadata.get("general.file_type");
  if (v === undefined || v.type !== GgufValueType.UINT32 || v.value === 0) return "unknown";
  if (v.value === 4) return "MXFP4";
  return OLLAMA_NAMED_FILE_TYPES.has(v.value) ? GGUF_FILE_TYPE_NAMES[v.value] : "unknown";
}

/** Sum of every tensor's element count (Ollama ignores `general.parameter_count`). */
export function parameterCount(tensors: readonly GgufTensorInfo[]): number {
  let total = 0;
  for (const t of tensors) total += t.shape.reduce((a, b) => a * b, 1);
  return total;
}

/** Ollama's automatic renderer/parser by architecture (server/create.go). */
function builtInRenderer(arch: string): string | undefined {
  if (arch === "gemma4") return "gemma4";
  if (arch === "laguna") return "laguna";
  if (arch.startsWith("nemotron_h")) return "nemotron-3-nano";
  return undefined;
}

export interface ConfigSource {
  metadata: GgufMetadata;
  tensors: readonly GgufTensorInfo[];
}

/**
 * The config for a model GGUF and its projectors, as createModel fills it: the first base layer
 * (the model) gives family, type and file type; every base layer appends its architecture.
 */
export function buildModelConfig(
  model: ConfigSource,
  projectors: readonly ConfigSource[],
  extra: { renderer?: string; parser?: string; requires?: string } = {},
): ModelConfig {
  const arch = getArchitecture(model.metadata) ?? "";
  const auto = builtInRenderer(arch);
  const config: ModelConfig = {
    model_format: "gguf",
    model_family: arch,
    model_families: [arch, ...projectors.map((p) => getArchitecture(p.metadata) ?? "")],
    model_type: humanNumber(parameterCount(model.tensors)),
    file_type: ollamaFileType(model.metadata),
    architecture: "amd64",
    os: "linux",
  };
  const renderer = extra.renderer ?? auto;
  const parser = extra.parser ?? auto;
  if (renderer) config.renderer = renderer;
  if (parser) config.parser = parser;
  if (extra.requires) config.requires = extra.requires;
  return config;
}

/** The config blob's bytes: ConfigV2's field order, omitempty fields left out, Go JSON plus "\n". */
export function encodeConfig(c: ModelConfig): Buffer {
  return goJsonEncode({
    model_format: c.model_format,
    model_family: c.model_family,
    model_families: c.model_families,
    model_type: c.model_type,
    file_type: c.file_type,
    ...(c.renderer ? { renderer: c.renderer } : {}),
    ...(c.parser ? { parser: c.parser } : {}),
    ...(c.requires ? { requires: c.requires } : {}),
    architecture: c.architecture,
    os: c.os,
  });
}

/** Reads a config blob's known fields (missing or mistyped ones as Ollama's zero values). */
export function decodeConfig(text: string): ModelConfig {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = {};
  }
  const o = (typeof v === "object" && v !== null && !Array.isArray(v) ? v : {}) as Record<string, unknown>;
  const s = (k: string) => (typeof o[k] === "string" ? (o[k] as string) : "");
  const config: ModelConfig = {
    model_format: s("model_format"),
    model_family: s("model_family"),
    model_families: Array.isArray(o.model_families) ? o.model_families.filter((f): f is string => typeof f === "string") : null,
    model_type: s("model_type"),
    file_type: s("file_type"),
    architecture: s("architecture"),
    os: s("os"),
  };
  for (const k of ["renderer", "parser", "requires"] as const) if (s(k)) config[k] = s(k);
  return config;
}
