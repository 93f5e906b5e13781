/**
 * `convert … --install name:tag`: the converted GGUF is written straight into the Ollama store's
 * private temp folder (same filesystem as blobs/), hashed while it is written, then installed:
 * renamed into blobs/, never copied. Anything left of a failed run is removed; the store keeps
 * its previous state.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { installModel, type InstallResult } from "../ollama/install.ts";
import { releaseTempPath, storeTempDir, trackedTempPath } from "../ollama/store-fs.ts";
import { convertHfFolder, type ConvertOptions, type ConvertResult } from "./convert.ts";

export interface ConvertInstallOptions extends Omit<ConvertOptions, "output" | "tempDir"> {
  modelsDir: string;
  /** `name[:tag]` by Ollama's rules */
  name: string;
  onStatus?: (line: string) => void;
}

export async function convertAndInstall(dir: string, options: ConvertInstallOptions): Promise<{ convert: ConvertResult; install: InstallResult }> {
  const { modelsDir } = options;
  const tempDir = await storeTempDir(modelsDir);
  const gguf = trackedTempPath(tempDir, ".gguf");
  try {
    const convert = await convertHfFolder(dir, { ...options, output: gguf, tempDir });
    const install = await installModel({
      modelsDir,
      name: options.name,
      ggufPath: convert.path,
      ggufDigest: `sha256:${convert.sha256}`,
      onStatus: options.onStatus,
    });
    return { convert, install };
  } finally {
    // renamed into blobs/ on success; on failure this removes the converted file
    await rm(gguf, { force: true });
    releaseTempPath(gguf);
  }
}
