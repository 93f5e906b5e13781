/**
 * Opening and positioned reads for the readers, with the errors a user understands
 * (missing file, a folder, no permission, a file that shrank while we read it).
 */
import { open, stat, type FileHandle } from "node:fs/promises";
import { ToolError } from "./errors.ts";

export interface OpenedFile {
  handle: FileHandle;
  size: number;
}

/** Turns an fs error into a one-line ToolError about `path`; other errors pass through. */
export function fsError(path: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT": return new ToolError(path, "no such file or directory");
    case "EACCES":
    case "EPERM": return new ToolError(path, "permission denied");
    case "EISDIR": return new ToolError(path, "is a directory, not a file");
    case "ENOTDIR": return new ToolError(path, "a part of the path is not a directory");
    case "ELOOP": return new ToolError(path, "too many symbolic links");
    case "EIO": return new ToolError(path, "input/output error while reading");
    default: return err;
  }
}

/** Opens a regular file for reading and returns its handle and size. */
export async function openRegularFile(path: string): Promise<OpenedFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (err) {
    throw fsError(path, err);
  }
  try {
    const st = await handle.stat();
    if (st.isDirectory()) throw new ToolError(path, "is a directory, not a file");
    if (!st.isFile()) throw new ToolError(path, "is not a regular file");
    return { handle, size: st.size };
  } catch (err) {
    await handle.close();
    throw fsError(path, err);
  }
}

/** Runs `fn` with the opened file and always closes it. */
export async function withRegularFile<T>(path: string, fn: (file: OpenedFile) => Promise<T>): Promise<T> {
  const file = await openRegularFile(path);
  try {
    return await fn(file);
  } finally {
    await file.handle.close();
  }
}

/** Fills `buf[offset, offset+length)` from file `position`; a short read means the file shrank. */
export async function readExactly(path: string, handle: FileHandle, buf: Buffer, offset: number, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(buf, offset + done, length - done, position + done));
    } catch (err) {
      throw fsError(path, err);
    }
    if (bytesRead === 0) throw new ToolError(path, `file ended at byte ${position + done} while reading (was it changed?)`);
    done += bytesRead;
  }
}

/** What is at `path`: a regular file, a folder, or nothing (or something else: undefined too). */
export async function pathKind(path: string): Promise<"file" | "dir" | undefined> {
  try {
    const st = await stat(path);
    return st.isDirectory() ? "dir" : st.isFile() ? "file" : undefined;
  } catch {
    return undefined;
  }
}

/** The size of the regular file at `path`, or undefined when there is none. */
export async function fileSize(path: string): Promise<number | undefined> {
  try {
    const st = await stat(path);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}
