/** `gguf-tool rm <name>...`: deletes models as `ollama rm` does (manifest, unshared blobs, empty folders). */
import type { Command } from "commander";
import { humanBytes } from "../ollama/human-units.ts";
import { requireModelsDir } from "../ollama/models-dir.ts";
import { displayName, parseModelName } from "../ollama/names.ts";
import { removeModel } from "../ollama/store-maintain.ts";
import { type ModelsDirFlags, modelsDirFrom, plural, withModelsDirOption } from "./store-options.ts";

export function register(program: Command): void {
  withModelsDirOption(
    program
      .command("rm")
      .alias("remove")
      .description("Remove models: the manifest, then the blobs no other model uses, then empty folders")
      .argument("<name...>", "installed models, name[:tag]"),
  ).action(async (names: string[], flags: ModelsDirFlags) => {
    const modelsDir = requireModelsDir(modelsDirFrom(flags));
    const parsed = names.map(parseModelName); // every name valid before anything is deleted
    for (const n of parsed) {
      const r = await removeModel(modelsDir, n);
      const freed = r.removed.reduce((s, b) => s + b.size, 0);
      const shared = r.shared.length > 0 ? `, ${r.shared.length} kept: used by other models` : "";
      process.stdout.write(`deleted '${displayName(r.name)}' (${plural(r.removed.length, "blob")}, ${humanBytes(freed)} freed${shared})\n`);
      if (r.keptBecauseUnreadable) {
        process.stderr.write(
          `gguf-tool: warning: kept its blobs because these manifests cannot be read and may use them: ${r.keptBecauseUnreadable.join(", ")}\n`,
        );
      }
    }
  });
}
