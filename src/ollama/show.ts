/**
 * `ollama show` without the server (server/routes.go GetModelInfo, cmd/cmd.go showInfo): the
 * model's architecture, parameter count, context and embedding length, quantization, projector,
 * capabilities, parameters, system prompt, license, template, and a Modelfile that recreates it.
 * Unlike Ollama's, the printed Modelfile round-trips: integers are never `1e+06`, parameters are
 * sorted, and no default `TEMPLATE {{ .Prompt }}` is invented for a model without a template.
 */
import { resolve } from "node:path";
import { ToolError } from "../formats/errors.ts";
import { getArchitecture, getNumber } from "../formats/gguf/metadata.ts";
import { readGgufHeader } from "../formats/gguf/reader.ts";
import { GgufValueType, type GgufHeader, type GgufValue } from "../formats/gguf/types.ts";
import { blobPath } from "./blobs.ts";
import { ollamaFileType, parameterCount, type ModelConfig } from "./config.ts";
import { goTemplateError, parseGoTemplate } from "./go-template.ts";
import { humanNumber } from "./human-units.ts";
import { readInstalledModel } from "./installed.ts";
import { modelLayer } from "./manifest.ts";
import { printModelfile, type ModelfileMessage } from "./modelfile.ts";
import { displayName, parseModelName } from "./names.ts";
import type { ModelDetails } from "./store-read.ts";
import { formatParamValues, type Params } from "./params.ts";

export interface ShowInfo {
  /** short display name, e.g. `tiny:latest` */
  name: string;
  /** hex sha256 of the manifest file */
  digest: string;
  /** the same object `/api/tags` lists */
  details: ModelDetails;
  /** the "Model" table */
  model: { architecture: string; parameters: string; contextLength?: number; embeddingLength?: number; quantization: string; requires?: string };
  projector?: { architecture: string; parameters: string; embeddingLength?: number; dimensions?: number };
  capabilities: string[];
  params: Params;
  template?: string;
  /** set when the template layer does not parse (Ollama would not list the model) */
  templateError?: string;
  system?: string;
  licenses: string[];
  messages: ModelfileMessage[];
  /** GGUF metadata of the model, as /api/show `model_info` (long arrays emptied, as Ollama does) */
  modelInfo: Record<string, unknown>;
  /** paths of the model, projector and adapter blobs */
  blobs: { model?: string; projectors: string[]; adapters: string[]; draft?: string };
  /** a Modelfile that recreates this model (`show --modelfile`) */
  modelfile: string;
  /** commands of that Modelfile whose value could not be written exactly */
  modelfileInexact: string[];
}

async function readBlobHeader(path: string, owner: string): Promise<GgufHeader> {
  try {
    return await readGgufHeader(path);
  } catch (err) {
    if (err instanceof ToolError) throw new ToolError(path, `${err.detail} (a GGUF layer of ${owner})`);
    throw err;
  }
}

function jsonValue(v: GgufValue): unknown {
  switch (v.type) {
    case GgufValueType.UINT64:
    case GgufValueType.INT64:
      return Number.isSafeInteger(Number(v.value)) ? Number(v.value) : v.value.toString();
    case GgufValueType.ARRAY: {
      const a = v.value;
      // Ollama empties arrays longer than 5 unless verbose
      if (a.length > 5 || a.items === undefined) return [];
      return Array.from(a.items as ArrayLike<unknown>, (x) => (typeof x === "bigint" ? x.toString() : x));
    }
    default:
      return v.value;
  }
}

