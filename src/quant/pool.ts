/**
 * The quantization worker pool (piscina): a tensor's rows are streamed in chunks, quantized on
 * worker threads and handed back strictly in row order. Chunks cross to the workers through
 * SharedArrayBuffers that are allocated once and recycled (ecosystem.md A.5: no copies, no
 * transfers), and only a bounded number of chunks is in flight, so memory is bounded by the chunk
 * size, never by the tensor. Every kernel quantizes rows independently, so any thread count and
 * any chunk size give the same bytes.
 */
import os from "node:os";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { GGML_TYPE_TRAITS, ggmlByteSize, ggmlTypeName, type GgmlType } from "../formats/gguf/types.ts";
import { quantizeRows } from "./kernels/index.ts";
import type { QuantizeChunkTask } from "./worker.ts";

export interface QuantizeTensorJob {
  type: GgmlType;
  /** values per row (ne[0]); a multiple of the type's block size */
  rowLength: number;
  rowCount: number;
  /** fills `dst` (rowCount * rowLength floats) with rows firstRow.. ; called in row order, one call at a time */
  readRows(firstRow: number, rowCount: number, dst: Float32Array): Promise<void>;
  /**
   * receives the quantized bytes of consecutive chunks, strictly in row order, one call at a
   * time; `bytes` is reused once the returned promise resolves (copy it to keep it)
   */
  write(bytes: Uint8Array): Promise<void>;
  /** rows per chunk (default: about 1 MiB of float32 input) */
  chunkRows?: number;
}

export interface QuantPool {
  readonly threads: number;
  /** the most chunks read but not yet written at any time (memory is this many chunk buffers) */
  readonly maxChunksInFlight: number;
  /**
   * Quantizes a tensor streamed in row chunks: calls readRows to fill float32 rows, quantizes the
   * chunks on the workers and calls write with the quantized bytes strictly in row order. Calls
   * for several tensors may overlap; they run one after another.
   */
  quantizeTensor(job: QuantizeTensorJob): Promise<void>;
  /** Waits for running work, then stops the worker threads. */
  close(): Promise<void>;
}

/** Default chunk: 256 Ki float32 values (1 MiB), big enough to amortise a task, small enough to spread over the threads. */
const DEFAULT_CHUNK_VALUES = 256 * 1024;
/** Tensors below this many values are quantized in one piece (norms, biases, tiny test models). */
const MIN_SPLIT_VALUES = 16 * 1024;
/** Time on the calling thread after which the workers are started for tensors that fit one chunk. */
const INLINE_BUDGET_MS = 1000;

/** The same two buffers carry one chunk after another. */
interface ChunkSlot {
  input: SharedArrayBuffer;
  output: SharedArrayBuffer;
}

export function createQuantPool(options: { threads?: number } = {}): QuantPool {
  const threads = options.threads ?? os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`thread count must be a positive integer, got ${threads}`);
  return new PiscinaQuantPool(threads);
}

/**
 * The worker module: compiled JS next to this file in dist/; from src/ (tsx, vitest) a small
 * .mjs bootstrap, because Node 20 cannot start a .ts worker (ecosystem.md A.5).
 */
function workerFilename(): string {
  const fromSource = import.meta.url.endsWith(".ts");
  return fileURLToPath(new URL(fromSource ? "./worker-bootstrap.mjs" : "./worker.js", import.meta.url));
}

class PiscinaQuantPool implements QuantPool {
  readonly maxChunksInFlight: number;
  /** started on the first tensor that needs it: a run of tiny tensors never starts threads */
  private piscina: Piscina<QuantizeChunkTask, void> | undefined;
  private readonly slots: ChunkSlot[] = [];
  /** the previous quantizeTensor call: calls run one after another because they share the slots */
  private last: Promise<void> = Promise.resolve();
  private closed = false;
  /** time spent quantizing on the calling thread */
  private inlineMs = 0;

  constructor(readonly threads: number) {
    // two chunks per thread: one being quantized, one read and queued behind it
    this.maxChunksInFlight = threads > 1 ? 2 * threads : 1;
  }

  quantizeTensor(job: QuantizeTensorJob): Promise<void> {
    if (this.closed) return Promise.reject(new Error("quantization pool is closed"));
    const run = this.last.then(() => this.runTensor(job));
    this.last = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.last;
    const piscina = this.piscina;
    this.piscina = undefined;
    this.slots.length = 0;
    await piscina?.destroy();
  }

  private async runTensor(job: QuantizeTensorJob): Promise<void> {
    const { type, rowLength, rowCount } = job;
    const traits = GGML_TYPE_TRAITS[type];
    if (!traits) throw new Error(`cannot quantize to unknown ggml type ${type}`);
    if (!Number.isInteger(rowLength) || rowLength <= 0 || rowLength % traits.blockSize !== 0) {
      throw new RangeError(`${ggmlTypeName(type)}: row length ${rowLength} is not a positive multiple of the block size ${traits.blockSize}`);
    }
    if (!Number.isInteger(rowCount) || rowCount < 0) throw new RangeError(`row count must be a non-negative integer, got ${rowCount}`);
    const chunkRows = Math.min(job.chunkRows ?? this.defaultChunkRows(rowLength, rowCount), Math.max(rowCount, 1));
    if (!Number.isInteger(chunkRows) || chunkRows < 1) throw new RangeError(`chunkRows must be a positive integer, got ${job.chunkRows}`);
    const chunk = { rows: chunkRows, rowLength, rowBytes: ggmlByteSize(type, rowLength), count: Math.ceil(rowCount / chunkRows) };
    if (this.threads === 1 || chunk.count <= 1) await this.runInline(job, chunk);
    else await this.runParallel(job, chunk);
  }

