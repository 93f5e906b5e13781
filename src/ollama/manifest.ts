/**
 * Manifests (ollama-store.md §4.1, §5): their types and media types, the scan of
 * `manifests/*\/*\/*\/*` Ollama does, reading one (parsed and checked, raw bytes kept for the ID and
 * byte-for-byte copies), and writing one atomically, last.
 */
import { createHash } from "node:crypto";
import { open, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { ToolError } from "../formats/errors.ts";
import { blobPath, isDigest, parseDigest } from "./blobs.ts";
import { goJsonEncode } from "./go-json.ts";
import {
  canonicalNameCase,
  displayName,
  manifestPath,
  type ModelName,
  modelNameFromParts,
  sameNameIgnoringCase,
} from "./names.ts";
import { commitStoreFiles, discardTempPath, ensureStoreDir, storeFsError, storeTempPath, withStoreLock } from "./store-fs.ts";

export const MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json";

/** Layer and config media types Ollama writes and reads (§5). */
export const MEDIA_TYPES = {
  config: "application/vnd.docker.container.image.v1+json",
  model: "application/vnd.ollama.image.model",
  projector: "application/vnd.ollama.image.projector",
  adapter: "application/vnd.ollama.image.adapter",
  draft: "application/vnd.ollama.image.draft",
  template: "application/vnd.ollama.image.template",
  /** legacy alias of template */
  prompt: "application/vnd.ollama.image.prompt",
  system: "application/vnd.ollama.image.system",
  params: "application/vnd.ollama.image.params",
  messages: "application/vnd.ollama.image.messages",
  license: "application/vnd.ollama.image.license",
  /** deprecated, ignored by Ollama */
  embed: "application/vnd.ollama.image.embed",
  /** safetensors-native (MLX) tensor blobs */
  tensor: "application/vnd.ollama.image.tensor",
  /** safetensors-native raw JSON config files */
  json: "application/vnd.ollama.image.json",
} as const;

/** One blob reference, fields in Go's order (`manifest/layer.go`). */
export interface Layer {
  mediaType: string;
  /** `sha256:<hex>` */
  digest: string;
  /** the blob's byte length */
  size: number;
  /** informational source (file name, blob path or parent model) */
  from?: string;
  /** tensor or file name (safetensors-native models) */
  name?: string;
}

/** A manifest as stored at `manifests/<host>/<namespace>/<model>/<tag>`. */
export interface Manifest {
  schemaVersion: number;
  mediaType: string;
  /** absent, or with an empty digest, in some manifests: Ollama tolerates a missing config */
  config?: Layer;
  layers: Layer[];
}

/** Larger than any real manifest (a safetensors-native model with thousands of tensors is well below). */
export const MAX_MANIFEST_BYTES = 16 << 20;

function checkLayer(value: unknown, where: string, subject: string): Layer {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ToolError(subject, `manifest ${where} is not an object`);
  }
  const l = value as Record<string, unknown>;
  if (typeof l.mediaType !== "string") throw new ToolError(subject, `manifest ${where} has no mediaType`);
  if (typeof l.digest !== "string" || !isDigest(l.digest)) {
    throw new ToolError(subject, `manifest ${where} has an invalid digest ${JSON.stringify(l.digest)} (expected sha256:<64 lowercase hex>)`);
  }
  if (typeof l.size !== "number" || !Number.isSafeInteger(l.size) || l.size < 0) {
    throw new ToolError(subject, `manifest ${where} has an invalid size ${JSON.stringify(l.size)}`);
  }
  if (l.from !== undefined && typeof l.from !== "string") throw new ToolError(subject, `manifest ${where} has a non-string "from"`);
  if (l.name !== undefined && typeof l.name !== "string") throw new ToolError(subject, `manifest ${where} has a non-string "name"`);
  return { mediaType: l.mediaType, digest: parseDigest(l.digest), size: l.size, from: l.from, name: l.name };
}

/**
 * Parses and checks manifest bytes: a JSON object whose config (optional; an empty digest means
 * none, as Ollama tolerates) and layers each have a media type, a well-formed lowercase sha256
 * digest and a non-negative integer size. Unknown keys are ignored, as Ollama ignores them.
 */
