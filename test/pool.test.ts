import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gaussianMatrix } from "../bench/data.ts";
import { GgmlType, ggmlByteSize } from "../src/formats/gguf/types.ts";
import { quantizeRows } from "../src/quant/kernels/index.ts";
import { createQuantPool, type QuantPool } from "../src/quant/pool.ts";

/** Deterministic N(0, 0.02) rows, distinct in every row. */
const weights = (rows: number, rowLength: number, seed = 1) => gaussianMatrix(rows, rowLength, 0.02, seed);

interface Trace {
  reads: Array<{ first: number; rows: number }>;
  writes: number[];
  maxOutstanding: number;
  buffers: Set<ArrayBufferLike>;
}

/** Runs one tensor through the pool, collecting the output and what the pool asked for. */
async function quantizeThrough(pool: QuantPool, type: GgmlType, data: Float32Array, rowLength: number, chunkRows?: number, delays = false) {
  const rowCount = data.length / rowLength;
  const parts: Uint8Array[] = [];
  const trace: Trace = { reads: [], writes: [], maxOutstanding: 0, buffers: new Set() };
  let outstanding = 0;
  let step = 0;
  await pool.quantizeTensor({
    type,
    rowLength,
    rowCount,
    chunkRows,
    async readRows(first, rows, dst) {
      trace.reads.push({ first, rows });
      trace.buffers.add(dst.buffer);
      outstanding++;
      trace.maxOutstanding = Math.max(trace.maxOutstanding, outstanding);
      if (delays) await new Promise((r) => setTimeout(r, (step++ * 7) % 5));
      dst.set(data.subarray(first * rowLength, (first + rows) * rowLength));
    },
    async write(bytes) {
      if (delays) await new Promise((r) => setTimeout(r, (step++ * 3) % 4));
      trace.writes.push(bytes.length);
      outstanding--;
      parts.push(bytes.slice());
    },
  });
  return { bytes: Buffer.concat(parts), trace };
}

function reference(type: GgmlType, data: Float32Array, rowLength: number): Buffer {
  const out = new Uint8Array(ggmlByteSize(type, data.length));
  quantizeRows(type, data, out);
  return Buffer.from(out);
}

const ROW = 512;
const data = weights(96, ROW);
const TYPES = [
  GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.F16, GgmlType.BF16,
  GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
];

