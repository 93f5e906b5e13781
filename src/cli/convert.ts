/**
 * `gguf-tool convert <hf-folder> [-q TYPE] [-o out.gguf]`: a Hugging Face safetensors folder to
 * GGUF in one streaming pass. Parses the arguments, runs the library's convertHfFolder, shows
 * progress on a terminal and prints a one-line summary.
 */
import type { Command } from "commander";
import { ggmlTypeName } from "../formats/gguf/types.ts";
import { convertHfFolder } from "../convert/convert.ts";
import { supportedArchitectures } from "../convert/architectures/index.ts";
import { MIXTURE_NAMES, type MixtureName } from "../quant/mixtures.ts";
import { parseMixtureArg, parseThreadsArg } from "./args.ts";
import { createProgressReporter, formatBytes } from "./progress.ts";

interface ConvertFlags {
  quantize?: MixtureName;
  output?: string;
  threads?: number;
  pre?: string;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command("convert")
    .description("Convert a Hugging Face safetensors model folder to GGUF (same bytes as llama.cpp's converter and llama-quantize)")
    .argument("<hf-folder>", `model folder: config.json, *.safetensors, tokenizer files (${supportedArchitectures().join(", ")})`)
    .option("-q, --quantize <TYPE>", `output type: ${MIXTURE_NAMES.join(", ")} (default F16)`, parseMixtureArg)
    .option("-o, --output <file>", "output GGUF (default: <folder>-<TYPE>.gguf in the current folder)")
    .option("--threads <N>", "worker threads (default: all cores)", parseThreadsArg)
    .option("--pre <name>", "tokenizer.ggml.pre to write, overriding the detected pre-tokenizer")
    .option("--quiet", "no progress line and no summary")
    .action(async (dir: string, flags: ConvertFlags) => {
      const started = performance.now();
      const progress = createProgressReporter({ quiet: flags.quiet });
      let result;
      try {
        result = await convertHfFolder(dir, {
          mixture: flags.quantize,
          output: flags.output,
          threads: flags.threads,
          preTokenizer: flags.pre,
          onWarning: (message) => {
            progress.done();
            process.stderr.write(`gguf-tool: warning: ${message}\n`);
          },
          onProgress: (p) => progress.update(p),
        });
      } finally {
        progress.done();
      }
      if (flags.quiet) return;
      const seconds = (performance.now() - started) / 1000;
      const types = result.typeCounts.map((t) => `${ggmlTypeName(t.type)} ${t.count}`).join(", ");
      process.stdout.write(
        `${result.path}: ${result.architecture} ${result.mixture}, ${formatBytes(result.size)}, ${result.tensorCount} tensors (${types}), ${seconds.toFixed(1)} s\n`,
      );
    });
}
