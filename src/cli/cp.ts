/** `gguf-tool cp <source> <destination>`: copies a model's manifest byte for byte, as `ollama cp` does. */
import type { Command } from "commander";
import { requireModelsDir } from "../ollama/models-dir.ts";
import { displayName, parseModelName } from "../ollama/names.ts";
import { copyModel } from "../ollama/store-maintain.ts";
import { type ModelsDirFlags, modelsDirFrom, withModelsDirOption } from "./store-options.ts";

export function register(program: Command): void {
  withModelsDirOption(
    program
      .command("cp")
      .alias("copy")
      .description("Copy a model under a new name (the manifest only; blobs are shared), as `ollama cp` does")
      .argument("<source>", "installed model, name[:tag]")
      .argument("<destination>", "new name[:tag]; an existing model of that name is replaced"),
  ).action(async (source: string, destination: string, flags: ModelsDirFlags) => {
    const modelsDir = requireModelsDir(modelsDirFrom(flags));
    const r = await copyModel(modelsDir, parseModelName(source), parseModelName(destination));
    process.stdout.write(`copied '${displayName(r.from)}' to '${displayName(r.to)}'\n`);
  });
}
