/**
 * Child process of bench/convert.ts, so that each measured job has a process (and a peak RSS)
 * of its own:
 *   node --import tsx bench/convert-child.ts convert <hf-folder> <out.gguf> <MIXTURE>
 *   node --import tsx bench/convert-child.ts quantize <in.gguf> <out.gguf> <MIXTURE>
 * Runs the library call the CLI command runs (convertHfFolder / requantizeGguf, default
 * threads) and prints one JSON line: wall and CPU seconds of the job (CPU of all the process's
 * threads, startup left out), the process's peak RSS (getrusage's ru_maxrss) and the output's sha256.
 */
import { convertHfFolder } from "../src/convert/convert.ts";
import { parseMixture } from "../src/quant/mixtures.ts";
import { requantizeGguf } from "../src/quant/requantize.ts";

export interface ChildReport {
  seconds: number;
  cpuSeconds: number;
  maxRssBytes: number;
  /** of the output file */
  sha256: string;
}

const [job, input, output, mixtureArg] = process.argv.slice(2);
const mixture = parseMixture(mixtureArg ?? "");
if ((job !== "convert" && job !== "quantize") || !input || !output || !mixture) {
  process.stderr.write("usage: convert-child.ts convert|quantize <input> <output.gguf> <MIXTURE>\n");
  process.exit(2);
}
const started = performance.now();
const cpuStarted = process.cpuUsage();
const { sha256 } = job === "convert" ? await convertHfFolder(input, { mixture, output }) : await requantizeGguf(input, output, { mixture });
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuStarted);
const report: ChildReport = {
  seconds,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  maxRssBytes: process.resourceUsage().maxRSS * 1024, // kilobytes on Linux
  sha256,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
