/**
 * Runs tasks with tinybench and turns tinybench's results into BenchResults,
 * so every suite measures and reports the same way.
 */
import { Bench, type TaskResult } from "tinybench";
import type { BenchOptions, BenchResult } from "./types.ts";

export interface MeasuredTask {
  name: string;
  /** bytes of input one call processes */
  bytesPerOp: number;
  fn: () => unknown;
}

export interface MeasureSettings {
  /** time budget per task in ms (default: 300 short, 1500 full) */
  time?: number;
  /** minimum timed iterations per task (default: 3) */
  iterations?: number;
  /** one untimed run first (default: true) */
  warmup?: boolean;
}

/** Measures each task in turn (never concurrently: they would compete for the same cores). */
export async function measure(suite: string, tasks: MeasuredTask[], opts: BenchOptions, settings: MeasureSettings = {}): Promise<BenchResult[]> {
  const bench = new Bench({
    time: settings.time ?? (opts.short ? 300 : 1500),
    iterations: settings.iterations ?? 3,
    warmup: settings.warmup ?? true,
    warmupIterations: 1,
    warmupTime: 0,
  });
  // CPU time of the timed calls (all threads of the process), beside tinybench's wall time
  const cpu = tasks.map(() => ({ micros: 0, calls: 0, started: process.cpuUsage() }));
  tasks.forEach((t, i) => {
    bench.add(t.name, t.fn, {
      beforeEach(mode) {
        if (mode === "run") cpu[i].started = process.cpuUsage();
      },
      afterEach(mode) {
        if (mode !== "run") return;
        const d = process.cpuUsage(cpu[i].started);
        cpu[i].micros += d.user + d.system;
        cpu[i].calls++;
      },
    });
  });
  await bench.run();
  return tasks.map((t, i) => {
    const r = toBenchResult(suite, t, bench.tasks[i].result);
    if (r.status === "ok" && cpu[i].micros > 0) r.cpuMbPerSec = (t.bytesPerOp * cpu[i].calls) / cpu[i].micros;
    return r;
  });
}

function toBenchResult(suite: string, task: MeasuredTask, result: TaskResult): BenchResult {
  const base = { suite, name: task.name, bytesPerOp: task.bytesPerOp };
  if (result.state === "errored") return { ...base, status: "error", note: result.error.message };
  if (result.state !== "completed") return { ...base, status: "error", note: `tinybench state ${result.state}` };
  const meanMs = result.latency.mean;
  return {
    ...base,
    status: "ok",
    meanMs,
    mbPerSec: task.bytesPerOp / 1e6 / (meanMs / 1000),
    rme: result.latency.rme,
    samples: result.latency.samplesCount,
  };
}
