/**
 * `gguf-tool export name[:tag]... -o <folder | file.tar>` (Ollama's layout, to move models between
 * machines) and `gguf-tool export --gguf name[:tag] -o model.gguf` (the plain GGUF plus a Modelfile).
 */
import type { Command } from "commander";
import { once } from "node:events";
import { exportGguf, exportModels, exportModelsToStream } from "../ollama/export.ts";
import { humanBytes } from "../ollama/human-units.ts";
import { requireModelsDir } from "../ollama/models-dir.ts";
import { parseModelName } from "../ollama/names.ts";
import { createProgressReporter } from "./progress.ts";
import { type ModelsDirFlags, modelsDirFrom, plural, withModelsDirOption } from "./store-options.ts";

interface ExportFlags extends ModelsDirFlags {
  output: string;
  gguf?: boolean;
  force?: boolean;
}

export function register(program: Command): void {
  withModelsDirOption(
    program
      .command("export")
      .description(
        "Export models in Ollama's own layout (manifests/ + blobs/sha256-<hex>) to a folder or a .tar, for `gguf-tool import` " +
          "or a plain copy into another models dir; with --gguf, write the model as a plain GGUF plus a Modelfile beside it",
      )
      .argument("<name...>", "installed models, name[:tag]")
      .requiredOption("-o, --output <path>", "folder, file.tar, or - for a tar on stdout (to pipe to another machine); with --gguf the GGUF file to write")
      .option("--gguf", "write the model GGUF (and projector/adapter GGUFs) plus a Modelfile that recreates the model")
      .option("--force", "with --gguf: replace existing output files"),
  ).action(async (names: string[], flags: ExportFlags) => {
    const modelsDir = requireModelsDir(modelsDirFrom(flags));
    const parsed = names.map(parseModelName);
    if (flags.gguf) {
      if (parsed.length !== 1) throw new Error("--gguf exports one model at a time");
      const r = await exportGguf(modelsDir, parsed[0], flags.output, { force: flags.force });
      for (const p of [r.gguf, ...r.extraFiles, r.modelfile]) process.stdout.write(`wrote ${p}\n`);
      if (r.inexact.length > 0) {
        process.stderr.write(`gguf-tool: warning: ${r.modelfile}: ${r.inexact.join(", ")} cannot be written so that they read back exactly\n`);
      }
      return;
    }
    if (flags.output === "-") {
      if (process.stdout.isTTY) throw new Error("refusing to write a tar to a terminal; redirect stdout or give -o <file.tar>");
      const progress = createProgressReporter();
      const r = await exportModelsToStream(
        modelsDir,
        parsed,
        async (chunk) => {
          if (!process.stdout.write(chunk)) await once(process.stdout, "drain");
        },
        (p) => progress.update(p),
      ).finally(() => progress.done());
      for (const w of r.warnings) process.stderr.write(`gguf-tool: warning: ${w}\n`);
      for (const m of r.models) process.stderr.write(`exported '${m}'\n`);
      return;
    }
    const progress = createProgressReporter();
    const r = await exportModels(modelsDir, parsed, flags.output, (p) => progress.update(p)).finally(() => progress.done());
    for (const w of r.warnings) process.stderr.write(`gguf-tool: warning: ${w}\n`);
    for (const m of r.models) process.stdout.write(`exported '${m}'\n`);
    const skipped = r.skippedExisting > 0 ? `, ${r.skippedExisting} already there` : "";
    process.stdout.write(`${r.output}: ${plural(r.models.length, "model")}, ${plural(r.blobs, "blob")} (${humanBytes(r.bytes)} written${skipped})\n`);
  });
}
