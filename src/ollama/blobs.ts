/**
 * Content-addressed blobs (ollama-store.md §2): `blobs/sha256-<64 lowercase hex>` holding exactly the
 * bytes whose sha256 is in the name. Every writer hashes while writing into the store's private temp
 * folder, verifies, and renames into `blobs/`; an existing blob is reused, never rewritten.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { link, open, rename, utimes } from "node:fs/promises";
import { join } from "node:path";
import { ToolError } from "../formats/errors.ts";
import { fileSize } from "../formats/file.ts";
import {
  commitStoreFile,
  discardTempPath,
  ensureStoreDir,
  releaseTempPath,
  storeFsError,
  storeTempDir,
  storeTempPath,
  trackedTempPath,
} from "./store-fs.ts";

/** A digest as Ollama writes it in manifests: `sha256:` + 64 lowercase hex digits. */
export type Digest = string;

/** `sha256:<hex>` or `sha256-<hex>` (the on-disk form), lowercase hex only: pruning compares strings exactly. */
const DIGEST_RE = /^sha256[:-]([0-9a-f]{64})$/;

/** True for `sha256:<64 lowercase hex>` or `sha256-<64 lowercase hex>`. */
export function isDigest(text: string): boolean {
  return DIGEST_RE.test(text);
}

/** Normalises `sha256-<hex>` / `sha256:<hex>` to the manifest form `sha256:<hex>`; anything else is a ToolError. */
export function parseDigest(text: string): Digest {
  const m = DIGEST_RE.exec(text);
  if (!m) throw new ToolError(text, "not a blob digest (expected sha256:<64 lowercase hex digits>)");
  return `sha256:${m[1]}`;
}

/** The blob's file name, `sha256-<hex>` (Windows-safe: no `:`). */
export function blobFileName(digest: string): string {
  return `sha256-${parseDigest(digest).slice(7)}`;
}

/**
 * `<modelsDir>/blobs/sha256-<hex>`. Only a well-formed digest is accepted, so nothing read from a
 * manifest or a tar can name a path outside `blobs/`.
 */
export function blobPath(modelsDir: string, digest: string): string {
  return join(modelsDir, "blobs", blobFileName(digest));
}

/** Bytes to store: chunks from an async iterable (a Node Readable is one) or a plain array/iterable. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface BlobWriteResult {
  /** `sha256:<hex>` */
  digest: Digest;
  /** byte length of the blob */
  size: number;
  /** true when the blob was already in the store and was kept as it is */
  reused: boolean;
}

/** sha256 and length of a stream, without storing it. */
export async function hashStream(source: ByteSource): Promise<{ digest: Digest; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of source) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { digest: `sha256:${hash.digest("hex")}`, size };
}

/** sha256 and length of a file, read in 1 MiB chunks. */
export async function hashFile(path: string): Promise<{ digest: Digest; size: number }> {
  return hashStream(createReadStream(path, { highWaterMark: 1 << 20 }));
}

/**
 * A stored blob's bytes in 1 MiB chunks, checked against its name as they go: after the last chunk
 * the sha256 (and `expectedSize`, when given) must match, else a ToolError is thrown, so a writer
 * fed from this aborts instead of completing a copy of a corrupt blob.
 */
export async function* readBlobVerified(modelsDir: string, digest: string, expectedSize?: number): AsyncGenerator<Buffer> {
  const d = parseDigest(digest);
  const path = blobPath(modelsDir, d);
  const hash = createHash("sha256");
  let size = 0;
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
      yield chunk;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new ToolError(d, "blob is missing from the store (run gguf-tool verify)");
    throw storeFsError(err, path, "read a blob");
  } finally {
    stream.destroy();
  }
  const got = `sha256:${hash.digest("hex")}`;
  if (got !== d) throw new ToolError(d, `blob in the store is corrupt: its content hashes to ${got} (run gguf-tool verify)`);
  if (expectedSize !== undefined && size !== expectedSize) {
    throw new ToolError(d, `blob is ${size} bytes but the manifest says ${expectedSize}`);
  }
}

/** Ollama's `touchLayer`: a reused blob gets a fresh mtime so the 1 h prune grace period starts again. */
async function touchBlob(path: string): Promise<void> {
  const now = new Date();
  try {
    await utimes(path, now, now);
  } catch {
    /* not ours to touch (another owner): harmless, the manifest protects it anyway */
  }
}

function mismatch(expected: Digest, actual: Digest): ToolError {
  return new ToolError(expected, `content does not match its digest (its sha256 is ${actual})`);
}

/** A blob written and verified in the private temp folder, not yet visible in `blobs/`. */
export interface StagedBlob extends BlobWriteResult {
  /** renames it into `blobs/` (or drops it if that blob appeared meanwhile); idempotent */
  commit(): Promise<void>;
  /** removes the staged file (nothing in `blobs/` changes); idempotent */
  discard(): void;
}

/**
 * Hashes a stream while writing it into the private temp folder and checks `expectedDigest` when
 * given, without touching `blobs/` yet: an import stages every blob first and commits them all at
 * the end, so a failure or a kill before that leaves `blobs/` exactly as it was. With
 * `expectedDigest` and the blob already present, the source is only hashed (to check it) and
 * nothing is staged (`reused`). A mismatch or an error leaves nothing behind.
 */
