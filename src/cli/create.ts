/**
 * `gguf-tool create name[:tag] [-f Modelfile] [--from file.gguf] [--link]`: installs a model into
 * the Ollama store without a server, as `ollama create` would write it.
 */
import type { Command } from "commander";
import { installModel } from "../ollama/install.ts";
import { emptyModelfile, readModelfile } from "../ollama/modelfile.ts";
import { createProgressReporter } from "./progress.ts";
import { type ModelsDirFlags, modelsDirFrom, withModelsDirOption } from "./store-options.ts";

interface CreateFlags extends ModelsDirFlags {
  file?: string;
  from?: string;
  link?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  withModelsDirOption(
    program
      .command("create")
      .description("Install a model into the Ollama store (no server needed), as `ollama create` does")
      .argument("<name>", "model name[:tag], e.g. mymodel or alice/mymodel:q4")
      .option("-f, --file <Modelfile>", "Modelfile (FROM, TEMPLATE, SYSTEM, PARAMETER, LICENSE, MESSAGE, ADAPTER...)")
      .option("--from <file.gguf>", "the model GGUF (instead of, or with, a Modelfile without a model FROM)")
      .option(
        "--link",
        "hard-link GGUFs into the store instead of copying them (same filesystem only; the blob and the " +
          "original are then one file: never modify or overwrite the original afterwards)",
      )
      .option("-q, --quiet", "print only errors"),
  ).action(async (name: string, flags: CreateFlags) => {
    if (!flags.file && flags.from === undefined) {
      program.error("create needs -f <Modelfile> or --from <file.gguf>", { exitCode: 2 });
    }
    const modelfile = flags.file ? await readModelfile(flags.file, { requireFrom: flags.from === undefined }) : emptyModelfile();
    for (const w of modelfile.warnings) process.stderr.write(`gguf-tool: warning: ${flags.file}: ${w}\n`);
    const progress = createProgressReporter({ quiet: flags.quiet });
    const say = (line: string) => {
      progress.done();
      if (!flags.quiet) process.stderr.write(`${line}\n`);
    };
    const r = await installModel({
      modelsDir: modelsDirFrom(flags),
      name,
      modelfile,
      ggufPath: flags.from,
      link: flags.link,
      onStatus: say,
      onProgress: (p) => progress.update(p),
    }).finally(() => progress.done());
    for (const w of r.warnings) process.stderr.write(`gguf-tool: warning: ${w}\n`);
    say(`template: ${r.templateChoice}`);
    if (!flags.quiet) process.stdout.write(`created ${r.name} (${r.manifestDigest.slice(0, 12)})\n`);
  });
}
