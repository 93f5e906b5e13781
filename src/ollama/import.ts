/**
 * `import`: takes models exported in Ollama's layout (a folder, or a tar of it, read as a stream)
 * into the store. Every blob is hashed on its way in and must match its name; manifests are
 * written last, and only after every blob they need is in place. An existing, different model of
 * the same name is replaced only with `force`. A tar entry never chooses a path: only
 * `manifests/<4 valid name parts>` and `blobs/sha256-<hex>` are understood, and those map onto
 * store paths built from the validated name or digest. `..`, absolute paths and links are refused.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import { ToolError } from "../formats/errors.ts";
import { blobPath, type ByteSource, isDigest, parseDigest, stageBlobFromStream, type StagedBlob } from "./blobs.ts";
import {
  findExistingName,
  type Manifest,
  manifestBlobs,
  MAX_MANIFEST_BYTES,
  nameForWriting,
  parseManifest,
  readManifestFile,
  scanManifests,
  writeManifests,
} from "./manifest.ts";
import { displayName, type ModelName, modelNameFromParts } from "./names.ts";
import { type OnStoreProgress, ProgressTracker } from "./progress.ts";
import { removeUnreferencedBlobs } from "./store-maintain.ts";
import { withStoreLock } from "./store-fs.ts";
import { readTar } from "./tar.ts";

export interface ImportOptions {
  /** store the (single) imported model under this name instead */
  as?: ModelName;
  /** replace an installed model of the same name whose manifest differs */
  force?: boolean;
  /** called for every chunk of blob data read */
  onProgress?: OnStoreProgress;
}

export interface ImportResult {
  models: Array<{ name: string; status: "imported" | "unchanged" | "replaced" }>;
  blobsWritten: number;
  blobsReused: number;
  bytesWritten: number;
  /** entries that were not part of an Ollama export and were skipped */
  warnings: string[];
}

/** A tar arriving as a stream (e.g. stdin), with the name to use in messages. */
export interface TarSource {
  label: string;
  stream: AsyncIterable<Uint8Array>;
}

type SourceItem =
  | { kind: "manifest"; path: string; name: ModelName; bytes: Buffer }
  | { kind: "blob"; path: string; digest: string; size: number; body: ByteSource }
  | { kind: "skip"; path: string; reason?: string };

/** `sha256-<hex>` or `sha256:<hex>` as a blob file name, normalised; undefined for anything else. */
function blobDigestFromFileName(name: string): string | undefined {
  return isDigest(name) ? parseDigest(name) : undefined;
}

/**
 * Maps a tar entry path to what it is in an export, refusing anything that could write outside
 * the store. Returns undefined for folders that carry nothing.
 */
function classifyTarPath(source: string, path: string, type: string): { kind: "manifest"; name: ModelName } | { kind: "blob"; digest: string } | { kind: "skip"; reason?: string } {
  const unsafe = (why: string) => new ToolError(source, `refusing tar entry ${JSON.stringify(path)}: ${why}`);
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path) || path.includes("\\")) throw unsafe("absolute paths are not allowed");
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw unsafe("paths with .. are not allowed");
  if (type === "link") throw unsafe("links are not allowed");
  if (type === "directory") return { kind: "skip" };
  if (type !== "file") throw unsafe("only files and folders are allowed");
  if (parts[0] === "manifests") {
    const name = parts.length === 5 ? modelNameFromParts({ host: parts[1], namespace: parts[2], model: parts[3], tag: parts[4] }) : undefined;
    if (!name) throw new ToolError(source, `${path}: not a manifest path (manifests/<host>/<namespace>/<model>/<tag> with a valid model name)`);
    return { kind: "manifest", name };
  }
  if (parts[0] === "blobs" && parts.length === 2) {
    const digest = blobDigestFromFileName(parts[1]);
    if (digest) return { kind: "blob", digest };
  }
  return { kind: "skip", reason: `${path}: not part of an Ollama export, skipped` };
}