export async function stageBlobFromStream(modelsDir: string, source: ByteSource, expectedDigest?: string): Promise<StagedBlob> {
  const expected = expectedDigest === undefined ? undefined : parseDigest(expectedDigest);
  await ensureStoreDir(modelsDir, "blobs");
  if (expected !== undefined) {
    const target = blobPath(modelsDir, expected);
    if ((await fileSize(target)) !== undefined) {
      const got = await hashStream(source);
      if (got.digest !== expected) throw mismatch(expected, got.digest);
      await touchBlob(target);
      return { ...got, reused: true, commit: async () => undefined, discard: () => undefined };
    }
  }
  const temp = await storeTempPath(modelsDir, ".blob");
  const hash = createHash("sha256");
  let size = 0;
  try {
    const fh = await open(temp, "wx", 0o644);
    try {
      for await (const chunk of source) {
        hash.update(chunk);
        let off = 0;
        while (off < chunk.byteLength) {
          const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
          off += bytesWritten;
        }
        size += chunk.byteLength;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    discardTempPath(temp);
    throw err instanceof ToolError ? err : storeFsError(err, temp, "write a blob");
  }
  const digest = `sha256:${hash.digest("hex")}`;
  if (expected !== undefined && digest !== expected) {
    discardTempPath(temp);
    throw mismatch(expected, digest);
  }
  let state: "staged" | "committed" | "discarded" = "staged";
  const staged: StagedBlob = {
    digest,
    size,
    reused: false,
    async commit() {
      if (state !== "staged") return;
      state = "committed";
      staged.reused = await moveIntoBlobs(modelsDir, temp, digest);
    },
    discard() {
      if (state !== "staged") return;
      state = "discarded";
      discardTempPath(temp);
    },
  };
  return staged;
}

/**
 * Stores a stream as a blob: {@link stageBlobFromStream}, then straight into `blobs/`. An existing
 * blob is reused, not rewritten.
 */
export async function writeBlobFromStream(modelsDir: string, source: ByteSource, expectedDigest?: string): Promise<BlobWriteResult> {
  const staged = await stageBlobFromStream(modelsDir, source, expectedDigest);
  await staged.commit();
  return { digest: staged.digest, size: staged.size, reused: staged.reused };
}

/** Stores bytes already in memory (config, template, params... layers) as a blob. */
export async function writeBlobBytes(modelsDir: string, bytes: Uint8Array): Promise<BlobWriteResult> {
  return writeBlobFromStream(modelsDir, [bytes]);
}

/** Renames a complete temp file to its blob name, or drops it when that blob already exists. */
async function moveIntoBlobs(modelsDir: string, temp: string, digest: Digest): Promise<boolean> {
  const target = blobPath(modelsDir, digest);
  if ((await fileSize(target)) !== undefined) {
    discardTempPath(temp);
    await touchBlob(target);
    return true;
  }
  await commitStoreFile(modelsDir, temp, target);
  return false;
}

/**
 * Places a file the caller already wrote and hashed (e.g. the GGUF writer, which hashes as it
 * writes) as blob `digest`. `tempFilePath` must be on the store's filesystem, normally in
 * {@link storeTempDir}; it is renamed (not copied) and is gone afterwards either way. The content is
 * trusted to match `digest`: hash it while writing.
 */
export async function placeBlobFile(modelsDir: string, tempFilePath: string, digest: string): Promise<BlobWriteResult> {
  const d = parseDigest(digest);
  await ensureStoreDir(modelsDir, "blobs");
  const size = await fileSize(tempFilePath);
  if (size === undefined) throw new ToolError(tempFilePath, "the file to place in the store does not exist");
  return { digest: d, size, reused: await moveIntoBlobs(modelsDir, tempFilePath, d) };
}

/**
 * `--link`: stores `ggufPath` as a blob by hard link when it is on the store's filesystem (no copy,
 * no extra disk space), else by copying. The link is made first and the linked inode is hashed, so
 * the blob name always matches what was hashed; but the blob and the original are then one file,
 * which must never be modified through the original path. Mode and owner are left as they are
 * (changing them would change the original too).
 */
export async function linkBlob(modelsDir: string, ggufPath: string): Promise<BlobWriteResult & { linked: boolean }> {
  await ensureStoreDir(modelsDir, "blobs");
  const temp = trackedTempPath(await storeTempDir(modelsDir), ".link");
  try {
    await link(ggufPath, temp);
  } catch (err) {
    releaseTempPath(temp);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ToolError(ggufPath, "no such file");
    if (code === "EXDEV" || code === "EPERM" || code === "ENOTSUP" || code === "EMLINK") {
      // another filesystem, or one without hard links: copy instead
      const copied = await writeBlobFromStream(modelsDir, createReadStream(ggufPath, { highWaterMark: 1 << 20 }));
      return { ...copied, linked: false };
    }
    throw storeFsError(err, temp, "hard-link the file into the store");
  }
  let hashed: { digest: Digest; size: number };
  try {
    hashed = await hashFile(temp);
  } catch (err) {
    discardTempPath(temp);
    throw storeFsError(err, ggufPath, "read the file");
  }
  const target = blobPath(modelsDir, hashed.digest);
  if ((await fileSize(target)) !== undefined) {
    discardTempPath(temp);
    await touchBlob(target);
    return { ...hashed, reused: true, linked: false };
  }
  try {
    await rename(temp, target);
    releaseTempPath(temp);
  } catch (err) {
    discardTempPath(temp);
    throw storeFsError(err, target, "write into the store");
  }
  return { ...hashed, reused: false, linked: true };
}
