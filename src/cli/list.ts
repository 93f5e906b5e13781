/**
 * `gguf-tool list [filter] [--json]`: the models in the Ollama store, without a server, in
 * `ollama list`'s columns NAME, ID, SIZE, MODIFIED (or `/api/tags`-style JSON).
 */
import type { Command } from "commander";
import { humanTime } from "../ollama/human-time.ts";
import { humanBytes } from "../ollama/human-units.ts";
import { requireModelsDir } from "../ollama/models-dir.ts";
import { listModels, tagsEntry } from "../ollama/store-read.ts";
import { formatTable, type ModelsDirFlags, modelsDirFrom, withModelsDirOption } from "./store-options.ts";

interface ListFlags extends ModelsDirFlags {
  json?: boolean;
}

export function register(program: Command): void {
  withModelsDirOption(
    program
      .command("list")
      .alias("ls")
      .description("List the models in the Ollama store (no server needed), as `ollama list` does")
      .argument("[filter...]", "show only names starting with one of these (case-insensitive)")
      .option("--json", "print a JSON array like Ollama's /api/tags models (reads each model's GGUF header)"),
  ).action(async (filters: string[], flags: ListFlags) => {
    const modelsDir = requireModelsDir(modelsDirFrom(flags));
    const { models, skipped } = await listModels(modelsDir);
    for (const s of skipped) process.stderr.write(`gguf-tool: warning: ${s.path}: skipped (${s.reason})\n`);
    const wanted = filters.map((f) => f.toLowerCase());
    const shown = wanted.length === 0 ? models : models.filter((m) => wanted.some((f) => m.displayName.toLowerCase().startsWith(f)));
    if (flags.json) {
      const out = [];
      for (const m of shown) out.push(await tagsEntry(modelsDir, m));
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    const now = new Date();
    const rows = [["NAME", "ID", "SIZE", "MODIFIED"]];
    for (const m of shown) rows.push([m.displayName, m.id, m.remote ? "-" : humanBytes(m.size), humanTime(m.modifiedAt, now)]);
    process.stdout.write(formatTable(rows));
  });
}
