/** `gguf-tool prune [--yes]`: lists (and with --yes deletes) orphaned blobs and leftover temporary files. */
import { type Command, InvalidArgumentError } from "commander";
import { humanTime } from "../ollama/human-time.ts";
import { humanBytes } from "../ollama/human-units.ts";
import { requireModelsDir } from "../ollama/models-dir.ts";
import { executePrune, planPrune, PRUNE_GRACE_MS } from "../ollama/store-maintain.ts";
import { type ModelsDirFlags, modelsDirFrom, plural, withModelsDirOption } from "./store-options.ts";

interface PruneFlags extends ModelsDirFlags {
  yes?: boolean;
  minAge: number;
}

function parseMinutes(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError("must be a number of minutes, 0 or more");
  return n;
}

export function register(program: Command): void {
  withModelsDirOption(
    program
      .command("prune")
      .description(
        "List blobs no model references and leftover partial/temporary files, with their sizes; delete them only with --yes. " +
          "A blob a readable manifest references is never deleted. Do not run while Ollama is pulling.",
      )
      .option("--yes", "delete what is listed")
      .option("--min-age <minutes>", "only files untouched for this long (a write may be in progress)", parseMinutes, PRUNE_GRACE_MS / 60_000),
  ).action(async (flags: PruneFlags) => {
    const modelsDir = requireModelsDir(modelsDirFrom(flags));
    const plan = await planPrune(modelsDir, flags.minAge * 60_000);
    const now = new Date();
    for (const i of plan.items) process.stdout.write(`${humanBytes(i.size).padStart(8)}  ${i.kind}  ${i.path}\n`);
    for (const i of plan.recent) {
      process.stdout.write(`${humanBytes(i.size).padStart(8)}  ${i.kind} (kept: modified ${humanTime(i.mtime, now).toLowerCase()})  ${i.path}\n`);
    }
    if (plan.heldBackOrphans > 0) {
      process.stderr.write(
        `gguf-tool: warning: ${plural(plan.heldBackOrphans, "unreferenced blob")} kept because these manifests cannot be read and may use them: ${plan.unreadable.map((u) => `${u.path} (${u.reason})`).join(", ")}\n`,
      );
    }
    const total = plan.items.reduce((s, i) => s + i.size, 0);
    if (plan.items.length === 0) {
      process.stdout.write("nothing to prune\n");
      return;
    }
    if (!flags.yes) {
      process.stdout.write(`${plural(plan.items.length, "file")}, ${humanBytes(total)}: run again with --yes to delete them\n`);
      return;
    }
    const done = await executePrune(modelsDir, plan);
    process.stdout.write(`deleted ${plural(done.deleted.length, "file")}, ${humanBytes(done.bytes)} freed\n`);
  });
}
