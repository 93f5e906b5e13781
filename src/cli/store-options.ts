/** The `--models-dir` option every Ollama-store command takes, and its resolution. */
import type { Command } from "commander";
import { resolveModelsDir } from "../ollama/models-dir.ts";

export interface ModelsDirFlags {
  modelsDir?: string;
}

/** Adds `--models-dir <dir>` to a store command. */
export function withModelsDirOption(command: Command): Command {
  return command.option("--models-dir <dir>", "Ollama models folder (default: $OLLAMA_MODELS, else ~/.ollama/models)");
}

/** The models dir for these flags: --models-dir, else OLLAMA_MODELS, else ~/.ollama/models. */
export function modelsDirFrom(flags: ModelsDirFlags): string {
  return resolveModelsDir(flags.modelsDir);
}

/** Prints rows as `ollama list` does: each column padded to its widest cell plus 4 spaces. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] + 4))).join("")).join("\n") + "\n";
}

/** `1 blob`, `2 blobs`. */
export function plural(n: number, word: string): string {
  return `${n} ${n === 1 ? word : `${word}s`}`;
}
