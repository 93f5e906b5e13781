/**
 * A file written under a temporary name on the destination's filesystem and renamed into
 * place only when complete, so a failure or Ctrl-C never leaves a partial file behind.
 * Every open temporary file is listed in a registry that a signal handler (in src/cli) can
 * clean synchronously before the process exits.
 */
import { randomBytes } from "node:crypto";
import { unlinkSync } from "node:fs";
import { open, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { ToolError } from "./errors.ts";

const openTempFiles = new Set<string>();

/**
 * Deletes every temporary file still open in this process. Synchronous, so a SIGINT/SIGTERM
 * handler can call it right before `process.exit`.
 */
export function removeOpenTempFilesSync(): void {
  for (const path of openTempFiles) {
    try {
      unlinkSync(path);
    } catch {
      // already gone: nothing to clean
    }
  }
  openTempFiles.clear();
}

/** Paths of the temporary files open right now (for tests and diagnostics). */
export function listOpenTempFiles(): string[] {
  return [...openTempFiles];
}

export interface AtomicFile {
  /** the temporary path being written */
  readonly tempPath: string;
  readonly destPath: string;
  readonly handle: FileHandle;
  /** fsyncs, closes and renames the temporary file to destPath */
  commit(): Promise<void>;
  /** closes and deletes the temporary file; safe to call twice or after commit */
  abort(): Promise<void>;
}

/** A one-line reason for a failed file operation, without Node's "ENOENT: ..., open '/x'" noise. */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  switch (code) {
    case "ENOENT":
      return "folder does not exist";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOSPC":
      return "no space left on device";
    case "EDQUOT":
      return "disk quota exceeded";
    case "EROFS":
      return "read-only file system";
    case "EISDIR":
      return "is a directory";
    case "ENOTDIR":
      return "a parent of the path is not a folder";
    case "EXDEV":
      return "temporary folder is on another filesystem";
    default:
      return err instanceof Error ? err.message.split("\n")[0] : String(err);
  }
}

/**
 * Creates `<tempDir or dirname(destPath)>/.<name>.<random>.tmp` exclusively. tempDir must be on
 * the same filesystem as destPath (rename is atomic only there).
 */
export async function createAtomicFile(destPath: string, options: { tempDir?: string } = {}): Promise<AtomicFile> {
  // fail now rather than at the final rename, after all the work
  const existing = await stat(destPath).catch(() => undefined);
  if (existing?.isDirectory()) throw new ToolError(destPath, "cannot create the file: is a directory");
  const dir = options.tempDir ?? dirname(destPath);
  const tempPath = join(dir, `.${basename(destPath)}.${randomBytes(6).toString("hex")}.tmp`);
  let handle: FileHandle;
  try {
    handle = await open(tempPath, "wx", 0o644);
  } catch (err) {
    throw new ToolError(destPath, `cannot create the file: ${describeFsError(err)}`);
  }
  openTempFiles.add(tempPath);
  let state: "open" | "committed" | "aborted" = "open";

  return {
    tempPath,
    destPath,
    handle,
    async commit() {
      if (state !== "open") throw new Error(`${destPath}: file already ${state}`);
      try {
        await handle.sync();
        await handle.close();
        await rename(tempPath, destPath);
      } catch (err) {
        state = "aborted";
        await handle.close().catch(() => undefined);
        await unlink(tempPath).catch(() => undefined);
        openTempFiles.delete(tempPath);
        throw new ToolError(destPath, `cannot write the file: ${describeFsError(err)}`);
      }
      state = "committed";
      openTempFiles.delete(tempPath);
      await syncFolder(dirname(destPath));
    },
    async abort() {
      if (state !== "open") return;
      state = "aborted";
      await handle.close().catch(() => undefined);
      await unlink(tempPath).catch(() => undefined);
      openTempFiles.delete(tempPath);
    },
  };
}

/** Makes the rename durable; best effort, since some filesystems refuse to fsync a folder. */
async function syncFolder(dir: string): Promise<void> {
  try {
    const h = await open(dir, "r");
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // not supported here: the data itself is already fsynced
  }
}
