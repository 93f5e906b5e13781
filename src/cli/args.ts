/** Argument parsers shared by the commands (commander turns their errors into usage errors, exit 2). */
import { InvalidArgumentError } from "commander";
import { MIXTURE_NAMES, parseMixture, type MixtureName } from "../quant/mixtures.ts";

/** --pure-style aliases llama-quantize accepts for the _M mixtures. */
const MIXTURE_ALIASES = ["Q3_K", "Q4_K", "Q5_K"];

export function parseMixtureArg(value: string): MixtureName {
  const m = parseMixture(value);
  if (!m) throw new InvalidArgumentError(`unknown type; valid types: ${[...MIXTURE_NAMES, ...MIXTURE_ALIASES].join(", ")}`);
  return m;
}

export function parseThreadsArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new InvalidArgumentError("must be a whole number from 1 to 1024");
  return n;
}