/** Reads everything `show` prints about an installed model. */
export async function showModel(modelsDir: string, nameText: string): Promise<ShowInfo> {
  const m = await readInstalledModel(modelsDir, parseModelName(nameText));
  const name = displayName(m.file.name);
  const config: Partial<ModelConfig> = m.config ?? {};
  const modelBlob = m.model ? blobPath(modelsDir, m.model.digest) : undefined;
  const header = modelBlob ? await readBlobHeader(modelBlob, name) : undefined;
  const md = header?.metadata;
  const arch = (md && getArchitecture(md)) ?? config.model_family ?? "";
  const archNumber = (suffix: string) => (md && arch ? getNumber(md, `${arch}.${suffix}`) : undefined);

  const projectorBlobs = m.projectors.map((l) => blobPath(modelsDir, l.digest));
  let projector: ShowInfo["projector"];
  if (projectorBlobs.length > 0) {
    const p = await readBlobHeader(projectorBlobs[0], name);
    const parch = getArchitecture(p.metadata) ?? "";
    projector = {
      architecture: parch,
      parameters: humanNumber(parameterCount(p.tensors)),
      embeddingLength: getNumber(p.metadata, `${parch}.vision.embedding_length`),
      dimensions: getNumber(p.metadata, `${parch}.vision.projection_dim`),
    };
  }

  let fields = new Set<string>();
  let templateError: string | undefined;
  if (m.template !== undefined) {
    templateError = goTemplateError(m.template);
    if (!templateError) fields = parseGoTemplate(m.template).fields;
  }
  const capabilities: string[] = [];
  capabilities.push(md && arch && md.has(`${arch}.pooling_type`) ? "embedding" : "completion");
  if (fields.has("Tools")) capabilities.push("tools");
  if (fields.has("Suffix")) capabilities.push("insert");
  if (projectorBlobs.length > 0 || (md && md.has(`${arch}.vision.block_count`))) capabilities.push("vision");
  if (md && md.has(`${arch}.audio.block_count`)) capabilities.push("audio");
  if (fields.has("Thinking") || arch === "gptoss" || arch === "gpt-oss") capabilities.push("thinking");

  const modelInfo: Record<string, unknown> = {};
  for (const [k, v] of md ?? []) if (k !== "general.name" && k !== "tokenizer.chat_template") modelInfo[k] = jsonValue(v);
  if (header) modelInfo["general.parameter_count"] = parameterCount(header.tensors);

  // absolute, as Ollama prints them: a relative --models-dir must not leak into the Modelfile
  const blobs = {
    model: modelBlob && resolve(modelBlob),
    projectors: projectorBlobs.map((p) => resolve(p)),
    adapters: m.adapters.map((l) => resolve(blobPath(modelsDir, l.digest))),
    draft: m.draft ? resolve(blobPath(modelsDir, m.draft.digest)) : undefined,
  };
  const printed = printModelfile({
    comments: ['Modelfile generated by "gguf-tool show"', "To build a new Modelfile based on this, replace FROM with:", `FROM ${name}`],
    model: blobs.model ?? name,
    adapters: blobs.adapters,
    draft: blobs.draft,
    projectors: blobs.projectors,
    template: m.template,
    system: m.system,
    renderer: config.renderer,
    parser: config.parser,
    requires: config.requires,
    params: m.params,
    licenses: m.licenses,
    messages: m.messages,
  });

  // Ollama falls back to the GGUF's general.file_type when the config says "unknown" or nothing
  const quantization = config.file_type && config.file_type !== "unknown" ? config.file_type : md ? ollamaFileType(md) : (config.file_type ?? "");
  return {
    name,
    digest: m.file.digest,
    details: {
      parent_model: (m.model && modelLayer(m.file.manifest)?.from) ?? "",
      format: config.model_format ?? "",
      family: config.model_family ?? "",
      families: config.model_families ?? null,
      parameter_size: config.model_type ?? "",
      quantization_level: quantization,
    },
    model: {
      architecture: arch,
      parameters: config.model_type || (header ? humanNumber(parameterCount(header.tensors)) : ""),
      contextLength: archNumber("context_length"),
      embeddingLength: archNumber("embedding_length"),
      quantization,
      ...(config.requires ? { requires: config.requires } : {}),
    },
    projector,
    capabilities,
    params: m.params,
    template: m.template,
    templateError,
    system: m.system,
    licenses: m.licenses,
    messages: m.messages,
    modelInfo,
    blobs,
    modelfile: printed.text,
    modelfileInexact: printed.inexact,
  };
}