describe("quantization pool", () => {
  const pool = createQuantPool({ threads: 2 });
  const single = createQuantPool({ threads: 1 });
  afterAll(async () => {
    await pool.close();
    await single.close();
  });

  it("defaults to os.availableParallelism() threads and bounds chunks in flight", async () => {
    const { availableParallelism } = await import("node:os");
    const p = createQuantPool();
    expect(p.threads).toBe(availableParallelism());
    expect(p.maxChunksInFlight).toBe(p.threads > 1 ? 2 * p.threads : 1);
    await p.close();
    expect(() => createQuantPool({ threads: 0 })).toThrow(/positive integer/);
  });

  for (const type of TYPES) {
    it(`type ${GgmlType[type]}: 2 threads, 1 thread and the kernel alone give identical bytes`, async () => {
      const expected = reference(type, data, ROW);
      const multi = await quantizeThrough(pool, type, data, ROW, 5);
      const one = await quantizeThrough(single, type, data, ROW, 5);
      expect(multi.bytes.equals(expected)).toBe(true);
      expect(one.bytes.equals(expected)).toBe(true);
      expect(multi.trace.writes.length).toBe(Math.ceil(96 / 5));
    });
  }

  it("splits a tensor smaller than one chunk per thread over the threads once they pay; a tiny one stays whole", async () => {
    const fresh = createQuantPool({ threads: 2 });
    try {
      // 96 x 512 = 48K values, under the default chunk (256K values): on this thread while the
      // workers are not worth starting, then split over them once this thread has spent its
      // budget (a second of quantizing) on its own
      const first = await quantizeThrough(fresh, GgmlType.Q4_K, data, ROW);
      expect(first.trace.reads).toEqual([{ first: 0, rows: 96 }]);
      let split = first;
      for (let i = 0; i < 500 && split.trace.reads.length === 1; i++) split = await quantizeThrough(fresh, GgmlType.Q4_K, data, ROW);
      expect(split.trace.reads).toEqual([{ first: 0, rows: 48 }, { first: 48, rows: 48 }]);
      expect(split.bytes.equals(first.bytes)).toBe(true);
      expect(first.bytes.equals(reference(GgmlType.Q4_K, data, ROW))).toBe(true);
      // below the split threshold: whole, even with the workers running
      expect((await quantizeThrough(fresh, GgmlType.Q4_K, data.subarray(0, 8 * ROW), ROW)).trace.reads).toEqual([{ first: 0, rows: 8 }]);
    } finally {
      await fresh.close();
    }
    // one thread: the default chunk, always
    expect((await quantizeThrough(single, GgmlType.Q4_K, data, ROW)).trace.reads).toEqual([{ first: 0, rows: 96 }]);
  });

  it("any chunk size gives identical bytes", async () => {
    const expected = reference(GgmlType.Q4_1, data, ROW);
    for (const chunkRows of [1, 2, 3, 7, 31, 95, 96, 1000, undefined]) {
      const { bytes } = await quantizeThrough(pool, GgmlType.Q4_1, data, ROW, chunkRows);
      expect(bytes.equals(expected), `chunkRows ${chunkRows}`).toBe(true);
    }
  });

  it("reads rows in order and writes chunks strictly in row order, even with uneven delays", async () => {
    const expected = reference(GgmlType.Q8_0, data, ROW);
    const { bytes, trace } = await quantizeThrough(pool, GgmlType.Q8_0, data, ROW, 7, true);
    expect(bytes.equals(expected)).toBe(true);
    expect(trace.reads.map((r) => r.first)).toEqual(Array.from({ length: 14 }, (_, i) => i * 7));
    expect(trace.reads.at(-1)).toEqual({ first: 91, rows: 5 });
    const rowBytes = ggmlByteSize(GgmlType.Q8_0, ROW);
    expect(trace.writes).toEqual([...Array(13).fill(7 * rowBytes), 5 * rowBytes]);
  });

  it("bounds memory by chunks: at most maxChunksInFlight chunks outstanding and as many buffers", async () => {
    const big = weights(400, 256, 7);
    const { trace } = await quantizeThrough(pool, GgmlType.Q4_0, big, 256, 2);
    expect(trace.reads.length).toBe(200);
    expect(trace.maxOutstanding).toBeLessThanOrEqual(pool.maxChunksInFlight);
    expect(trace.maxOutstanding).toBeGreaterThan(1); // chunks really overlap
    expect(trace.buffers.size).toBeLessThanOrEqual(pool.maxChunksInFlight);
    expect([...trace.buffers].every((b) => b instanceof SharedArrayBuffer)).toBe(true);
  });

  it("recycles its chunk buffers across tensors", async () => {
    const a = await quantizeThrough(pool, GgmlType.Q8_0, data, ROW, 4);
    const b = await quantizeThrough(pool, GgmlType.Q8_0, data.subarray(0, 40 * ROW), ROW, 4);
    for (const buf of b.trace.buffers) expect(a.trace.buffers.has(buf)).toBe(true);
  });

  it("runs overlapping calls one after another with correct results", async () => {
    const [x, y] = await Promise.all([
      quantizeThrough(pool, GgmlType.Q5_0, data, ROW, 3),
      quantizeThrough(pool, GgmlType.Q8_0, data, ROW, 5),
    ]);
    expect(x.bytes.equals(reference(GgmlType.Q5_0, data, ROW))).toBe(true);
    expect(y.bytes.equals(reference(GgmlType.Q8_0, data, ROW))).toBe(true);
  });

  it("an error in a worker rejects the tensor, and the pool keeps working", async () => {
    // IQ2_XXS has a block geometry but no kernel: the worker throws
    await expect(quantizeThrough(pool, GgmlType.IQ2_XXS, weights(8, 256), 256, 1)).rejects.toThrow(/no kernel for ggml type IQ2_XXS/);
    const { bytes } = await quantizeThrough(pool, GgmlType.Q8_0, data, ROW, 3);
    expect(bytes.equals(reference(GgmlType.Q8_0, data, ROW))).toBe(true);
  });

  it("errors from readRows and write reject cleanly", async () => {
    const job = { type: GgmlType.Q8_0, rowLength: ROW, rowCount: 96, chunkRows: 4 };
    let reads = 0;
    await expect(
      pool.quantizeTensor({
        ...job,
        async readRows(first, rows, dst) {
          if (++reads === 6) throw new Error("disk gone");
          dst.set(data.subarray(first * ROW, (first + rows) * ROW));
        },
        async write() {},
      }),
    ).rejects.toThrow("disk gone");
    let writes = 0;
    await expect(
      pool.quantizeTensor({
        ...job,
        async readRows(first, rows, dst) {
          dst.set(data.subarray(first * ROW, (first + rows) * ROW));
        },
        async write() {
          if (++writes === 3) throw new Error("disk full");
        },
      }),
    ).rejects.toThrow("disk full");
    expect(writes).toBe(3); // nothing written after the failure
  });

  it("rejects rows that are not whole blocks", async () => {
    await expect(quantizeThrough(pool, GgmlType.Q8_0, new Float32Array(100), 50)).rejects.toThrow(/not a positive multiple of the block size 32/);
  });

  it("an empty tensor writes nothing", async () => {
    const { trace } = await quantizeThrough(pool, GgmlType.Q8_0, new Float32Array(0), 256);
    expect(trace.writes).toEqual([]);
  });

  it("after a worker error, close() leaves no thread running: the process exits by itself", () => {
    const poolUrl = new URL("../src/quant/pool.ts", import.meta.url).href;
    const script = `
      const { createQuantPool } = await import(${JSON.stringify(poolUrl)});
      const pool = createQuantPool({ threads: 2 });
      const job = (type) => ({ type, rowLength: 256, rowCount: 64, chunkRows: 4,
        async readRows(first, rows, dst) { dst.fill(0.5); }, async write() {} });
      await pool.quantizeTensor(job(8));
      await pool.quantizeTensor(job(16)).catch((e) => console.log("rejected:", e.message));
      await pool.close();
      await pool.quantizeTensor(job(8)).catch((e) => console.log("after close:", e.message));
    `;
    const dir = mkdtempSync(join(tmpdir(), "pool-test-"));
    const file = join(dir, "close.mjs");
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, ["--import", "tsx", file], { encoding: "utf8", timeout: 50_000 });
    rmSync(dir, { recursive: true, force: true });
    expect(r.error).toBeUndefined(); // a timeout (hanging threads) sets r.error
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("rejected: no kernel for ggml type IQ2_XXS\nafter close: quantization pool is closed\n");
    expect(r.status).toBe(0);
  });
});
