/**
 * File-system plumbing shared by everything that writes the store: the private temp folder, temp
 * files that disappear on failure or Ctrl-C, folders and files owned like the models dir,
 * permission errors turned into one clear line, and the store lock that orders manifest writes
 * against blob deletions across processes.
 */
import { randomBytes } from "node:crypto";
import { AsyncLocalStorage } from "node:async_hooks";
import { chmodSync, chownSync, renameSync, rmSync, statSync, unlinkSync } from "node:fs";
import { chown, link, mkdir, open, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { ToolError } from "../formats/errors.ts";

/**
 * Our private scratch folder, directly under the models dir: the same filesystem as `blobs/` (so a
 * rename is atomic) but outside `blobs/` and `manifests/`, where Ollama deletes or parses stray files.
 */
export const STORE_TEMP_DIR_NAME = ".gguf-tool-tmp";

/** Mode Ollama gives its store folders and files (ollama-store.md §1). */
export const STORE_DIR_MODE = 0o755;
export const STORE_FILE_MODE = 0o644;

interface Owner {
  uid: number;
  gid: number;
}

const ownerCache = new Map<string, Owner | null>();

/**
 * The owner new store files must get: when running as root, the models dir's uid/gid (the Linux
 * service runs as `ollama` and could not delete root-owned files); otherwise null (files are ours).
 */
function storeOwner(modelsDir: string): Owner | null {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return null;
  let owner = ownerCache.get(modelsDir);
  if (owner === undefined) {
    try {
      const st = statSync(modelsDir);
      owner = st.uid === 0 && st.gid === 0 ? null : { uid: st.uid, gid: st.gid };
    } catch {
      return null; // not created yet: we create it, as root
    }
    ownerCache.set(modelsDir, owner);
  }
  return owner;
}

/** Gives `path` the models dir's owner when running as root (no-op otherwise). */
export async function applyStoreOwner(modelsDir: string, path: string): Promise<void> {
  const owner = storeOwner(modelsDir);
  if (owner) await chown(path, owner.uid, owner.gid);
}

/**
 * Turns a file-system error into a one-line ToolError: a permission error names the folder, its
 * owner and mode, and the permission that is missing (read for `action`s that start with "read",
 * else write); anything else keeps Node's reason without the stack.
 */
export function storeFsError(err: unknown, path: string, action: string): ToolError {
  if (err instanceof ToolError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e.code === "EACCES" || e.code === "EPERM") {
    const reading = action.startsWith("read");
    const dir = reading ? path : nearestExistingDir(path);
    let ownerInfo = "";
    try {
      const st = statSync(dir);
      ownerInfo = ` (owned by uid ${st.uid}, gid ${st.gid}, mode ${(st.mode & 0o777).toString(8)})`;
    } catch {
      /* the owner is a hint only */
    }
    return new ToolError(
      path,
      `cannot ${action}: ${reading ? "read" : "write"} permission denied on ${dir}${ownerInfo}; run as the store's owner ` +
        `(e.g. sudo -u ollama for the Linux service) or as root, which keeps that owner`,
    );
  }
  if (e.code === "ENOSPC") return new ToolError(path, `no space left on the device while trying to ${action}`);
  if (e.code === "EROFS") return new ToolError(path, `read-only file system: cannot ${action}`);
  return new ToolError(path, `cannot ${action}: ${e.message ?? String(err)}`);
}

function nearestExistingDir(path: string): string {
  let dir = dirname(path);
  for (;;) {
    try {
      if (statSync(dir).isDirectory()) return dir;
    } catch {
      /* keep going up */
    }
    const up = dirname(dir);
    if (up === dir) return dir;
    dir = up;
  }
}

/**
 * Creates `<modelsDir>/<...parts>` and every missing folder between, mode 0755 and owned like the
 * models dir when running as root. The models dir itself is created if missing.
 */
export async function ensureStoreDir(modelsDir: string, ...parts: string[]): Promise<string> {
  const target = join(modelsDir, ...parts);
  try {
    const first = await mkdir(target, { recursive: true, mode: STORE_DIR_MODE });
    if (first !== undefined && storeOwner(modelsDir)) {
      // chown every folder mkdir created, from the first new one down to the target
      const rel = relative(first, target);
      let dir = first;
      await applyStoreOwner(modelsDir, dir);
      for (const p of rel === "" ? [] : rel.split(sep)) {
        dir = join(dir, p);
        await applyStoreOwner(modelsDir, dir);
      }
    }
  } catch (err) {
    throw storeFsError(err, target, "create a folder");
  }
  return target;
}

/** Creates (if needed) and returns the store's private temp folder `<modelsDir>/.gguf-tool-tmp`. */
export async function storeTempDir(modelsDir: string): Promise<string> {
  return ensureStoreDir(modelsDir, STORE_TEMP_DIR_NAME);
}

/**
 * Temp files that exist right now; removed at process exit if still there. The CLI's SIGINT/SIGTERM
 * handler (src/cli/signals.ts) ends with `process.exit`, which runs this too.
 */
const liveTempFiles = new Set<string>();
let cleanupInstalled = false;

function removeLiveTempFilesSync(): void {
  for (const p of liveTempFiles) {
    try {
      rmSync(p, { force: true, recursive: true });
    } catch {
      /* best effort on the way out */
    }
  }
  liveTempFiles.clear();
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on("exit", removeLiveTempFilesSync);
}

/**
 * A fresh temp path `<dir>/<pid>-<random><suffix>` (the pid lets `prune` tell a crashed writer's
 * leftovers from a live one's). It is removed at exit (Ctrl-C included) unless {@link releaseTempPath}
 * was called after it was renamed into place.
 */
export function trackedTempPath(dir: string, suffix = ".tmp"): string {
  installCleanup();
  const path = join(dir, `${process.pid}-${randomBytes(6).toString("hex")}${suffix}`);
  liveTempFiles.add(path);
  return path;
}

/** Forgets a temp path (it was renamed into place, or already removed). */
export function releaseTempPath(path: string): void {
  liveTempFiles.delete(path);
}

/** Removes a temp path now (ignoring "already gone") and forgets it. */
export function discardTempPath(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
  liveTempFiles.delete(path);
}

/** A temp path in the store's private temp folder (created if needed). */
export async function storeTempPath(modelsDir: string, suffix = ".tmp"): Promise<string> {
  return trackedTempPath(await storeTempDir(modelsDir), suffix);
}

/**
 * Gives a finished temp file the store's mode and owner, then renames it to `target` (atomic: the
 * target is either absent or complete). The target's folder must exist.
 */
export async function commitStoreFile(modelsDir: string, tempPath: string, target: string): Promise<void> {
  commitStoreFiles(modelsDir, [{ tempPath, target }]);
}

/**
 * commitStoreFile for several files (the manifests of one import): modes and owners first, then the
 * renames back to back, synchronous, nothing in between. The targets change together: only a
 * process killed within those few system calls leaves some of them new and some old. On an error,
 * the files not renamed yet are removed.
 */
export function commitStoreFiles(modelsDir: string, files: ReadonlyArray<{ tempPath: string; target: string }>): void {
  let at = files[0]?.target ?? modelsDir;
  try {
    const owner = storeOwner(modelsDir);
    for (const f of files) {
      at = f.target;
      chmodSync(f.tempPath, STORE_FILE_MODE);
      if (owner) chownSync(f.tempPath, owner.uid, owner.gid);
    }
    for (const f of files) {
      at = f.target;
      renameSync(f.tempPath, f.target);
      releaseTempPath(f.tempPath);
    }
  } catch (err) {
    for (const f of files) discardTempPath(f.tempPath);
    throw storeFsError(err, at, "write into the store");
  }
}

/** True when a process with this pid is alive on this machine (used to spot stale temp files). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}


/** The store lock's file name, in the private temp folder. */
export const STORE_LOCK_NAME = "store.lock";
/** A lock older than this belongs to a holder that died (critical sections take milliseconds). */
const STALE_LOCK_MS = 10 * 60_000;
/**
 * A lock without a pid older than this is stale: it can only come from a filesystem without hard
 * links, where the lock is created first and its pid written a moment later (see createLock).
 */
const EMPTY_LOCK_MS = 2_000;
/** link() errors of filesystems without hard links (FAT, exFAT, some network shares). */
const NO_HARD_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV"]);
/** How long to wait for another process's lock before giving up. */
const LOCK_WAIT_MS = 120_000;

/** Lock files held by the current async call chain (the lock is re-entrant within one chain). */
const heldLocks = new AsyncLocalStorage<ReadonlySet<string>>();

/**
 * Creates the lock file holding this process's pid, or returns false when it exists. The pid is
 * written to a temp file first, which is then hard-linked to the lock's name (link fails if that
 * exists): the lock never exists without its pid, so a holder killed at any moment leaves either
 * no lock or one naming a dead process. Without hard links the lock is created exclusively and
 * the pid written into it, so a kill in between leaves it empty (stale after EMPTY_LOCK_MS).
 */
async function createLock(lockPath: string): Promise<boolean> {
  const temp = trackedTempPath(dirname(lockPath), ".lock");
  try {
    await writeFile(temp, `${process.pid}\n`, { flag: "wx", mode: STORE_FILE_MODE });
    try {
      await link(temp, lockPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "";
      if (code === "EEXIST") return false;
      if (!NO_HARD_LINKS.has(code)) throw err;
      const fh = await open(lockPath, "wx", STORE_FILE_MODE).catch((e: NodeJS.ErrnoException) => {
        if (e.code === "EEXIST") return undefined;
        throw e;
      });
      if (!fh) return false;
      liveTempFiles.add(lockPath);
      try {
        await fh.writeFile(`${process.pid}\n`);
      } finally {
        await fh.close();
      }
      return true;
    }
    liveTempFiles.add(lockPath);
    return true;
  } finally {
    discardTempPath(temp);
  }
}

async function acquireLock(modelsDir: string, lockPath: string): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      if (await createLock(lockPath)) return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw storeFsError(err, lockPath, "lock the store");
      await storeTempDir(modelsDir); // the private folder was removed: create it again
      continue;
    }
    let holder = Number.NaN;
    let age = 0;
    try {
      holder = Number.parseInt(await readFile(lockPath, "utf8"), 10);
      age = Date.now() - (await stat(lockPath)).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    // a dead pid, a very old lock, or one without a pid for longer than it takes to write one is stale
    const stale = Number.isInteger(holder) ? !isProcessAlive(holder) : age > EMPTY_LOCK_MS;
    if (stale || age > STALE_LOCK_MS) {
      await unlink(lockPath).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) {
      throw new ToolError(modelsDir, `the store is locked by process ${holder} (${lockPath}); if no gguf-tool is running, delete that file`);
    }
    await new Promise((r) => setTimeout(r, 10 + Math.random() * 30));
  }
}

/**
 * Runs `fn` holding the store lock: a file created exclusively in the private temp folder, so that
 * gguf-tool processes (and concurrent calls in one process) take turns. It guards the short steps
 * where blobs and manifests must agree: writing a manifest after checking its blobs, and deleting
 * unreferenced blobs after reading the manifests. Re-entrant within one call chain. A holder killed
 * with `kill -9` leaves a lock that the next process sees as stale (dead pid) and removes: the lock
 * appears with the pid already in it (createLock).
 */
export async function withStoreLock<T>(modelsDir: string, fn: () => Promise<T>): Promise<T> {
  const lockPath = join(await storeTempDir(modelsDir), STORE_LOCK_NAME);
  const held = heldLocks.getStore();
  if (held?.has(lockPath)) return fn();
  await acquireLock(modelsDir, lockPath);
  try {
    return await heldLocks.run(new Set([...(held ?? []), lockPath]), fn);
  } finally {
    discardTempPath(lockPath);
  }
}
