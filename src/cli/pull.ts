/**
 * `gguf-tool pull name[:tag]`: downloads a model from an Ollama registry without Ollama, into the
 * models folder, or with `--to <folder>` into an export folder to carry to an offline machine
 * (`gguf-tool import <folder>` there).
 */
import type { Command } from "commander";
import { pullModel, type PullProgress } from "../ollama/registry.ts";
import { createProgressReporter, formatBytes } from "./progress.ts";
import { type ModelsDirFlags, modelsDirFrom, withModelsDirOption } from "./store-options.ts";

interface PullFlags extends ModelsDirFlags {
  registry?: string;
  insecure?: boolean;
  to?: string;
  quiet?: boolean;
}

export function register(program: Command): void {
  withModelsDirOption(
    program
      .command("pull")
      .description("Download a model from an Ollama registry (no Ollama needed), into the store or an export folder")
      .argument("<name>", "model name[:tag], e.g. llama3.2:1b")
      .option("--registry <url>", "registry base URL (default: https://<the name's host>, i.e. https://registry.ollama.ai)")
      .option("--insecure", "allow a plain http registry")
      .option("--to <folder>", "download into this folder in Ollama's layout (for `gguf-tool import` on another machine)")
      .option("-q, --quiet", "no progress and no summary"),
  ).action(async (name: string, flags: PullFlags) => {
    const started = performance.now();
    const progress = createProgressReporter({ quiet: flags.quiet });
    const onProgress = (p: PullProgress) => {
      if (p.phase === "skip") {
        progress.done();
        if (!flags.quiet) process.stderr.write(`${p.digest.slice(7, 19)}  ${formatBytes(p.size)}  already in the store\n`);
        return;
      }
      if (p.phase === "verify") {
        progress.done();
        if (!flags.quiet) process.stderr.write(`${p.digest.slice(7, 19)}  ${formatBytes(p.size)}  downloaded, verifying\n`);
        return;
      }
      progress.update({ item: 1, itemCount: 1, label: p.digest.slice(7, 19), bytesDone: p.done, bytesTotal: p.size });
    };
    let result;
    try {
      result = await pullModel({
        modelsDir: flags.to ?? modelsDirFrom(flags),
        name,
        registry: flags.registry,
        insecure: flags.insecure,
        onProgress,
      });
    } finally {
      progress.done();
    }
    if (flags.quiet) return;
    const downloaded = result.blobs.filter((b) => b.downloaded);
    const bytes = downloaded.reduce((s, b) => s + b.size, 0);
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(
      `pulled ${result.name} (${result.manifestDigest.slice(0, 12)}): ${downloaded.length} of ${result.blobs.length} blobs downloaded, ${formatBytes(bytes)}, ${seconds.toFixed(1)} s${flags.to ? `, into ${flags.to}` : ""}\n`,
    );
  });
}
