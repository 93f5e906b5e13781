/** `gguf-tool import <folder | file.tar> [--as name:tag] [--force]`: brings exported models into the store. */
import type { Command } from "commander";
import { humanBytes } from "../ollama/human-units.ts";
import { importModels } from "../ollama/import.ts";
import { parseModelName } from "../ollama/names.ts";
import { createProgressReporter } from "./progress.ts";
import { type ModelsDirFlags, modelsDirFrom, plural, withModelsDirOption } from "./store-options.ts";

interface ImportFlags extends ModelsDirFlags {
  as?: string;
  force?: boolean;
}

export function register(program: Command): void {
  withModelsDirOption(
    program
      .command("import")
      .description(
        "Import models exported by `gguf-tool export` (a folder or a .tar, read as a stream): every blob's sha256 is checked " +
          "before it is placed, manifests are written last, and nothing outside the store can be written",
      )
      .argument("<source>", "export folder (manifests/ + blobs/), .tar / .tar.gz file, or - for a tar on stdin")
      .option("--as <name>", "install the (single) model under this name[:tag]")
      .option("--force", "replace an installed model of the same name that differs"),
  ).action(async (source: string, flags: ImportFlags) => {
    const modelsDir = modelsDirFrom(flags);
    if (source === "-" && process.stdin.isTTY) throw new Error("import -: stdin is a terminal, not a tar stream");
    const from = source === "-" ? { label: "stdin", stream: process.stdin } : source;
    const progress = createProgressReporter();
    const r = await importModels(modelsDir, from, {
      as: flags.as === undefined ? undefined : parseModelName(flags.as),
      force: flags.force,
      onProgress: (p) => progress.update(p),
    }).finally(() => progress.done());
    for (const w of r.warnings) process.stderr.write(`gguf-tool: warning: ${w}\n`);
    for (const m of r.models) process.stdout.write(`${m.status} '${m.name}'\n`);
    process.stdout.write(`${plural(r.blobsWritten, "blob")} written (${humanBytes(r.bytesWritten)}), ${r.blobsReused} already in ${modelsDir}\n`);
  });
}
