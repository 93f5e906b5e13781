/**
 * Streaming GGUF writer: the header (with every tensor's offset computed up front from its type
 * and shape) goes out first, then the tensors' bytes as the caller produces them, each tensor
 * padded with zeros to the alignment (the last one too, as ggml and gguf-py do). The file is
 * written under a temporary name and renamed into place by `finish()`; the sha256 of the file is
 * computed while writing, so callers (the Ollama installer) get the digest without a second read.
 */
import { createHash, type Hash } from "node:crypto";
import { createAtomicFile, describeFsError, type AtomicFile } from "../atomic-file.ts";
import { ToolError } from "../errors.ts";
import { encodeGgufHeader } from "./header-encoder.ts";
import {
  GGML_TYPE_TRAITS,
  GGUF_DEFAULT_ALIGNMENT,
  GgufValueType,
  ggmlTypeName,
  type GgmlType,
  type GgufMetadata,
} from "./types.ts";

export interface GgufWriterTensor {
  name: string;
  /** dimensions, ne0 (the row length) first; written as given */
  shape: number[];
  type: GgmlType;
}

export interface GgufWriterHeader {
  metadata: GgufMetadata;
  tensors: GgufWriterTensor[];
  /** defaults to `general.alignment` from the metadata, else 32 */
  alignment?: number;
  /** GGUF version, 3 unless given */
  version?: number;
}

export interface GgufWriterResult {
  path: string;
  size: number;
  sha256: string;
}

export interface GgufWriter {
  /**
   * append the next bytes of the current tensor, in tensor order; the writer pads between tensors.
   * One call at a time (await each); `bytes` may be reused once the promise resolves.
   */
  writeTensorData(bytes: Uint8Array): Promise<void>;
  /** checks every tensor got exactly its size, flushes, fsyncs, renames the temp file to destPath */
  finish(): Promise<GgufWriterResult>;
  /** deletes the temp file; safe to call after an error or twice */
  abort(): Promise<void>;
}

/** ggml's GGML_MAX_NAME: names of 64 bytes or more are rejected by llama.cpp. */
const MAX_TENSOR_NAME_BYTES = 63;
const MAX_DIMS = 4;
/** Big enough that a write is a few MB, small enough not to matter next to a tensor chunk. */
const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

/** Byte size of a tensor's data; throws a ToolError when the shape does not fit the type. */
export function ggufTensorByteSize(subject: string, t: GgufWriterTensor): number {
  const traits = GGML_TYPE_TRAITS[t.type];
  if (!traits) throw new ToolError(subject, `tensor ${t.name}: cannot size ggml type ${ggmlTypeName(t.type)}`);
  if (t.shape.length === 0 || t.shape.length > MAX_DIMS) {
    throw new ToolError(subject, `tensor ${t.name}: ${t.shape.length} dimensions (1 to ${MAX_DIMS} allowed)`);
  }
  let count = 1;
  for (const d of t.shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new ToolError(subject, `tensor ${t.name}: bad dimension ${d}`);
    count *= d;
  }
  if (t.shape[0] % traits.blockSize !== 0) {
    throw new ToolError(
      subject,
      `tensor ${t.name}: row length ${t.shape[0]} is not a multiple of ${traits.name}'s block size ${traits.blockSize}`,
    );
  }
  const size = (count / traits.blockSize) * traits.typeSize;
  if (!Number.isSafeInteger(size)) throw new ToolError(subject, `tensor ${t.name}: size overflows`);
  return size;
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function resolveAlignment(subject: string, header: GgufWriterHeader): number {
  const fromMetadata = header.metadata.get("general.alignment");
  let alignment = header.alignment;
  if (fromMetadata) {
    if (fromMetadata.type !== GgufValueType.UINT32) throw new ToolError(subject, "general.alignment must be a uint32");
    if (alignment !== undefined && alignment !== fromMetadata.value) {
      throw new ToolError(subject, `alignment ${alignment} differs from general.alignment ${fromMetadata.value}`);
    }
    alignment = fromMetadata.value;
  }
  alignment ??= GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw new ToolError(subject, `alignment ${alignment} is not a power of two`);
  }
  return alignment;
}

/** Appends to a file through a fixed buffer, hashing every byte on its way out. */
class HashingFileSink {
  private readonly buf = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
  private pos = 0;
  /** bytes handed to the sink so far (the file size once flushed) */
  size = 0;
  readonly hash: Hash = createHash("sha256");

  constructor(private readonly file: AtomicFile) {}

  async write(bytes: Uint8Array): Promise<void> {
    this.size += bytes.byteLength;
    if (this.pos + bytes.byteLength <= this.buf.length) {
      this.buf.set(bytes, this.pos);
      this.pos += bytes.byteLength;
      return;
    }
    await this.flush();
    if (bytes.byteLength < this.buf.length) {
      this.buf.set(bytes, 0);
      this.pos = bytes.byteLength;
      return;
    }
    // a large piece goes straight to the file: no copy
    this.hash.update(bytes);
    await this.writeFully(bytes);
  }

