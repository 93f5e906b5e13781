/**
 * `gguf-tool inspect <target>`: what a model file, folder, blob or installed model is.
 * Resolving and summarising is src/inspect's; this parses options and prints.
 */
import type { Command } from "commander";
import { ToolError } from "../formats/errors.ts";
import { inspectJson } from "../inspect/json.ts";
import { inspectTarget, readChatTemplate } from "../inspect/target.ts";
import { renderMetadata, renderSummary, renderTensors } from "./inspect-text.ts";

interface InspectFlags {
  metadata?: boolean;
  tensors?: boolean;
  template?: boolean;
  json?: boolean;
  full?: boolean;
  modelsDir?: string;
}

export function register(program: Command): void {
  program
    .command("inspect")
    .description("Show what a model is: a .gguf file, an Ollama blob or digest, an installed model name[:tag], a .safetensors file or a Hugging Face folder")
    .argument("<target>", "file, folder, sha256:<hex> digest or model name")
    .option("--metadata", "also list every metadata key (long arrays abbreviated)")
    .option("--tensors", "also list every tensor: name, type, shape, bytes")
    .option("--template", "print only the whole chat template")
    .option("--json", "print one JSON object (metadata, tensors, summary)")
    .option("--full", "with --json or --metadata: do not abbreviate arrays longer than 64 elements")
    .option("--models-dir <dir>", "Ollama models folder for digests and names (default: OLLAMA_MODELS or ~/.ollama/models)")
    .action(async (target: string, flags: InspectFlags) => {
      const subject = await inspectTarget(target, { modelsDir: flags.modelsDir, eagerArrays: flags.full === true });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(await inspectJson(subject, { full: flags.full === true }), null, 2)}\n`);
        return;
      }
      if (flags.template) {
        const template = await readChatTemplate(subject);
        if (template === undefined) throw new ToolError(target, "has no chat template");
        process.stdout.write(template.endsWith("\n") ? template : `${template}\n`);
        return;
      }
      let out = renderSummary(subject);
      if (flags.metadata) out += `\n${await renderMetadata(subject, flags.full === true)}`;
      if (flags.tensors) out += `\n${renderTensors(subject)}`;
      process.stdout.write(out);
    });
}