export function parseManifest(bytes: Uint8Array, subject: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"));
  } catch {
    throw new ToolError(subject, "manifest is not valid JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new ToolError(subject, "manifest is not a JSON object");
  const m = json as Record<string, unknown>;
  if (m.layers !== undefined && m.layers !== null && !Array.isArray(m.layers)) throw new ToolError(subject, "manifest layers is not an array");
  const layers = ((m.layers as unknown[] | undefined) ?? []).map((l, i) => checkLayer(l, `layer ${i}`, subject));
  let config: Layer | undefined;
  const rawConfig = m.config as Record<string, unknown> | undefined | null;
  if (rawConfig !== undefined && rawConfig !== null && !(typeof rawConfig === "object" && rawConfig.digest === "")) {
    config = checkLayer(rawConfig, "config", subject);
  }
  return {
    schemaVersion: typeof m.schemaVersion === "number" ? m.schemaVersion : 0,
    mediaType: typeof m.mediaType === "string" ? m.mediaType : "",
    config,
    layers,
  };
}

/** The config (if any) and every layer: all the blobs a manifest needs. */
export function manifestBlobs(manifest: Manifest): Layer[] {
  return manifest.config ? [manifest.config, ...manifest.layers] : [...manifest.layers];
}

/** Sum of the config and all layer sizes, as `ollama list` SIZE and `/api/tags` `size`. */
export function manifestTotalSize(manifest: Manifest): number {
  return manifestBlobs(manifest).reduce((sum, l) => sum + l.size, 0);
}

/** The model GGUF layer Ollama uses: the last `model` layer (§4.1). */
export function modelLayer(manifest: Manifest): Layer | undefined {
  for (let i = manifest.layers.length - 1; i >= 0; i--) {
    if (manifest.layers[i].mediaType === MEDIA_TYPES.model) return manifest.layers[i];
  }
  return undefined;
}

/** Manifest bytes as Ollama writes them: Go-style compact JSON plus `\n`, fields in Go's order. */
export function encodeManifest(manifest: Manifest): Buffer {
  const layer = (l: Layer) => ({
    mediaType: l.mediaType,
    digest: l.digest,
    size: l.size,
    ...(l.from ? { from: l.from } : {}),
    ...(l.name ? { name: l.name } : {}),
  });
  return goJsonEncode({
    schemaVersion: manifest.schemaVersion,
    mediaType: manifest.mediaType,
    config: manifest.config ? layer(manifest.config) : { mediaType: MEDIA_TYPES.config, digest: "", size: 0 },
    layers: manifest.layers.map(layer),
  });
}

/** A file found at depth 4 under `manifests/`. */
export interface ManifestEntry {
  /** the name its path spells, or undefined when a part is not a valid name part */
  name?: ModelName;
  path: string;
  /** `host/namespace/model/tag` as on disk */
  relativePath: string;
}

async function listDirs(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() || e.isSymbolicLink()).map((e) => e.name).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw storeFsError(err, dir, "read the folder");
  }
}

/**
 * Every regular file at `manifests/*\/*\/*\/*`, in path order, as Ollama's `manifest.Manifests` globs
 * them. Entries whose path is not a valid name keep `name` undefined (Ollama counts them as corrupt).
 */
export async function scanManifests(modelsDir: string): Promise<ManifestEntry[]> {
  const root = join(modelsDir, "manifests");
  const out: ManifestEntry[] = [];
  for (const host of await listDirs(root)) {
    for (const ns of await listDirs(join(root, host))) {
      for (const model of await listDirs(join(root, host, ns))) {
        const dir = join(root, host, ns, model);
        let tags: string[];
        try {
          tags = (await readdir(dir)).sort();
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOTDIR") continue;
          throw storeFsError(err, dir, "read the folder");
        }
        for (const tag of tags) {
          const path = join(dir, tag);
          try {
            if (!(await stat(path)).isFile()) continue;
          } catch {
            continue; // a dangling link: not a manifest
          }
          const name = modelNameFromParts({ host, namespace: ns, model, tag });
          out.push({ name, path, relativePath: `${host}/${ns}/${model}/${tag}` });
        }
      }
    }
  }
  return out;
}

/** A manifest read from the store. */
export interface ManifestFile {
  /** the name as stored on disk (its existing casing) */
  name: ModelName;
  path: string;
  /** the exact file bytes (copied verbatim by cp and export) */
  bytes: Buffer;
  manifest: Manifest;
  /** hex sha256 of the file bytes: `ollama list`'s ID (first 12) and `/api/tags` digest */
  digest: string;
  /** the file's mtime: `ollama list`'s MODIFIED */
  modifiedAt: Date;
}

