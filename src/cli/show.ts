/**
 * `gguf-tool show name[:tag] [--modelfile | --template | --parameters | --license | --system] [--json]`:
 * what `ollama show` prints, read from the store without a server.
 */
import type { Command } from "commander";
import { requireModelsDir } from "../ollama/models-dir.ts";
import { formatParameters, formatShow, showJson, showModel } from "../ollama/show.ts";
import { type ModelsDirFlags, modelsDirFrom, withModelsDirOption } from "./store-options.ts";

interface ShowFlags extends ModelsDirFlags {
  modelfile?: boolean;
  template?: boolean;
  parameters?: boolean;
  license?: boolean;
  system?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  withModelsDirOption(
    program
      .command("show")
      .description("Show an installed model's details, parameters, template or Modelfile, as `ollama show` does")
      .argument("<name>", "installed model name[:tag]")
      .option("--modelfile", "print a Modelfile that recreates the model (gguf-tool create -f)")
      .option("--template", "print the chat template (Go text/template)")
      .option("--parameters", "print the parameters")
      .option("--license", "print the license")
      .option("--system", "print the system prompt")
      .option("--json", "print everything as JSON, like Ollama's /api/show"),
  ).action(async (name: string, flags: ShowFlags) => {
    const chosen = (["modelfile", "template", "parameters", "license", "system"] as const).filter((k) => flags[k]);
    if (chosen.length > 1) program.error(`show: choose one of --${chosen.join(", --")}`, { exitCode: 2 });
    const info = await showModel(requireModelsDir(modelsDirFrom(flags)), name);
    if (info.templateError) process.stderr.write(`gguf-tool: warning: ${info.name}: the template layer does not parse (${info.templateError}); Ollama will not list this model\n`);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(showJson(info), null, 2)}\n`);
      return;
    }
    switch (chosen[0]) {
      case "modelfile":
        for (const c of info.modelfileInexact) process.stderr.write(`gguf-tool: warning: ${info.name}: the ${c} value cannot be written exactly in a Modelfile\n`);
        process.stdout.write(info.modelfile);
        return;
      case "template":
        process.stdout.write(`${info.template ?? ""}\n`);
        return;
      case "parameters":
        process.stdout.write(`${formatParameters(info.params)}\n`);
        return;
      case "license":
        process.stdout.write(`${info.licenses.join("\n")}\n`);
        return;
      case "system":
        process.stdout.write(`${info.system ?? ""}\n`);
        return;
      default:
        process.stdout.write(formatShow(info));
    }
  });
}
