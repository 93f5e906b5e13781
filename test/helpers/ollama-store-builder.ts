/** Builds small installed models in a temp store for the store-command tests. */
import { createReadStream, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type BlobWriteResult, writeBlobBytes, writeBlobFromStream } from "../../src/ollama/blobs.ts";
import { encodeManifest, type Layer, MANIFEST_MEDIA_TYPE, MEDIA_TYPES, writeManifest } from "../../src/ollama/manifest.ts";
import { parseModelName } from "../../src/ollama/names.ts";
import { SHARED } from "./cli.ts";

/** A real GGUF from the shared fixtures, used as the model layer. */
export const FIXTURE_GGUF = join(SHARED, "fixtures", "ref", "llama2-spm", "llama2-spm.q4_0.gguf");

const layer = (mediaType: string, r: BlobWriteResult): Layer => ({ mediaType, digest: r.digest, size: r.size });

export interface ModelSpec {
  /** GGUF file for the model layer (default FIXTURE_GGUF) */
  gguf?: string;
  /** extra bytes appended to make a distinct model blob */
  variant?: string;
  template?: string;
  system?: string;
  params?: string;
  license?: string[];
  messages?: string;
  projector?: string;
}

/** Installs a model into `modelsDir` the way `create` would: blobs, then the manifest. */
export async function installTestModel(modelsDir: string, name: string, spec: ModelSpec = {}): Promise<Buffer> {
  const ggufBytes = spec.variant === undefined ? undefined : Buffer.concat([readFileSync(spec.gguf ?? FIXTURE_GGUF), Buffer.from(spec.variant)]);
  const model = ggufBytes ? await writeBlobBytes(modelsDir, ggufBytes) : await writeBlobFromStream(modelsDir, createReadStream(spec.gguf ?? FIXTURE_GGUF));
  const config = await writeBlobBytes(
    modelsDir,
    Buffer.from('{"model_format":"gguf","model_family":"llama","model_families":["llama"],"model_type":"1.45M","file_type":"Q4_0","architecture":"amd64","os":"linux"}\n'),
  );
  const layers: Layer[] = [layer(MEDIA_TYPES.model, model)];
  if (spec.projector) layers.push(layer(MEDIA_TYPES.projector, await writeBlobBytes(modelsDir, Buffer.from(spec.projector))));
  if (spec.template) layers.push(layer(MEDIA_TYPES.template, await writeBlobBytes(modelsDir, Buffer.from(spec.template))));
  if (spec.system) layers.push(layer(MEDIA_TYPES.system, await writeBlobBytes(modelsDir, Buffer.from(spec.system))));
  for (const l of spec.license ?? []) layers.push(layer(MEDIA_TYPES.license, await writeBlobBytes(modelsDir, Buffer.from(l))));
  if (spec.params) layers.push(layer(MEDIA_TYPES.params, await writeBlobBytes(modelsDir, Buffer.from(spec.params))));
  if (spec.messages) layers.push(layer(MEDIA_TYPES.messages, await writeBlobBytes(modelsDir, Buffer.from(spec.messages))));
  const bytes = encodeManifest({
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA_TYPE,
    config: layer(MEDIA_TYPES.config, config),
    layers,
  });
  await writeManifest(modelsDir, parseModelName(name), bytes);
  return bytes;
}

/** Every file under `dir` (relative path -> bytes), for comparing whole stores. */
export function snapshotFiles(dir: string, rel = ""): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let entries: string[];
  try {
    entries = readdirSync(join(dir, rel));
  } catch {
    return out;
  }
  for (const e of entries.sort()) {
    const p = join(rel, e);
    if (statSync(join(dir, p)).isDirectory()) for (const [k, v] of snapshotFiles(dir, p)) out.set(k, v);
    else out.set(p, readFileSync(join(dir, p)));
  }
  return out;
}
