/**
 * An installed model's contents, read as Ollama's `GetModel` reads them: the last model layer,
 * every projector and adapter, the last template/system/messages layer, every license, and the
 * params layers merged key by key.
 */
import { open } from "node:fs/promises";
import { ToolError } from "../formats/errors.ts";
import { blobPath } from "./blobs.ts";
import { decodeConfig, type ModelConfig } from "./config.ts";
import { type Layer, type ManifestFile, MEDIA_TYPES, readManifest } from "./manifest.ts";
import type { MessageRole, ModelfileMessage } from "./modelfile.ts";
import { displayName, type ModelName } from "./names.ts";
import { decodeParamsJson, type Params } from "./params.ts";

/** Text layers are small; anything beyond this is not a template, system prompt or license. */
const MAX_TEXT_LAYER_BYTES = 64 << 20;

export interface InstalledModel {
  file: ManifestFile;
  /** undefined when the manifest has no config */
  config?: ModelConfig;
  model?: Layer;
  projectors: Layer[];
  adapters: Layer[];
  draft?: Layer;
  template?: string;
  system?: string;
  licenses: string[];
  params: Params;
  messages: ModelfileMessage[];
}

/** Reads a text blob, checking that it is there and as long as the manifest says. */
export async function readBlobText(modelsDir: string, layer: Layer, owner: string): Promise<string> {
  const path = blobPath(modelsDir, layer.digest);
  if (layer.size > MAX_TEXT_LAYER_BYTES) throw new ToolError(path, `${layer.mediaType} layer of ${owner} is ${layer.size} bytes, too large for a text layer`);
  let fh;
  try {
    fh = await open(path, "r");
  } catch {
    throw new ToolError(path, `blob missing (a ${layer.mediaType.replace(/^.*\./, "")} layer of ${owner})`);
  }
  try {
    const { size } = await fh.stat();
    if (size !== layer.size) throw new ToolError(path, `blob is ${size} bytes, the manifest of ${owner} says ${layer.size}`);
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await fh.read(buf, off, size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return buf.toString("utf8", 0, off);
  } finally {
    await fh.close();
  }
}

function parseMessages(text: string, path: string): ModelfileMessage[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ToolError(path, "messages layer is not valid JSON");
  }
  if (!Array.isArray(v)) throw new ToolError(path, "messages layer is not a JSON array");
  return v.map((m) => {
    const o = (m ?? {}) as { role?: unknown; content?: unknown };
    return { role: String(o.role ?? "").toLowerCase() as MessageRole, content: typeof o.content === "string" ? o.content : "" };
  });
}

/** Reads an installed model (found case-insensitively) and its text layers. */
export async function readInstalledModel(modelsDir: string, name: ModelName): Promise<InstalledModel> {
  const file = await readManifest(modelsDir, name);
  const owner = displayName(file.name);
  const out: InstalledModel = { file, projectors: [], adapters: [], licenses: [], params: new Map(), messages: [] };
  if (file.manifest.config) out.config = decodeConfig(await readBlobText(modelsDir, file.manifest.config, owner));
  for (const layer of file.manifest.layers) {
    switch (layer.mediaType) {
      case MEDIA_TYPES.model:
        out.model = layer;
        break;
      case MEDIA_TYPES.projector:
        out.projectors.push(layer);
        break;
      case MEDIA_TYPES.adapter:
        out.adapters.push(layer);
        break;
      case MEDIA_TYPES.draft:
        out.draft = layer;
        break;
      case MEDIA_TYPES.template:
      case MEDIA_TYPES.prompt:
        out.template = await readBlobText(modelsDir, layer, owner);
        break;
      case MEDIA_TYPES.system:
        out.system = await readBlobText(modelsDir, layer, owner);
        break;
      case MEDIA_TYPES.license:
        out.licenses.push(await readBlobText(modelsDir, layer, owner));
        break;
      case MEDIA_TYPES.params: {
        const path = blobPath(modelsDir, layer.digest);
        let params: Params;
        try {
          params = decodeParamsJson(await readBlobText(modelsDir, layer, owner));
        } catch (err) {
          if (err instanceof ToolError) throw err;
          throw new ToolError(path, `params layer of ${owner}: ${(err as Error).message}`);
        }
        for (const [k, v] of params) out.params.set(k, v);
        break;
      }
      case MEDIA_TYPES.messages:
        out.messages = parseMessages(await readBlobText(modelsDir, layer, owner), blobPath(modelsDir, layer.digest));
        break;
    }
  }
  return out;
}
