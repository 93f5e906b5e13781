/**
 * Maintaining the store as Ollama does, without the server: `cp` (the manifest copied byte for
 * byte), `rm` (manifest, then blobs no other manifest uses, then empty folders), `verify` (re-hash
 * every referenced blob) and `prune` (orphaned blobs and leftover temporary files).
 */
import { createReadStream } from "node:fs";
import { readdir, rm, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { blobPath, hashStream, isDigest, parseDigest } from "./blobs.ts";
import { type Layer, type ManifestFile, manifestBlobs, nameForWriting, readManifest, writeManifest } from "./manifest.ts";
import { displayName, type ModelName } from "./names.ts";
import { type OnStoreProgress, ProgressTracker } from "./progress.ts";
import { isProcessAlive, STORE_LOCK_NAME, STORE_TEMP_DIR_NAME, storeFsError, withStoreLock } from "./store-fs.ts";
import { readAllManifests, referencedDigests } from "./store-read.ts";

/** `ollama cp`: writes the source manifest's exact bytes under the destination name (no blob is copied). */
export async function copyModel(modelsDir: string, source: ModelName, destination: ModelName): Promise<{ from: ModelName; to: ModelName }> {
  const src = await readManifest(modelsDir, source);
  const to = await nameForWriting(modelsDir, destination);
  await writeManifest(modelsDir, to, src.bytes);
  return { from: src.name, to };
}

export interface RemovedBlob {
  digest: string;
  size: number;
}

export interface BlobCleanup {
  removed: RemovedBlob[];
  /** blobs kept because another manifest uses them */
  shared: string[];
  /** set when nothing was deleted because some manifest could not be read (it might use them) */
  keptBecauseUnreadable?: string[];
}

/**
 * Deletes those of `digests` that no readable manifest references. When some manifest cannot be
 * read, nothing is deleted (it may reference them), unlike Ollama, which ignores such manifests.
 * Runs under the store lock, so a manifest another gguf-tool process is committing is either seen
 * here (and its blobs kept) or written after, by a writer that then finds its blob gone and fails
 * instead of leaving a broken model (see writeManifest).
 */
export async function removeUnreferencedBlobs(modelsDir: string, digests: Iterable<string>): Promise<BlobCleanup> {
  return withStoreLock(modelsDir, () => removeUnreferencedBlobsLocked(modelsDir, digests));
}

async function removeUnreferencedBlobsLocked(modelsDir: string, digests: Iterable<string>): Promise<BlobCleanup> {
  const { manifests, unreadable } = await readAllManifests(modelsDir);
  const used = referencedDigests(manifests);
  const result: BlobCleanup = { removed: [], shared: [] };
  const candidates = [...new Set(digests)];
  if (unreadable.length > 0) {
    result.keptBecauseUnreadable = unreadable.map((u) => u.path);
    return result;
  }
  for (const d of candidates) {
    if (used.has(d)) {
      result.shared.push(d);
      continue;
    }
    const p = blobPath(modelsDir, d);
    try {
      const { size } = await stat(p);
      await unlink(p);
      result.removed.push({ digest: d, size });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw storeFsError(err, p, "delete a blob");
    }
  }
  return result;
}

/** Removes empty folders from `dir` up to, not including, `stopAt`. */
async function removeEmptyDirsUpTo(dir: string, stopAt: string): Promise<void> {
  for (let d = dir; d.startsWith(stopAt) && d !== stopAt; d = dirname(d)) {
    try {
      await rmdir(d);
    } catch {
      return; // not empty, or gone
    }
  }
}

export interface RemoveResult extends BlobCleanup {
  /** the name as it was stored */
  name: ModelName;
}

/**
 * `ollama rm`: deletes the manifest (found case-insensitively), then its blobs that no other
 * manifest references, then the folders it leaves empty under `manifests/`.
 */
export async function removeModel(modelsDir: string, name: ModelName): Promise<RemoveResult> {
  return withStoreLock(modelsDir, async () => {
    const file = await readManifest(modelsDir, name);
    try {
      await unlink(file.path);
    } catch (err) {
      throw storeFsError(err, file.path, "delete the manifest");
    }
    await removeEmptyDirsUpTo(dirname(file.path), join(modelsDir, "manifests"));
    const cleanup = await removeUnreferencedBlobs(
      modelsDir,
      manifestBlobs(file.manifest).map((l) => l.digest),
    );
    return { name: file.name, ...cleanup };
  });
}

/** A blob that a model needs but that is missing or does not hash to its name. */
export interface BlobProblem {
  digest: string;
  problem: "missing" | "corrupt";
  /** what is wrong, one line */
  detail: string;
  mediaType: string;
  /** display names of the models that need this blob */
  models: string[];
}

export interface VerifyResult {
  /** display names of the models checked, with whether all their blobs are sound */
  models: Array<{ name: string; ok: boolean }>;
  problems: BlobProblem[];
  /** manifests that could not be read (when verifying the whole store) */
  unreadable: Array<{ path: string; reason: string }>;
  blobsChecked: number;
  bytesChecked: number;
}

/**
 * Re-hashes every blob the given models (default: every model) reference, each blob once, and
 * reports missing or corrupt ones with the models they break. `onProgress` sees every chunk hashed.
 */
export async function verifyStore(
  modelsDir: string,
  names?: ModelName[],
  onProgress?: OnStoreProgress,
): Promise<VerifyResult> {
  let manifests: ManifestFile[];
  let unreadable: VerifyResult["unreadable"] = [];
  if (names && names.length > 0) manifests = await Promise.all(names.map((n) => readManifest(modelsDir, n)));
  else ({ manifests, unreadable } = await readAllManifests(modelsDir));

  const users = new Map<string, { layer: Layer; models: string[] }>();
  for (const m of manifests) {
    for (const l of manifestBlobs(m.manifest)) {
      const u = users.get(l.digest) ?? { layer: l, models: [] };
      if (!u.models.includes(displayName(m.name))) u.models.push(displayName(m.name));
      users.set(l.digest, u);
    }
  }
  const problems: BlobProblem[] = [];
  let bytesChecked = 0;
  const progress = new ProgressTracker(users.size, [...users.values()].reduce((s, u) => s + u.layer.size, 0), onProgress);
  for (const [digest, { layer, models }] of users) {
    const path = blobPath(modelsDir, digest);
    const report = (problem: BlobProblem["problem"], detail: string) =>
      problems.push({ digest, problem, detail, mediaType: layer.mediaType, models });
    try {
      const st = await stat(path);
      if (!st.isFile()) {
        report("corrupt", "is not a regular file");
        continue;
      }
    } catch {
      report("missing", "blob file is missing");
      continue;
    }
    let hashed;
    try {
      hashed = await hashStream(progress.track(digest, createReadStream(path, { highWaterMark: 1 << 20 })));
    } catch (err) {
      throw storeFsError(err, path, "read a blob");
    }
    bytesChecked += hashed.size;
    if (hashed.digest !== digest) report("corrupt", `content hashes to ${hashed.digest} (${hashed.size} bytes)`);
    else if (hashed.size !== layer.size) report("corrupt", `is ${hashed.size} bytes but the manifest says ${layer.size}`);
  }
  const broken = new Set(problems.flatMap((p) => p.models));
  return {
    models: manifests.map((m) => ({ name: displayName(m.name), ok: !broken.has(displayName(m.name)) })),
    problems,
    unreadable,
    blobsChecked: users.size,
    bytesChecked,
  };
}

/** Something `prune` can delete. */
export interface PruneItem {
  path: string;
  /** bytes (a folder: the total of its files) */
  size: number;
  kind: "orphaned blob" | "Ollama partial download" | "Ollama temporary file" | "gguf-tool temporary file";
  mtime: Date;
}

export interface PrunePlan {
  /** what `--yes` deletes */
  items: PruneItem[];
  /** candidates younger than the grace period, kept (a writer may still be using them) */
  recent: PruneItem[];
  /** orphaned blobs not offered because these manifests cannot be read (they might use them) */
  unreadable: Array<{ path: string; reason: string }>;
  heldBackOrphans: number;
}

/** Ollama's startup prune grace period (since v0.21): younger files may belong to a write in progress. */
export const PRUNE_GRACE_MS = 3_600_000;

async function sizeOf(path: string): Promise<number> {
  const st = await stat(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const e of await readdir(path)) total += await sizeOf(join(path, e)).catch(() => 0);
  return total;
}

/** Leftovers of a gguf-tool writer that died (`<pid>-<hex>.<kind>` with no such live process). */
function isStaleOwnTemp(name: string, mtime: Date, now: number, graceMs: number): boolean {
  const m = /^(\d+)-[0-9a-f]+\./.exec(name);
  if (m) return !isProcessAlive(Number(m[1])) || now - mtime.getTime() > 24 * 3_600_000;
  return now - mtime.getTime() > graceMs;
}

/**
 * What `prune` would delete: blobs no readable manifest references, Ollama's leftover partial
 * downloads and temp files in `blobs/` (and its `ollama-safetensors*` temp folders), and dead
 * gguf-tool temp files. Anything modified within `graceMs` is only reported as recent. When a
 * manifest cannot be read, orphaned blobs are held back (Ollama likewise skips pruning).
 */
export async function planPrune(modelsDir: string, graceMs = PRUNE_GRACE_MS, now = Date.now()): Promise<PrunePlan> {
  const { manifests, unreadable } = await readAllManifests(modelsDir);
  const used = referencedDigests(manifests);
  const plan: PrunePlan = { items: [], recent: [], unreadable, heldBackOrphans: 0 };
  const consider = async (path: string, kind: PruneItem["kind"], stale?: (mtime: Date) => boolean) => {
    let st;
    try {
      st = await stat(path);
    } catch {
      return;
    }
    const item: PruneItem = { path, size: await sizeOf(path).catch(() => 0), kind, mtime: st.mtime };
    const isStale = stale ? stale(st.mtime) : now - st.mtime.getTime() >= graceMs;
    (isStale ? plan.items : plan.recent).push(item);
  };

  const blobsDir = join(modelsDir, "blobs");
  const blobEntries = await readdir(blobsDir, { withFileTypes: true }).catch(() => []);
  for (const e of blobEntries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(blobsDir, e.name);
    if (e.isDirectory()) {
      if (e.name.startsWith("split-gguf-")) await consider(path, "Ollama temporary file");
      continue;
    }
    if (/^sha256-[0-9a-f]{64}$/.test(e.name)) {
      if (used.has(parseDigest(e.name))) continue;
      if (unreadable.length > 0) plan.heldBackOrphans++;
      else await consider(path, "orphaned blob");
    } else if (isDigest(e.name.replace(/^sha256:/, "sha256-"))) {
      continue; // `sha256:<hex>`: Ollama renames it to sha256-<hex> at startup (fixBlobs); not ours to delete
    } else {
      await consider(path, /-partial(-\d+)?$/.test(e.name) ? "Ollama partial download" : "Ollama temporary file");
    }
  }
  for (const e of await readdir(modelsDir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory() && e.name.startsWith("ollama-safetensors")) await consider(join(modelsDir, e.name), "Ollama temporary file");
  }
  const ownTemp = join(modelsDir, STORE_TEMP_DIR_NAME);
  for (const name of (await readdir(ownTemp).catch(() => [] as string[])).sort()) {
    if (name === STORE_LOCK_NAME) continue; // the lock clears itself when its holder is gone
    await consider(join(ownTemp, name), "gguf-tool temporary file", (mtime) => isStaleOwnTemp(name, mtime, now, graceMs));
  }
  return plan;
}

/**
 * Deletes the plan's items. The manifests are read again first, and any blob a readable manifest
 * now references is skipped, so a model installed since the plan keeps its blobs.
 */
export async function executePrune(modelsDir: string, plan: PrunePlan): Promise<{ deleted: PruneItem[]; bytes: number }> {
  return withStoreLock(modelsDir, async () => {
    const { manifests, unreadable } = await readAllManifests(modelsDir);
    const used = referencedDigests(manifests);
    const deleted: PruneItem[] = [];
    for (const item of plan.items) {
      if (item.kind === "orphaned blob") {
        const name = item.path.slice(item.path.lastIndexOf("sha256-"));
        if (unreadable.length > 0 || used.has(parseDigest(name))) continue;
      }
      try {
        await rm(item.path, { recursive: true, force: true });
        deleted.push(item);
      } catch (err) {
        throw storeFsError(err, item.path, "delete");
      }
    }
    return { deleted, bytes: deleted.reduce((s, i) => s + i.size, 0) };
  });
}
