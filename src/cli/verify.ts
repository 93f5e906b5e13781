/** `gguf-tool verify [name...]`: re-hashes blobs; reports missing or corrupt ones and the models they break. */
import type { Command } from "commander";
import { humanBytes } from "../ollama/human-units.ts";
import { requireModelsDir } from "../ollama/models-dir.ts";
import { parseModelName } from "../ollama/names.ts";
import { verifyStore } from "../ollama/store-maintain.ts";
import { createProgressReporter } from "./progress.ts";
import { type ModelsDirFlags, modelsDirFrom, plural, withModelsDirOption } from "./store-options.ts";

interface VerifyFlags extends ModelsDirFlags {
  json?: boolean;
}

export function register(program: Command): void {
  withModelsDirOption(
    program
      .command("verify")
      .description("Re-hash the blobs of installed models (default: all) and report missing or corrupt ones; exit 1 if any")
      .argument("[name...]", "models to check, name[:tag]")
      .option("--json", "print the result as JSON"),
  ).action(async (names: string[], flags: VerifyFlags) => {
    const modelsDir = requireModelsDir(modelsDirFrom(flags));
    const progress = createProgressReporter();
    const r = await verifyStore(modelsDir, names.map(parseModelName), (p) => progress.update(p)).finally(() => progress.done());
    const bad = r.problems.length > 0 || r.unreadable.length > 0;
    if (flags.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else {
      for (const p of r.problems) {
        process.stdout.write(`${p.problem.toUpperCase()} ${p.digest} (${p.mediaType.replace(/^application\/vnd\.(ollama\.image\.|docker\.container\.image\.v1\+json)/, "") || "config"}): ${p.detail}; breaks ${p.models.join(", ")}\n`);
      }
      for (const u of r.unreadable) process.stdout.write(`UNREADABLE ${u.path}: ${u.reason}\n`);
      const broken = r.models.filter((m) => !m.ok).length;
      process.stdout.write(
        `${plural(r.models.length, "model")}, ${plural(r.blobsChecked, "blob")} (${humanBytes(r.bytesChecked)}) checked: ` +
          (bad ? `${plural(r.problems.length, "bad blob")}, ${plural(broken, "broken model")}${r.unreadable.length ? `, ${plural(r.unreadable.length, "unreadable manifest")}` : ""}\n` : "all OK\n"),
      );
    }
    if (bad) process.exitCode = 1;
  });
}
