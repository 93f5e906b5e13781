/**
 * What every benchmark suite returns. A suite is a module in bench/ exporting
 * `run(opts): Promise<BenchResult[]>`; bench/run.ts imports each one explicitly.
 */

export interface BenchOptions {
  /** small inputs and short time budgets, so that the whole run stays under 2 minutes (CI) */
  short: boolean;
}

/** A target the issue sets, measured as a ratio within the same run (absolute times vary on shared CI cores). */
export interface BenchRatio {
  /** what the ratio is against, e.g. "1 thread" or "C reference (§9)" */
  against: string;
  /** this result's MB/s divided by the other's */
  value: number;
  /** the ratio to reach, e.g. 1.8 */
  target: number;
}

export interface BenchResult {
  /** the suite's name, e.g. "kernels" */
  suite: string;
  /** what was measured, e.g. "quantize Q4_K 1 thread" */
  name: string;
  /** "missing": the code under test does not exist yet (reported, never faked); "error": it threw */
  status: "ok" | "missing" | "error";
  /** bytes of input per operation (float32 input for kernels), the basis of MB/s */
  bytesPerOp: number;
  /** 10^6 bytes of input per second, from the mean latency; only when ok */
  mbPerSec?: number;
  /**
   * 10^6 bytes of input per CPU-second of the whole process (all threads). For a one-thread
   * task this hardly depends on what else runs on the machine, unlike mbPerSec.
   */
  cpuMbPerSec?: number;
  /** mean latency of one operation in milliseconds */
  meanMs?: number;
  /** relative margin of error of the mean, percent */
  rme?: number;
  /** number of timed operations */
  samples?: number;
  ratio?: BenchRatio;
  /** why missing or errored, or a remark on the input */
  note?: string;
}

export type BenchSuite = (opts: BenchOptions) => Promise<BenchResult[]>;