/** Reads a small entry whole, its declared size checked before anything is allocated. */
async function readWhole(label: string, size: number, body: AsyncIterable<Buffer>): Promise<Buffer> {
  if (size > MAX_MANIFEST_BYTES) throw new ToolError(label, `manifest of ${size} bytes is larger than any real manifest`);
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** A tar stream (gunzipped first when it starts with the gzip magic) as export items. */
async function* tarItems(source: TarSource): AsyncGenerator<SourceItem> {
  const { label } = source;
  const it = source.stream[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) throw new ToolError(label, "empty input, not a tar file");
  async function* rest(): AsyncGenerator<Uint8Array> {
    yield first.value;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  const gzipped = first.value[0] === 0x1f && first.value[1] === 0x8b;
  const stream: AsyncIterable<Uint8Array> = gzipped ? Readable.from(rest()).pipe(createGunzip()) : rest();
  try {
    for await (const entry of readTar(stream, label)) {
      const c = classifyTarPath(label, entry.path, entry.type);
      if (c.kind === "manifest") yield { kind: "manifest", path: entry.path, name: c.name, bytes: await readWhole(`${label}: ${entry.path}`, entry.size, entry.body) };
      else if (c.kind === "blob") yield { kind: "blob", path: entry.path, digest: c.digest, size: entry.size, body: entry.body };
      else yield { kind: "skip", path: entry.path, reason: c.reason };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "Z_DATA_ERROR" || (err as NodeJS.ErrnoException).code === "Z_BUF_ERROR") {
      throw new ToolError(label, "corrupt or truncated gzip data");
    }
    throw err;
  } finally {
    await it.return?.();
  }
}

/** An export folder as items: every manifest first, then each referenced blob present in it. */
async function* folderItems(dir: string): AsyncGenerator<SourceItem> {
  const digests = new Set<string>();
  for (const e of await scanManifests(dir)) {
    if (!e.name) throw new ToolError(e.path, "not a valid model name in an export's manifests/ folder");
    const f = await readManifestFile(e.path, e.name);
    for (const l of manifestBlobs(f.manifest)) digests.add(l.digest);
    yield { kind: "manifest", path: e.path, name: e.name, bytes: f.bytes };
  }
  for (const digest of digests) {
    const hex = digest.slice(7);
    for (const fileName of [`sha256-${hex}`, `sha256:${hex}`]) {
      const path = join(dir, "blobs", fileName);
      let size: number;
      try {
        const st = await stat(path);
        if (!st.isFile()) continue;
        size = st.size;
      } catch {
        continue;
      }
      yield { kind: "blob", path, digest, size, body: createReadStream(path, { highWaterMark: 1 << 20 }) };
      break;
    }
  }
}

interface PendingManifest {
  source: string;
  name: ModelName;
  bytes: Buffer;
  manifest: Manifest;
}

/**
 * Imports every model in `from`: an export folder, a `.tar`/`.tar.gz` of one, or such a tar as a
 * stream (e.g. stdin). Checks, in order:
 * names and conflicts with installed models (as soon as the manifests are known), each blob's
 * sha256 and size as it streams in (staged in the private temp folder), that every blob a manifest
 * needs is staged or already in the store; then moves the staged blobs into `blobs/` and writes the
 * manifests. A failure (or a kill) before that last step leaves `blobs/` and `manifests/` untouched.
 */
export async function importModels(modelsDir: string, from: string | TarSource, options: ImportOptions = {}): Promise<ImportResult> {
  let items: AsyncGenerator<SourceItem>;
  const source = typeof from === "string" ? from : from.label;
  if (typeof from === "string") {
    let isDir: boolean;
    try {
      isDir = (await stat(from)).isDirectory();
    } catch {
      throw new ToolError(from, "no such file or folder");
    }
    items = isDir ? folderItems(from) : tarItems({ label: from, stream: createReadStream(from, { highWaterMark: 1 << 20 }) });
  } else items = tarItems(from);
  const result: ImportResult = { models: [], blobsWritten: 0, blobsReused: 0, bytesWritten: 0, warnings: [] };
  const progress = new ProgressTracker(0, 0, options.onProgress);
  const pending: PendingManifest[] = [];
  const verified = new Set<string>();
  /** blobs written and checked in the private temp folder, moved into blobs/ only at the end */
  const staged = new Map<string, StagedBlob>();
  let conflictsChecked = false;
  let targets: Array<{ dest: ModelName; status: "imported" | "unchanged" | "replaced"; old?: Manifest }> = [];

  const checkConflicts = async () => {
    if (options.as && pending.length !== 1) {
      throw new ToolError(source, `--as needs exactly one model in the export, found ${pending.length}`);
    }
    targets = [];
    for (const p of pending) {
      const dest = await nameForWriting(modelsDir, options.as ?? p.name);
      const existing = await findExistingName(modelsDir, dest);
      if (!existing) {
        targets.push({ dest, status: "imported" });
        continue;
      }
      const current = await readManifestFile(join(modelsDir, "manifests", existing.host, existing.namespace, existing.model, existing.tag), existing);
      if (current.bytes.equals(p.bytes)) targets.push({ dest: existing, status: "unchanged" });
      else if (options.force) targets.push({ dest: existing, status: "replaced", old: current.manifest });
      else throw new ToolError(displayName(existing), "a different model with this name is already installed; pass --force to replace it");
    }
  };

  try {
    for await (const item of items) {
      if (item.kind === "skip") {
        if (item.reason) result.warnings.push(item.reason);
        continue;
      }
      if (item.kind === "manifest") {
        pending.push({ source: item.path, name: item.name, bytes: item.bytes, manifest: parseManifest(item.bytes, `${source}: ${item.path}`) });
        conflictsChecked = false;
        continue;
      }
      // a blob: the manifests seen so far are checked before the first blob is written
      if (!conflictsChecked && pending.length > 0) {
        await checkConflicts();
        conflictsChecked = true;
      }
      const declared = new Map(pending.flatMap((p) => manifestBlobs(p.manifest)).map((l) => [l.digest, l.size]));
      const declaredSize = declared.get(item.digest);
      if (declaredSize !== undefined && declaredSize !== item.size) {
        throw new ToolError(`${source}: ${item.path}`, `blob is ${item.size} bytes but the manifest says ${declaredSize}`);
      }
      progress.setTotals(declared.size, [...declared.values()].reduce((x, y) => x + y, 0));
      let blob: StagedBlob;
      try {
        blob = await stageBlobFromStream(modelsDir, progress.track(item.digest, item.body), item.digest);
      } catch (err) {
        if (err instanceof ToolError && err.subject === item.digest) {
          throw new ToolError(`${source}: ${item.path}`, `corrupt blob, refused: ${err.detail}`);
        }
        throw err;
      }
      verified.add(item.digest);
      if (blob.reused) result.blobsReused++;
      else if (staged.has(item.digest)) blob.discard(); // the same blob twice in one export
      else staged.set(item.digest, blob);
    }
    if (pending.length === 0) throw new ToolError(source, "no models found (expected manifests/<host>/<namespace>/<model>/<tag> and blobs/sha256-<hex>)");
    await checkConflicts();

    // every blob must now be in the store: verified from the export, or already there
    for (const p of pending) {
      for (const l of manifestBlobs(p.manifest)) {
        if (verified.has(l.digest)) continue;
        let size: number | undefined;
        try {
          size = (await stat(blobPath(modelsDir, l.digest))).size;
        } catch {
          size = undefined;
        }
        if (size === undefined) throw new ToolError(`${source}: ${p.source}`, `blob ${l.digest} is missing from the export`);
        if (size !== l.size) throw new ToolError(`${source}: ${p.source}`, `blob ${l.digest} is missing from the export, and the store's copy has the wrong size`);
      }
    }
  } catch (err) {
    for (const b of staged.values()) b.discard();
    throw err;
  }

  // now, under the store lock, the blobs the manifests need go into blobs/ (a few renames), the
  // others are dropped, and the manifests are written after all their blobs, together
  // (writeManifests: all fsynced first, then renamed back to back)
  const needed = new Set(pending.flatMap((p) => manifestBlobs(p.manifest).map((l) => l.digest)));
  await withStoreLock(modelsDir, async () => {
    try {
      for (const [digest, b] of staged) {
        if (!needed.has(digest)) {
          b.discard();
          continue;
        }
        await b.commit();
        if (b.reused) result.blobsReused++;
        else {
          result.blobsWritten++;
          result.bytesWritten += b.size;
        }
      }
    } catch (err) {
      for (const b of staged.values()) b.discard();
      throw err;
    }
    // names taken by another process since the first check count as well
    await checkConflicts();
    await writeManifests(
      modelsDir,
      pending.flatMap((p, i) => (targets[i].status === "unchanged" ? [] : [{ name: targets[i].dest, bytes: p.bytes }])),
    );
    for (const t of targets) result.models.push({ name: displayName(t.dest), status: t.status });
  });
  // blobs of replaced models that nothing uses any more
  const leftovers = targets.flatMap((t) => (t.old ? manifestBlobs(t.old).map((l) => l.digest) : []));
  if (leftovers.length > 0) await removeUnreferencedBlobs(modelsDir, leftovers);
  return result;
}