/** Reads, size-checks, hashes and parses the manifest at `path`. */
export async function readManifestFile(path: string, name: ModelName): Promise<ManifestFile> {
  const subject = displayName(name);
  let fh;
  try {
    fh = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new ToolError(subject, "model not found");
    throw storeFsError(err, path, "read the manifest");
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new ToolError(path, "manifest is not a regular file");
    if (st.size > MAX_MANIFEST_BYTES) throw new ToolError(path, `manifest is ${st.size} bytes, larger than any real manifest`);
    const bytes = Buffer.alloc(st.size);
    let off = 0;
    while (off < st.size) {
      const { bytesRead } = await fh.read(bytes, off, st.size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    const data = bytes.subarray(0, off);
    return {
      name,
      path,
      bytes: data,
      manifest: parseManifest(data, path),
      digest: createHash("sha256").update(data).digest("hex"),
      modifiedAt: st.mtime,
    };
  } finally {
    await fh.close();
  }
}

/**
 * The stored name of an existing model matching `name` case-insensitively (an exact-case match
 * first), or undefined when there is none.
 */
export async function findExistingName(modelsDir: string, name: ModelName): Promise<ModelName | undefined> {
  try {
    if ((await stat(manifestPath(modelsDir, name))).isFile()) return name;
  } catch {
    /* look case-insensitively below */
  }
  for (const e of await scanManifests(modelsDir)) {
    if (e.name && sameNameIgnoringCase(e.name, name)) return e.name;
  }
  return undefined;
}

/** Reads the manifest of an installed model, found case-insensitively; a ToolError when there is none. */
export async function readManifest(modelsDir: string, name: ModelName): Promise<ManifestFile> {
  const existing = await findExistingName(modelsDir, name);
  if (!existing) throw new ToolError(displayName(name), `model not found in ${modelsDir}`);
  return readManifestFile(manifestPath(modelsDir, existing), existing);
}

/**
 * The name a new manifest should be written under: Ollama's per-part case canonicalisation against
 * the existing manifests, so `Alice/M` joins an existing `alice/m`.
 */
export async function nameForWriting(modelsDir: string, name: ModelName): Promise<ModelName> {
  const existing = (await scanManifests(modelsDir)).flatMap((e) => (e.name ? [e.name] : []));
  return canonicalNameCase(name, existing);
}

/**
 * Writes manifest bytes for `name` atomically: a temp file in the private temp folder, fsynced,
 * then renamed over `manifests/<host>/<namespace>/<model>/<tag>`. Write every blob first: the
 * manifest is what makes a model exist. Under the store lock, every blob the manifest names is
 * checked to be in `blobs/` just before the rename, so a concurrent `rm` or `prune` can never leave
 * this manifest pointing at a deleted blob: the write fails instead. Returns the manifest path.
 */
export async function writeManifest(modelsDir: string, name: ModelName, bytes: Uint8Array): Promise<string> {
  const [target] = await writeManifests(modelsDir, [{ name, bytes }]);
  return target;
}

/**
 * writeManifest for several models at once (an import): every manifest is written and fsynced
 * first, then, under the store lock, all their blobs are checked, and the renames follow back to
 * back (commitStoreFiles), so the models appear together. Nothing is written if any blob is
 * missing. Returns the manifest paths, in order.
 */
export async function writeManifests(modelsDir: string, entries: ReadonlyArray<{ name: ModelName; bytes: Uint8Array }>): Promise<string[]> {
  const staged: Array<{ name: ModelName; manifest: Manifest; tempPath: string; target: string }> = [];
  try {
    for (const { name, bytes } of entries) {
      const manifest = parseManifest(bytes, displayName(name));
      const tempPath = await storeTempPath(modelsDir, ".manifest");
      staged.push({ name, manifest, tempPath, target: manifestPath(modelsDir, name) });
      try {
        const fh = await open(tempPath, "wx", 0o644);
        try {
          await fh.writeFile(bytes);
          await fh.sync();
        } finally {
          await fh.close();
        }
      } catch (err) {
        throw storeFsError(err, tempPath, "write a manifest");
      }
    }
    await withStoreLock(modelsDir, async () => {
      for (const { name, manifest } of staged) {
        for (const l of manifestBlobs(manifest)) {
          let isFile = false;
          try {
            isFile = (await stat(blobPath(modelsDir, l.digest))).isFile();
          } catch {
            /* reported below */
          }
          if (!isFile) throw new ToolError(displayName(name), `blob ${l.digest} is not in the store (removed by another process?); nothing was written`);
        }
      }
      for (const { name } of staged) await ensureStoreDir(modelsDir, "manifests", name.host, name.namespace, name.model);
      commitStoreFiles(modelsDir, staged);
    });
  } finally {
    for (const { tempPath } of staged) discardTempPath(tempPath); // a no-op once renamed into place
  }
  return staged.map((s) => s.target);
}