  async zeros(n: number): Promise<void> {
    if (n === 0) return;
    if (this.pos + n > this.buf.length) await this.flush();
    // padding is smaller than the alignment, which is far smaller than the buffer
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    this.size += n;
  }

  async flush(): Promise<void> {
    if (this.pos === 0) return;
    const chunk = this.buf.subarray(0, this.pos);
    this.hash.update(chunk);
    await this.writeFully(chunk);
    this.pos = 0;
  }

  private async writeFully(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.byteLength) {
      const { bytesWritten } = await this.file.handle.write(bytes, done, bytes.byteLength - done);
      done += bytesWritten;
    }
  }
}

/**
 * Opens `destPath`'s temporary file and writes the header. Then call `writeTensorData` with each
 * tensor's bytes in order (any number of pieces per tensor), and `finish()`, or `abort()`.
 * Any failure inside the writer removes the temporary file before the error is thrown.
 */
export async function createGgufWriter(
  destPath: string,
  header: GgufWriterHeader,
  options: { tempDir?: string } = {},
): Promise<GgufWriter> {
  const version = header.version ?? 3;
  if (version !== 2 && version !== 3) throw new ToolError(destPath, `cannot write GGUF version ${version}`);
  const alignment = resolveAlignment(destPath, header);

  const names = new Set<string>();
  const sizes: number[] = [];
  const infos = [];
  let offset = 0;
  for (const t of header.tensors) {
    if (Buffer.byteLength(t.name, "utf8") > MAX_TENSOR_NAME_BYTES) {
      throw new ToolError(destPath, `tensor name ${t.name} is longer than ${MAX_TENSOR_NAME_BYTES} bytes`);
    }
    if (names.has(t.name)) throw new ToolError(destPath, `duplicate tensor name ${t.name}`);
    names.add(t.name);
    const size = ggufTensorByteSize(destPath, t);
    sizes.push(size);
    infos.push({ name: t.name, shape: t.shape, type: t.type, offset });
    offset += alignUp(size, alignment);
  }
  const headerBytes = encodeGgufHeader(version, header.metadata, infos);

  const file = await createAtomicFile(destPath, options);
  const sink = new HashingFileSink(file);
  let state: "writing" | "finished" | "failed" = "writing";
  let current = 0; // index of the tensor being written
  let written = 0; // bytes of tensor `current` written so far

  /** Runs a step; on any error the temporary file is removed and a file error becomes a ToolError. */
  async function guarded<T>(step: () => Promise<T>): Promise<T> {
    if (state !== "writing") throw new Error(`${destPath}: GGUF writer already ${state}`);
    try {
      return await step();
    } catch (err) {
      state = "failed";
      await file.abort();
      const code = (err as NodeJS.ErrnoException)?.code;
      if (err instanceof ToolError || typeof code !== "string" || code.startsWith("ERR_")) throw err;
      throw new ToolError(destPath, `cannot write the file: ${describeFsError(err)}`);
    }
  }

  /** Pads the finished tensor(s) and moves to the next one that still expects bytes. */
  async function closeCompleteTensors(): Promise<void> {
    while (current < sizes.length && written === sizes[current]) {
      await sink.zeros(alignUp(sizes[current], alignment) - sizes[current]);
      current++;
      written = 0;
    }
  }

  await guarded(async () => {
    await sink.write(headerBytes);
    await sink.zeros(alignUp(headerBytes.byteLength, alignment) - headerBytes.byteLength);
    await closeCompleteTensors(); // leading zero-size tensors
  });

  return {
    writeTensorData(bytes) {
      return guarded(async () => {
        if (current >= sizes.length) {
          throw new Error(`${destPath}: ${bytes.byteLength} bytes written after the last tensor`);
        }
        if (written + bytes.byteLength > sizes[current]) {
          const t = header.tensors[current];
          throw new Error(`${destPath}: tensor ${t.name} is ${sizes[current]} bytes, got ${written + bytes.byteLength}`);
        }
        await sink.write(bytes);
        written += bytes.byteLength;
        await closeCompleteTensors();
      });
    },

    finish() {
      return guarded(async () => {
        if (current < sizes.length) {
          const t = header.tensors[current];
          throw new Error(`${destPath}: tensor ${t.name} got ${written} of its ${sizes[current]} bytes`);
        }
        await sink.flush();
        await file.commit();
        state = "finished";
        return { path: destPath, size: sink.size, sha256: sink.hash.digest("hex") };
      });
    },

    async abort() {
      if (state === "finished") return;
      state = "failed";
      await file.abort();
    },
  };
}
