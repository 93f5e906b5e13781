/**
 * Reading the whole store as `ollama list` / `GET /api/tags` do (ollama-store.md §4.3): every
 * manifest with its ID (sha256 of the manifest file), total size and age, newest first. Models
 * Ollama would drop (unreadable manifest, missing or invalid config blob) are returned apart.
 */
import { readFile, stat } from "node:fs/promises";
import { ToolError } from "../formats/errors.ts";
import { blobPath } from "./blobs.ts";
import { goTemplateError } from "./go-template.ts";
import { readBlobText } from "./installed.ts";
import {
  MAX_MANIFEST_BYTES,
  type ManifestFile,
  manifestBlobs,
  manifestTotalSize,
  MEDIA_TYPES,
  modelLayer,
  readManifestFile,
  scanManifests,
} from "./manifest.ts";
import { displayName, fullName, type ModelName } from "./names.ts";
import { showModel } from "./show.ts";

/** The `details` object of `/api/tags`, from the config blob. */
export interface ModelDetails {
  parent_model: string;
  format: string;
  family: string;
  families: string[] | null;
  parameter_size: string;
  quantization_level: string;
}

/** One row of `ollama list`. */
export interface ListedModel {
  name: ModelName;
  /** NAME: the shortest display form, e.g. `tiny:latest` */
  displayName: string;
  /** ID: the first 12 hex digits of {@link digest} */
  id: string;
  /** hex sha256 of the manifest file bytes */
  digest: string;
  /** SIZE in bytes: config plus all layers, from the manifest */
  size: number;
  /** a cloud/remote stub (config `remote_host`): SIZE prints as `-` */
  remote: boolean;
  /** MODIFIED: the manifest file's mtime */
  modifiedAt: Date;
  manifestPath: string;
  details: ModelDetails;
}

/** A manifest `ollama list` would leave out, and why. */
export interface SkippedManifest {
  path: string;
  reason: string;
}

interface ConfigV2 {
  model_format?: unknown;
  model_family?: unknown;
  model_families?: unknown;
  model_type?: unknown;
  file_type?: unknown;
  remote_host?: unknown;
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** Reads and parses a config blob; undefined when it is missing, too large or not a JSON object. */
async function readConfig(path: string): Promise<ConfigV2 | undefined> {
  try {
    const st = await stat(path);
    if (!st.isFile() || st.size > MAX_MANIFEST_BYTES) return undefined;
    const v: unknown = JSON.parse(await readFile(path, "utf8"));
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as ConfigV2) : undefined;
  } catch {
    return undefined;
  }
}

/** All readable manifests, plus the paths of those that could not be read (as `list` skips them). */
export async function readAllManifests(modelsDir: string): Promise<{ manifests: ManifestFile[]; unreadable: SkippedManifest[] }> {
  const manifests: ManifestFile[] = [];
  const unreadable: SkippedManifest[] = [];
  for (const e of await scanManifests(modelsDir)) {
    if (!e.name) {
      unreadable.push({ path: e.path, reason: `"${e.relativePath}" is not a valid model name` });
      continue;
    }
    try {
      manifests.push(await readManifestFile(e.path, e.name));
    } catch (err) {
      unreadable.push({ path: e.path, reason: err instanceof ToolError ? err.detail : String(err) });
    }
  }
  return { manifests, unreadable };
}

/** Every digest that a readable manifest references (config and layers). */
export function referencedDigests(manifests: ManifestFile[]): Set<string> {
  const out = new Set<string>();
  for (const m of manifests) for (const l of manifestBlobs(m.manifest)) out.add(l.digest);
  return out;
}

/**
 * Why Ollama's `GetModel` would fail on the model's template layer (the last template/prompt
 * layer): its blob is missing or it does not parse as a Go template. Undefined when fine.
 */
