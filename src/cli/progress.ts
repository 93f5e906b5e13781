/**
 * A one-line progress display for long writes (quantize, convert): on a terminal it redraws
 * `[ 3/21] blk.0.attn_q.weight  45.2 MB/s  12/40 MB  0:05 left` on stderr at most every 100 ms;
 * when stderr is not a terminal (a pipe, a log file, CI) or with --quiet it prints nothing.
 */

import { ggmlTypeName, type GgmlType } from "../formats/gguf/types.ts";

export interface ProgressState {
  /** 1-based number of the item being processed and how many there are */
  item: number;
  itemCount: number;
  /** what is being processed (a tensor name) */
  label: string;
  /** work done and total, in bytes (the rate is computed from these) */
  bytesDone: number;
  bytesTotal: number;
}

export interface ProgressReporter {
  update(state: ProgressState): void;
  /** erases the line (call before printing the summary or an error) */
  done(): void;
}

const REDRAW_INTERVAL_MS = 100;

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Bytes as MB (10^6, as llama.cpp and Ollama print sizes) with one decimal, GB past 10 GB. */
export function formatBytes(bytes: number): string {
  if (bytes >= 10e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** The progress line for a state, `elapsedSeconds` after the start. */
export function formatProgressLine(state: ProgressState, elapsedSeconds: number): string {
  const width = String(state.itemCount).length;
  const rate = elapsedSeconds > 0 ? state.bytesDone / elapsedSeconds : 0;
  const left = rate > 0 ? formatDuration((state.bytesTotal - state.bytesDone) / rate) : "?";
  return (
    `[${String(state.item).padStart(width)}/${state.itemCount}] ${state.label}  ` +
    `${(rate / 1e6).toFixed(1)} MB/s  ${formatBytes(state.bytesDone)} / ${formatBytes(state.bytesTotal)}  ${left} left`
  );
}

/** A warning callback for the library that first erases the progress line, so the two never tear. */
export function warnBeside(progress: ProgressReporter): (message: string) => void {
  return (message) => {
    progress.done();
    process.stderr.write(`gguf-tool: warning: ${message}\n`);
  };
}

/** "Q4_K 12, F32 6, Q6_K 3": the tensor types of a written file, most frequent first. */
export function formatTypeCounts(typeCounts: Array<{ type: GgmlType; count: number }>): string {
  return typeCounts.map((t) => `${ggmlTypeName(t.type)} ${t.count}`).join(", ");
}

export function createProgressReporter(options: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  if (options.quiet || !stream.isTTY) return { update() {}, done() {} };
  const start = performance.now();
  let lastDraw = -Infinity;
  let drawn = false;
  return {
    update(state) {
      const now = performance.now();
      if (now - lastDraw < REDRAW_INTERVAL_MS && state.bytesDone < state.bytesTotal) return;
      lastDraw = now;
      const line = formatProgressLine(state, (now - start) / 1000);
      const columns = stream.columns || 80;
      // \r + erase line: redraw in place; cut to the terminal width so it never wraps
      stream.write(`\r\x1b[2K${line.slice(0, columns - 1)}`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write("\r\x1b[2K");
      drawn = false;
    },
  };
}
