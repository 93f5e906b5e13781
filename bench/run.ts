/**
 * `npm run bench [-- --short] [suite...]`: runs every suite (or the named ones), prints each
 * suite's table (MB/s of input) as soon as it is done, then the ratio targets of the issues, and
 * writes bench/results.json. `--short` keeps the whole run under two minutes on 2 cores (CI runs
 * it). Exit code 1 if a suite or task errored; ratios below target are reported, not failed
 * (shared CI cores make them noisy).
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import * as convert from "./convert.ts";
import * as headerParse from "./header-parse.ts";
import * as kernels from "./kernels.ts";
import * as pipeline from "./pipeline.ts";
import * as tokenizer from "./tokenizer.ts";
import type { BenchOptions, BenchResult, BenchSuite } from "./types.ts";

/** One import and one entry per suite. */
const suites: Array<{ name: string; run: BenchSuite }> = [
  { name: "kernels", run: kernels.run },
  { name: "pipeline", run: pipeline.run },
  { name: "convert", run: convert.run },
  { name: "header-parse", run: headerParse.run },
  { name: "tokenizer", run: tokenizer.run },
];

const RESULTS = fileURLToPath(new URL("./results.json", import.meta.url));

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const opts: BenchOptions = { short: args.includes("--short") };
  const wanted = args.filter((a) => !a.startsWith("--"));
  const unknown = wanted.filter((name) => !suites.some((s) => s.name === name));
  if (unknown.length > 0) {
    console.error(`bench: unknown suite ${unknown.join(", ")} (suites: ${suites.map((s) => s.name).join(", ")})`);
    return 2;
  }
  const started = Date.now();
  const loadBefore = os.loadavg()[0];
  const results: BenchResult[] = [];
  for (const suite of suites.filter((s) => wanted.length === 0 || wanted.includes(s.name))) {
    process.stderr.write(`bench: ${suite.name}...`);
    const suiteStarted = Date.now();
    let suiteResults: BenchResult[];
    try {
      suiteResults = await suite.run(opts);
    } catch (err) {
      suiteResults = [{ suite: suite.name, name: "(suite)", status: "error", bytesPerOp: 0, note: err instanceof Error ? err.message : String(err) }];
    }
    process.stderr.write(` ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s\n`);
    printResults(suiteResults);
    results.push(...suiteResults);
  }
  const seconds = (Date.now() - started) / 1000;
  printRatios(results);
  // wall-clock MB/s mean little when other work shares the cores: say how busy they were
  console.log(`\n${os.availableParallelism()} cores, load average ${loadBefore.toFixed(2)} at start, ${os.loadavg()[0].toFixed(2)} at end`);
  writeFileSync(
    RESULTS,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        cpus: os.availableParallelism(),
        loadavg: { start: loadBefore, end: os.loadavg()[0] },
        short: opts.short,
        seconds,
        results,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\n${results.length} results in ${seconds.toFixed(1)} s, written to ${RESULTS}`);
  return results.some((r) => r.status === "error") ? 1 : 0;
}

function printResults(results: BenchResult[]): void {
  console.table(
    results.map((r) => ({
      suite: r.suite,
      task: r.name,
      "MB/s": r.mbPerSec === undefined ? r.status : Number(r.mbPerSec.toFixed(1)),
      "MB/cpu-s": r.cpuMbPerSec === undefined ? "" : Number(r.cpuMbPerSec.toFixed(1)),
      "mean ms": r.meanMs === undefined ? "" : Number(r.meanMs.toFixed(2)),
      "±%": r.rme === undefined ? "" : Number(r.rme.toFixed(1)),
      samples: r.samples ?? "",
      note: r.note ?? "",
    })),
  );
}

function printRatios(results: BenchResult[]): void {
  const ratios = results.filter((r) => r.ratio);
  if (ratios.length === 0) return;
  console.log("\nTargets (ratios measured in this run):");
  console.table(
    ratios.map((r) => ({
      task: `${r.suite}: ${r.name}`,
      against: r.ratio!.against,
      ratio: Number(r.ratio!.value.toFixed(2)),
      target: r.ratio!.target,
      reached: r.ratio!.value >= r.ratio!.target ? "yes" : "NO",
    })),
  );
}

process.exitCode = await main();