async function checkTemplate(modelsDir: string, file: ManifestFile): Promise<string | undefined> {
  const layer = file.manifest.layers.filter((l) => l.mediaType === MEDIA_TYPES.template || l.mediaType === MEDIA_TYPES.prompt).at(-1);
  if (!layer) return undefined;
  let text: string;
  try {
    text = await readBlobText(modelsDir, layer, displayName(file.name));
  } catch (err) {
    return err instanceof ToolError ? err.detail : String(err);
  }
  const problem = goTemplateError(text);
  return problem === undefined ? undefined : `template does not parse as a Go template: ${problem}`;
}

/**
 * Every model in the store as `ollama list` shows it, newest first (ties in path order). A manifest
 * whose path is not a valid name, that does not parse, whose config blob is missing or not JSON, or
 * whose template is missing or does not parse is left out of `models` and reported in `skipped`, as
 * Ollama leaves it out with only a log warning.
 */
export async function listModels(modelsDir: string): Promise<{ models: ListedModel[]; skipped: SkippedManifest[] }> {
  const { manifests, unreadable } = await readAllManifests(modelsDir);
  const models: ListedModel[] = [];
  const skipped = [...unreadable];
  for (const file of manifests) {
    let config: ConfigV2 = {};
    if (file.manifest.config) {
      const c = await readConfig(blobPath(modelsDir, file.manifest.config.digest));
      if (!c) {
        skipped.push({ path: file.path, reason: `config blob ${file.manifest.config.digest} is missing or not valid JSON` });
        continue;
      }
      config = c;
    }
    const templateProblem = await checkTemplate(modelsDir, file);
    if (templateProblem) {
      skipped.push({ path: file.path, reason: templateProblem });
      continue;
    }
    models.push({
      name: file.name,
      displayName: displayName(file.name),
      id: file.digest.slice(0, 12),
      digest: file.digest,
      size: manifestTotalSize(file.manifest),
      remote: str(config.remote_host) !== "",
      modifiedAt: file.modifiedAt,
      manifestPath: file.path,
      details: {
        parent_model: modelLayer(file.manifest)?.from ?? "",
        format: str(config.model_format),
        family: str(config.model_family),
        families: Array.isArray(config.model_families) ? config.model_families.filter((f): f is string => typeof f === "string") : null,
        parameter_size: str(config.model_type),
        quantization_level: str(config.file_type),
      },
    });
  }
  // newest first, compared in whole seconds as Ollama does; the sort is stable, so ties keep path order
  models.sort((a, b) => Math.trunc(b.modifiedAt.getTime() / 1000) - Math.trunc(a.modifiedAt.getTime() / 1000));
  return { models, skipped };
}

/** One model as `GET /api/tags` describes it. */
export interface TagsModel {
  name: string;
  model: string;
  modified_at: string;
  size: number;
  digest: string;
  details: ModelDetails & { context_length?: number; embedding_length?: number };
  capabilities?: string[];
}

/**
 * A listed model as `/api/tags` reports it: the config's details, plus what Ollama reads from the
 * GGUF header (context and embedding length, capabilities, the quantization when the config has
 * none). When the GGUF cannot be read, the config's details alone are given.
 */
export async function tagsEntry(modelsDir: string, m: ListedModel): Promise<TagsModel> {
  const base: TagsModel = {
    name: m.displayName,
    model: m.displayName,
    modified_at: m.modifiedAt.toISOString(),
    size: m.size,
    digest: m.digest,
    details: m.details,
  };
  let info;
  try {
    info = await showModel(modelsDir, fullName(m.name));
  } catch {
    return base;
  }
  return {
    ...base,
    details: {
      ...m.details,
      quantization_level: info.details.quantization_level,
      ...(info.model.contextLength !== undefined ? { context_length: info.model.contextLength } : {}),
      ...(info.model.embeddingLength !== undefined ? { embedding_length: info.model.embeddingLength } : {}),
    },
    capabilities: info.capabilities,
  };
}