/** Go's `%#v` of a string: double-quoted with Go's escapes. */
function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u00([0-7][0-9a-f])/g, (_, h: string) => {
    const c = parseInt(h, 16);
    return c === 7 ? "\\a" : c === 11 ? "\\v" : `\\x${h}`;
  });
}

/** A parameter value as `show` prints it: strings quoted (`"<|end|>"`), numbers in full. */
function paramDisplay(key: string, params: Params): string[] {
  const v = params.get(key)!;
  const values = formatParamValues(key, v);
  return Array.isArray(v) ? values.map(goQuote) : values;
}

/** The `parameters` text of /api/show and `show --parameters`: `%-30s %v` per value, keys sorted. */
export function formatParameters(params: Params): string {
  const lines: string[] = [];
  for (const key of [...params.keys()].sort()) for (const v of paramDisplay(key, params)) lines.push(`${key.padEnd(30)} ${v}`);
  return lines.join("\n");
}

function section(title: string, rows: Array<[string, string] | [string]>): string {
  const width = Math.max(0, ...rows.map((r) => (r.length === 2 ? r[0].length : 0))) + 4;
  const body = rows.map((r) => (r.length === 2 ? `    ${r[0].padEnd(width)}${r[1]}` : `    ${r[0]}`));
  return [`  ${title}`, ...body, ""].join("\n") + "\n";
}

/** `ollama show`'s human-readable report. */
export function formatShow(info: ShowInfo): string {
  const model: Array<[string, string]> = [["architecture", info.model.architecture], ["parameters", info.model.parameters]];
  if (info.model.contextLength !== undefined) model.push(["context length", String(info.model.contextLength)]);
  if (info.model.embeddingLength !== undefined) model.push(["embedding length", String(info.model.embeddingLength)]);
  model.push(["quantization", info.model.quantization]);
  if (info.model.requires) model.push(["requires", info.model.requires]);
  let out = section("Model", model);
  if (info.projector) {
    const p: Array<[string, string]> = [["architecture", info.projector.architecture], ["parameters", info.projector.parameters]];
    if (info.projector.embeddingLength !== undefined) p.push(["embedding length", String(info.projector.embeddingLength)]);
    if (info.projector.dimensions !== undefined) p.push(["dimensions", String(info.projector.dimensions)]);
    out += section("Projector", p);
  }
  out += section("Capabilities", info.capabilities.map((c) => [c] as [string]));
  if (info.params.size > 0) {
    const rows: Array<[string, string]> = [];
    for (const key of [...info.params.keys()].sort()) for (const v of paramDisplay(key, info.params)) rows.push([key, v]);
    out += section("Parameters", rows);
  }
  if (info.system !== undefined && info.system !== "") out += section("System", info.system.split("\n").map((l) => [l] as [string]));
  if (info.licenses.length > 0) {
    const lines = info.licenses.join("\n").split("\n");
    out += section("License", [...lines.slice(0, 2), ...(lines.length > 2 ? ["..."] : [])].map((l) => [l] as [string]));
  }
  return out;
}

/** `show --json`: /api/show's fields, with typed parameter values beside Ollama's text form. */
export function showJson(info: ShowInfo): Record<string, unknown> {
  const parameterValues: Record<string, unknown> = {};
  for (const [k, v] of info.params) parameterValues[k] = typeof v === "bigint" ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v;
  return {
    name: info.name,
    digest: info.digest,
    license: info.licenses.join("\n"),
    modelfile: info.modelfile,
    parameters: formatParameters(info.params),
    parameter_values: parameterValues,
    template: info.template ?? "",
    ...(info.templateError ? { template_error: info.templateError } : {}),
    system: info.system ?? "",
    details: info.details,
    messages: info.messages,
    model_info: info.modelInfo,
    ...(info.projector ? { projector_info: info.projector } : {}),
    capabilities: info.capabilities,
  };
}
