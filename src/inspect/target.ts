/**
 * What `inspect <target>` looks at: a file (GGUF, split GGUF, Ollama blob, safetensors), a Hugging
 * Face folder, a blob digest in the models dir, or an installed model's name. Resolves the target,
 * reads the header(s) and builds the summary; rendering is the CLI's job.
 */
import { open, readFile, stat } from "node:fs/promises";
import { fsError, pathKind } from "../formats/file.ts";
import { ToolError } from "../formats/errors.ts";
import { readGgufModel, type GgufModel } from "../formats/gguf/split.ts";
import { GGUF_MAGIC, GgufValueType } from "../formats/gguf/types.ts";
import { openHfFolder } from "../formats/safetensors/hf-folder.ts";
import { readSafetensorsHeader } from "../formats/safetensors/reader.ts";
import type { HfModel, SafetensorsFile } from "../formats/safetensors/types.ts";
import { blobPath, isDigest } from "../ollama/blobs.ts";
import { MEDIA_TYPES, modelLayer, readManifest } from "../ollama/manifest.ts";
import { requireModelsDir, resolveModelsDir } from "../ollama/models-dir.ts";
import { displayName, parseModelName } from "../ollama/names.ts";
import { summarizeGguf } from "./gguf-summary.ts";
import { hfChatTemplate, summarizeHfModel, summarizeSafetensorsFile } from "./safetensors-summary.ts";
import type { ModelSummary } from "./summary.ts";

export interface InspectOptions {
  /** `--models-dir`; else OLLAMA_MODELS, else ~/.ollama/models (for digests and names) */
  modelsDir?: string;
  /** decode every metadata array (for --full) instead of keeping long ones lazy */
  eagerArrays?: boolean;
}

export interface OllamaLayerInfo {
  /** the media type's last part: model, template, params, projector, adapter, license, ... */
  kind: string;
  mediaType: string;
  digest: string;
  size: number;
  path: string;
}

export interface OllamaModelInfo {
  /** as `ollama list` shows it */
  name: string;
  manifestPath: string;
  /** sha256 of the manifest bytes: `ollama list`'s ID */
  id: string;
  modelsDir: string;
  layers: OllamaLayerInfo[];
}

export type InspectSubject =
  | { kind: "gguf"; path: string; model: GgufModel; summary: ModelSummary; ollama?: OllamaModelInfo }
  | { kind: "safetensors"; path: string; file: SafetensorsFile; summary: ModelSummary }
  | { kind: "hf-folder"; path: string; model: HfModel; summary: ModelSummary };

export async function inspectTarget(target: string, options: InspectOptions = {}): Promise<InspectSubject> {
  if (isDigest(target)) {
    const modelsDir = requireModelsDir(resolveModelsDir(options.modelsDir));
    const path = blobPath(modelsDir, target);
    if ((await pathKind(path)) === undefined) throw new ToolError(target, `no such blob in ${modelsDir}`);
    return inspectFile(path, options);
  }
  let st;
  try {
    st = await stat(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw fsError(target, err);
  }
  if (st?.isDirectory()) {
    const model = await openHfFolder(target);
    return { kind: "hf-folder", path: target, model, summary: await summarizeHfModel(model) };
  }
  if (st) return inspectFile(target, options);
  if (looksLikePath(target)) throw new ToolError(target, "no such file or directory");
  return inspectInstalledModel(target, options);
}

/** A file, by its first bytes: GGUF magic, else a safetensors header. */
async function inspectFile(path: string, options: InspectOptions): Promise<InspectSubject> {
  const head = await readHead(path);
  if (head.length >= 4 && head.readUInt32LE(0) === GGUF_MAGIC) {
    const model = await readGgufModel(path, { eagerArrays: options.eagerArrays });
    return { kind: "gguf", path, model, summary: await summarizeGguf(model) };
  }
  // safetensors: 8-byte length, then a JSON object
  if (path.endsWith(".safetensors") || (head.length >= 9 && head[8] === 0x7b)) {
    const file = await readSafetensorsHeader(path);
    return { kind: "safetensors", path, file, summary: summarizeSafetensorsFile(file) };
  }
  const shown = JSON.stringify(head.subarray(0, 4).toString("latin1"));
  throw new ToolError(path, `not a GGUF or safetensors file (starts with ${shown})`);
}

async function inspectInstalledModel(target: string, options: InspectOptions): Promise<InspectSubject> {
  let name;
  try {
    name = parseModelName(target);
  } catch {
    throw new ToolError(target, "no such file, folder or model name");
  }
  const modelsDir = requireModelsDir(resolveModelsDir(options.modelsDir));
  const manifest = await readManifest(modelsDir, name);
  const layer = modelLayer(manifest.manifest);
  const shownName = displayName(manifest.name);
  if (!layer) throw new ToolError(shownName, "has no model layer (nothing to inspect)");
  const path = blobPath(modelsDir, layer.digest);
  if ((await pathKind(path)) === undefined) throw new ToolError(shownName, `model blob ${layer.digest} is missing from ${modelsDir}`);
  const model = await readGgufModel(path, { eagerArrays: options.eagerArrays });
  const prefix = "application/vnd.ollama.image.";
  const layers = manifest.manifest.layers.map((l) => ({
    kind: l.mediaType.startsWith(prefix) ? l.mediaType.slice(prefix.length) : l.mediaType,
    mediaType: l.mediaType,
    digest: l.digest,
    size: l.size,
    path: blobPath(modelsDir, l.digest),
  }));
  const ollama: OllamaModelInfo = { name: shownName, manifestPath: manifest.path, id: manifest.digest, modelsDir, layers };
  return { kind: "gguf", path, model, summary: await summarizeGguf(model), ollama };
}

/** Paths, not names: a name never has `./`, a leading `/`, a backslash or a file extension we read. */
function looksLikePath(target: string): boolean {
  return /^\.{0,2}[\\/]|\\|\.(gguf|safetensors|bin|json)$/i.test(target) || target.startsWith("~");
}

async function readHead(path: string): Promise<Buffer> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch (err) {
    throw fsError(path, err);
  }
  try {
    const buf = Buffer.alloc(16);
    const { bytesRead } = await fh.read(buf, 0, 16, 0);
    return buf.subarray(0, bytesRead);
  } catch (err) {
    throw fsError(path, err);
  } finally {
    await fh.close();
  }
}

/**
 * The whole chat template: the GGUF's `tokenizer.chat_template`, else (installed model) its
 * Ollama template layer, or tokenizer_config.json's for a folder; undefined when there is none.
 */
export async function readChatTemplate(subject: InspectSubject): Promise<string | undefined> {
  if (subject.kind === "hf-folder") return hfChatTemplate(subject.path);
  if (subject.kind === "safetensors") return undefined;
  const v = subject.model.metadata.get("tokenizer.chat_template");
  if (v?.type === GgufValueType.STRING) return v.value;
  const layer = subject.ollama?.layers.filter((l) => l.mediaType === MEDIA_TYPES.template || l.mediaType === MEDIA_TYPES.prompt).pop();
  if (!layer) return undefined;
  try {
    return await readFile(layer.path, "utf8");
  } catch (err) {
    throw fsError(layer.path, err);
  }
}
