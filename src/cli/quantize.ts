/**
 * `gguf-tool quantize <in.gguf> <out.gguf> <TYPE>`: llama-quantize's interface. Parses the
 * arguments, runs the library's requantizeGguf, shows progress on a terminal and prints a
 * one-line summary.
 */
import { InvalidArgumentError, type Command } from "commander";
import { GGML_TYPE_TRAITS, ggmlTypeName, type GgmlType } from "../formats/gguf/types.ts";
import { isQuantizable } from "../quant/kernels/index.ts";
import { MIXTURE_NAMES, type MixtureName } from "../quant/mixtures.ts";
import { requantizeGguf } from "../quant/requantize.ts";
import { parseMixtureArg, parseThreadsArg } from "./args.ts";
import { createProgressReporter, formatBytes, formatTypeCounts, warnBeside } from "./progress.ts";

/** The ggml types a tensor can be written as (`--output-tensor-type`, `--token-embedding-type`), by name. */
function tensorTypesByName(): Map<string, GgmlType> {
  const types = new Map<string, GgmlType>();
  for (const id of Object.keys(GGML_TYPE_TRAITS)) {
    const type = Number(id) as GgmlType;
    if (isQuantizable(type)) types.set(ggmlTypeName(type), type);
  }
  return types;
}

function parseTensorTypeArg(value: string): GgmlType {
  const types = tensorTypesByName();
  const type = types.get(value.trim().toUpperCase());
  if (type === undefined) throw new InvalidArgumentError(`unknown tensor type; valid types: ${[...types.keys()].join(", ")}`);
  return type;
}

interface QuantizeFlags {
  pure?: boolean;
  outputTensorType?: GgmlType;
  tokenEmbeddingType?: GgmlType;
  threads?: number;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command("quantize")
    .description("Quantize a GGUF model with a llama.cpp type mixture (byte-identical to llama-quantize)")
    .argument("<in.gguf>", "input GGUF (F32, F16, BF16, or already quantized: dequantized, then requantized)")
    .argument("<out.gguf>", "output GGUF, written under a temporary name and renamed when complete")
    .argument("<TYPE>", `mixture: ${MIXTURE_NAMES.join(", ")} (any case; Q3_K, Q4_K, Q5_K mean the _M mixtures)`, parseMixtureArg)
    .option("--pure", "give every quantizable tensor the mixture's default type (no per-tensor rules)")
    .option("--output-tensor-type <T>", "type of output.weight (e.g. Q8_0, F16)", parseTensorTypeArg)
    .option("--token-embedding-type <T>", "type of token_embd.weight", parseTensorTypeArg)
    .option("--threads <N>", "worker threads (default: all cores)", parseThreadsArg)
    .option("--quiet", "no progress line and no summary")
    .action(async (inPath: string, outPath: string, mixture: MixtureName, flags: QuantizeFlags) => {
      const started = performance.now();
      const progress = createProgressReporter({ quiet: flags.quiet });
      let result;
      try {
        result = await requantizeGguf(inPath, outPath, {
          mixture,
          pure: flags.pure,
          outputTensorType: flags.outputTensorType,
          tokenEmbeddingType: flags.tokenEmbeddingType,
          threads: flags.threads,
          onWarning: warnBeside(progress),
          onProgress: (p) => progress.update(p),
        });
      } finally {
        progress.done();
      }
      if (flags.quiet) return;
      const seconds = (performance.now() - started) / 1000;
      const types = formatTypeCounts(result.typeCounts);
      process.stdout.write(
        `${result.path}: ${mixture}, ${formatBytes(result.size)}, ${result.tensorCount} tensors (${types}), ${seconds.toFixed(1)} s\n`,
      );
    });
}
