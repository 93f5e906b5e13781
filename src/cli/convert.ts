/**
 * `gguf-tool convert <hf-folder> [-q TYPE] [-o out.gguf]`: a Hugging Face safetensors folder to
 * GGUF in one streaming pass. Parses the arguments, runs the library's convertHfFolder, shows
 * progress on a terminal and prints a one-line summary.
 */
import type { Command } from "commander";
import { convertHfFolder, type ConvertOptions, type ConvertResult } from "../convert/convert.ts";
import { convertAndInstall } from "../convert/install.ts";
import { supportedArchitectures } from "../convert/architectures/index.ts";
import { MIXTURE_NAMES, type MixtureName } from "../quant/mixtures.ts";
import { parseMixtureArg, parseThreadsArg } from "./args.ts";
import { createProgressReporter, formatBytes, formatTypeCounts, warnBeside } from "./progress.ts";
import { type ModelsDirFlags, modelsDirFrom, withModelsDirOption } from "./store-options.ts";

interface ConvertFlags extends ModelsDirFlags {
  install?: string;
  quantize?: MixtureName;
  output?: string;
  threads?: number;
  pre?: string;
  quiet?: boolean;
}

export function register(program: Command): void {
  withModelsDirOption(
    program
      .command("convert")
      .description("Convert a Hugging Face safetensors model folder to GGUF (same bytes as llama.cpp's converter and llama-quantize)")
      .argument("<hf-folder>", `model folder: config.json, *.safetensors, tokenizer files (${supportedArchitectures().join(", ")})`)
      .option("-q, --quantize <TYPE>", `output type: ${MIXTURE_NAMES.join(", ")} (default F16)`, parseMixtureArg)
      .option("-o, --output <file>", "output GGUF (default: <folder>-<TYPE>.gguf in the current folder)")
      .option("--threads <N>", "worker threads (default: all cores)", parseThreadsArg)
      .option("--pre <name>", "tokenizer.ggml.pre to write, overriding the detected pre-tokenizer")
      .option("--install <name[:tag]>", "install the result into the Ollama store (written there directly, no copy)")
      .option("--quiet", "no progress line and no summary"),
  ).action(async (dir: string, flags: ConvertFlags) => {
    const started = performance.now();
    const progress = createProgressReporter({ quiet: flags.quiet });
    if (flags.install !== undefined && flags.output !== undefined) {
      program.error("convert: --install writes into the models folder; it does not take -o", { exitCode: 2 });
    }
    let result: ConvertResult;
    let installed: string | undefined;
    try {
      const options: ConvertOptions = {
        mixture: flags.quantize,
        threads: flags.threads,
        preTokenizer: flags.pre,
        onWarning: warnBeside(progress),
        onProgress: (p) => progress.update(p),
      };
      if (flags.install !== undefined) {
        const r = await convertAndInstall(dir, { ...options, modelsDir: modelsDirFrom(flags), name: flags.install });
        result = r.convert;
        installed = `installed ${r.install.name} (${r.install.manifestDigest.slice(0, 12)}); template: ${r.install.templateChoice}`;
      } else {
        result = await convertHfFolder(dir, { ...options, output: flags.output });
      }
    } finally {
      progress.done();
    }
    if (flags.quiet) return;
    const seconds = (performance.now() - started) / 1000;
    const types = formatTypeCounts(result.typeCounts);
    process.stdout.write(
      `${installed ? "converted" : result.path}: ${result.architecture} ${result.mixture}, ${formatBytes(result.size)}, ${result.tensorCount} tensors (${types}), ${seconds.toFixed(1)} s\n`,
    );
    if (installed) process.stdout.write(`${installed}\n`);
  });
}