  /** On the calling thread: one chunk buffer, the same bytes as the workers give. */
  private async runInline(job: QuantizeTensorJob, chunk: ChunkGeometry): Promise<void> {
    const [slot] = this.takeSlots(1, chunk);
    for (let c = 0; c < chunk.count; c++) {
      const { first, rows } = chunkRowsOf(c, chunk, job.rowCount);
      const input = new Float32Array(slot.input, 0, rows * chunk.rowLength);
      const output = new Uint8Array(slot.output, 0, rows * chunk.rowBytes);
      await job.readRows(first, rows, input);
      const started = performance.now();
      quantizeRows(job.type, input, output);
      this.inlineMs += performance.now() - started;
      await job.write(output);
    }
  }

  /**
   * Reads chunks in order into free slots and queues them on the workers; writes finished chunks
   * in order as slots are needed again. On any error, waits for every queued chunk to settle (the
   * workers may still be using the buffers) before rejecting.
   */
  private async runParallel(job: QuantizeTensorJob, chunk: ChunkGeometry): Promise<void> {
    const piscina = this.startWorkers();
    const free = this.takeSlots(this.maxChunksInFlight, chunk);
    const inFlight: Array<{ done: Promise<void>; slot: ChunkSlot; byteCount: number }> = [];
    const writeOldest = async () => {
      const head = inFlight[0];
      await head.done;
      inFlight.shift();
      await job.write(new Uint8Array(head.slot.output, 0, head.byteCount));
      free.push(head.slot);
    };
    try {
      for (let c = 0; c < chunk.count; c++) {
        if (free.length === 0) await writeOldest();
        const slot = free.pop()!;
        const { first, rows } = chunkRowsOf(c, chunk, job.rowCount);
        const valueCount = rows * chunk.rowLength;
        const byteCount = rows * chunk.rowBytes;
        await job.readRows(first, rows, new Float32Array(slot.input, 0, valueCount));
        const done = piscina.run({ type: job.type, input: slot.input, valueCount, output: slot.output, byteCount });
        done.catch(() => {}); // observed when it reaches the head of the queue; this only avoids an unhandled rejection until then
        inFlight.push({ done, slot, byteCount });
      }
      while (inFlight.length > 0) await writeOldest();
    } catch (err) {
      await Promise.allSettled(inFlight.map((f) => f.done));
      throw err;
    }
  }

  /**
   * About DEFAULT_CHUNK_VALUES per chunk. A tensor smaller than one chunk per thread (every
   * tensor of a small model) is split over the threads once they are worth having: when they
   * run already, or when this thread has spent INLINE_BUDGET_MS quantizing on its own (starting
   * them costs 100-200 ms from dist/, more under tsx, and their first chunks run unoptimized
   * code: a small job is done before they would pay). Below MIN_SPLIT_VALUES a task
   * costs more than it saves.
   */
  private defaultChunkRows(rowLength: number, rowCount: number): number {
    const rows = Math.max(1, Math.floor(DEFAULT_CHUNK_VALUES / rowLength));
    const workersPay = this.piscina !== undefined || this.inlineMs >= INLINE_BUDGET_MS;
    if (!workersPay || rowCount * rowLength < MIN_SPLIT_VALUES || rowCount >= rows * this.threads) return rows;
    return Math.max(1, Math.ceil(rowCount / this.threads));
  }

  private startWorkers(): Piscina<QuantizeChunkTask, void> {
    if (this.piscina) return this.piscina;
    this.piscina = new Piscina<QuantizeChunkTask, void>({
      filename: workerFilename(),
      minThreads: this.threads,
      maxThreads: this.threads,
      // keep the threads between tensors; idle piscina workers do not keep the process alive
      idleTimeout: 60_000,
      concurrentTasksPerWorker: 1,
    });
    // A worker that fails outside a task (e.g. it cannot start) rejects the queued tasks, which
    // is how we report it; piscina also emits 'error', which would crash the process unheard.
    this.piscina.on("error", () => {});
    return this.piscina;
  }

  /** `count` slots big enough for one chunk each, reusing (or growing) the pool's buffers. */
  private takeSlots(count: number, chunk: ChunkGeometry): ChunkSlot[] {
    const inputBytes = chunk.rows * chunk.rowLength * 4;
    const outputBytes = chunk.rows * chunk.rowBytes;
    for (let i = 0; i < count; i++) {
      const slot = this.slots[i];
      if (slot && slot.input.byteLength >= inputBytes && slot.output.byteLength >= outputBytes) continue;
      this.slots[i] = {
        input: slot && slot.input.byteLength >= inputBytes ? slot.input : new SharedArrayBuffer(inputBytes),
        output: slot && slot.output.byteLength >= outputBytes ? slot.output : new SharedArrayBuffer(outputBytes),
      };
    }
    return this.slots.slice(0, count);
  }
}

interface ChunkGeometry {
  /** rows per full chunk */
  rows: number;
  rowLength: number;
  /** quantized bytes per row */
  rowBytes: number;
  /** number of chunks */
  count: number;
}

function chunkRowsOf(c: number, chunk: ChunkGeometry, rowCount: number): { first: number; rows: number } {
  const first = c * chunk.rows;
  return { first, rows: Math.min(chunk.rows, rowCount - first) };
}
