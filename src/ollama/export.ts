/**
 * Getting models out of the store: `export` writes manifests and exactly their blobs in Ollama's own
 * layout (a folder, or a tar of it) that `import` (or a plain copy into a models dir) takes back;
 * `export --gguf` writes the plain model GGUF plus a Modelfile that recreates the model.
 * Every output file is written under a temporary name and renamed when complete, and every blob
 * is re-hashed as it is copied, so a corrupt store never yields a silently corrupt export.
 */
import { mkdir } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { createAtomicFile, type AtomicFile } from "../formats/atomic-file.ts";
import { fileSize } from "../formats/file.ts";
import { ToolError } from "../formats/errors.ts";
import { blobFileName, blobPath, type ByteSource, readBlobVerified } from "./blobs.ts";
import { readInstalledModel } from "./installed.ts";
import { type Layer, type ManifestFile, manifestBlobs, readManifest } from "./manifest.ts";
import { printModelfile } from "./modelfile.ts";
import { type OnStoreProgress, ProgressTracker } from "./progress.ts";
import { displayName, type ModelName } from "./names.ts";
import { TarWriter } from "./tar.ts";

export interface ExportResult {
  output: string;
  format: "folder" | "tar";
  /** display names of the exported models */
  models: string[];
  blobs: number;
  /** bytes of blob data exported */
  bytes: number;
  /** blobs already in the output folder with the right size, not copied again */
  skippedExisting: number;
  warnings: string[];
}

/** Writes all of `source` to an open atomic file. */
async function writeAll(file: AtomicFile, source: ByteSource): Promise<void> {
  for await (const chunk of source) {
    let off = 0;
    while (off < chunk.byteLength) off += (await file.handle.write(chunk, off, chunk.byteLength - off)).bytesWritten;
  }
}

/** Writes `dest` from `source` through a temporary file; nothing is left at `dest` on failure. */
async function writeFileAtomically(dest: string, source: ByteSource): Promise<void> {
  const file = await createAtomicFile(dest);
  try {
    await writeAll(file, source);
  } catch (err) {
    await file.abort();
    throw err;
  }
  await file.commit();
}

/** The manifests to export, each once, and their blobs, each once, all checked present first. */
async function collect(modelsDir: string, names: ModelName[]): Promise<{ manifests: ManifestFile[]; blobs: Layer[]; warnings: string[] }> {
  const manifests: ManifestFile[] = [];
  for (const n of names) {
    const m = await readManifest(modelsDir, n);
    if (!manifests.some((x) => x.path === m.path)) manifests.push(m);
  }
  const blobs = new Map<string, Layer>();
  for (const m of manifests) for (const l of manifestBlobs(m.manifest)) blobs.set(l.digest, l);
  for (const l of blobs.values()) {
    const size = await fileSize(blobPath(modelsDir, l.digest));
    if (size === undefined) throw new ToolError(l.digest, "blob is missing from the store (run gguf-tool verify)");
    if (size !== l.size) throw new ToolError(l.digest, `blob is ${size} bytes but the manifest says ${l.size} (run gguf-tool verify)`);
  }
  const warnings = manifests
    .filter((m) => m.name.host.includes(":"))
    .map((m) => `${displayName(m.name)}: its host has a ":" (a port), so this export cannot be copied onto Windows`);
  return { manifests, blobs: [...blobs.values()], warnings };
}

const manifestRelPath = (n: ModelName) => ["manifests", n.host, n.namespace, n.model, n.tag];

/**
 * Exports models to `output`: a `.tar` file, or else a folder (created if needed; other exports
 * already in it are kept). Layout: `manifests/<host>/<namespace>/<model>/<tag>` with each manifest's
 * exact bytes, and `blobs/sha256-<hex>` (no `:`, so Windows can hold it). In a folder the blobs are
 * written first and the manifests last; a tar has the manifests first so `import` can check them
 * before reading any blob.
 */
export async function exportModels(
  modelsDir: string,
  names: ModelName[],
  output: string,
  onProgress?: OnStoreProgress,
): Promise<ExportResult> {
  if (/\.(t?gz|tar\.(gz|bz2|xz|zst))$/i.test(output)) {
    // quantized weights barely compress; a compressor in a pipe is the user's choice
    throw new ToolError(output, "compressed output is not written directly; use -o <file.tar>, or -o - | gzip > file.tar.gz (import reads .tar.gz)");
  }
  const { manifests, blobs, warnings } = await collect(modelsDir, names);
  const result: ExportResult = {
    output,
    format: output.toLowerCase().endsWith(".tar") ? "tar" : "folder",
    models: manifests.map((m) => displayName(m.name)),
    blobs: blobs.length,
    bytes: 0,
    skippedExisting: 0,
    warnings,
  };
  if (result.format === "tar") {
    await exportTar(modelsDir, manifests, blobs, output, onProgress);
    result.bytes = blobs.reduce((s, l) => s + l.size, 0);
    return result;
  }
  try {
    await mkdir(join(output, "blobs"), { recursive: true });
  } catch (err) {
    throw new ToolError(output, `cannot create the export folder: ${(err as Error).message}`);
  }
  const progress = new ProgressTracker(blobs.length, blobs.reduce((s, l) => s + l.size, 0), onProgress);
  for (const l of blobs) {
    const dest = join(output, "blobs", blobFileName(l.digest));
    if ((await fileSize(dest)) === l.size) {
      result.skippedExisting++;
      progress.setTotals(blobs.length - result.skippedExisting, blobs.reduce((s, b) => s + b.size, 0) - l.size);
      continue;
    }
    await writeFileAtomically(dest, progress.track(l.digest, readBlobVerified(modelsDir, l.digest, l.size)));
    result.bytes += l.size;
  }
  for (const m of manifests) {
    const rel = manifestRelPath(m.name);
    await mkdir(join(output, ...rel.slice(0, -1)), { recursive: true });
    await writeFileAtomically(join(output, ...rel), [m.bytes]);
  }
  return result;
}

async function exportTar(
  modelsDir: string,
  manifests: ManifestFile[],
  blobs: Layer[],
  output: string,
  onProgress?: OnStoreProgress,
): Promise<void> {
  const file = await createAtomicFile(output);
  try {
    await writeTarExport(modelsDir, manifests, blobs, (chunk) => writeAll(file, [chunk]), onProgress);
  } catch (err) {
    await file.abort();
    throw err;
  }
  await file.commit();
}

/** The tar itself: the manifests (with their folders) first, then the blobs, each re-hashed as it goes. */
async function writeTarExport(
  modelsDir: string,
  manifests: ManifestFile[],
  blobs: Layer[],
  sink: (chunk: Buffer) => Promise<void>,
  onProgress?: OnStoreProgress,
): Promise<void> {
  const tar = new TarWriter(sink);
  const dirs = new Set<string>();
  for (const m of manifests) {
    const rel = manifestRelPath(m.name);
    for (let i = 1; i < rel.length; i++) {
      const d = rel.slice(0, i).join("/");
      if (dirs.has(d)) continue;
      dirs.add(d);
      await tar.addDirectory(d, m.modifiedAt);
    }
    await tar.addFile(rel.join("/"), m.bytes.length, [m.bytes], m.modifiedAt);
  }
  const now = new Date();
  await tar.addDirectory("blobs", now);
  const progress = new ProgressTracker(blobs.length, blobs.reduce((s, l) => s + l.size, 0), onProgress);
  for (const l of blobs) {
    await tar.addFile(`blobs/${blobFileName(l.digest)}`, l.size, progress.track(l.digest, readBlobVerified(modelsDir, l.digest, l.size)), now);
  }
  await tar.finish();
}

/**
 * Exports models as a tar written through `sink` (e.g. a pipe to another machine), in the same
 * form as {@link exportModels} writes a `.tar`. If a blob turns out corrupt the stream stops with a
 * ToolError, and the reader sees a truncated tar, which `import` refuses.
 */
export async function exportModelsToStream(
  modelsDir: string,
  names: ModelName[],
  sink: (chunk: Buffer) => Promise<void>,
  onProgress?: OnStoreProgress,
): Promise<ExportResult> {
  const { manifests, blobs, warnings } = await collect(modelsDir, names);
  await writeTarExport(modelsDir, manifests, blobs, sink, onProgress);
  return {
    output: "-",
    format: "tar",
    models: manifests.map((m) => displayName(m.name)),
    blobs: blobs.length,
    bytes: blobs.reduce((s, l) => s + l.size, 0),
    skippedExisting: 0,
    warnings,
  };
}

export interface GgufExportResult {
  /** the model GGUF written */
  gguf: string;
  /** projector, adapter and draft GGUFs written beside it */
  extraFiles: string[];
  modelfile: string;
  /** Modelfile commands whose value could not be written so that it reads back unchanged */
  inexact: string[];
}

/**
 * `export --gguf`: writes the model's GGUF to `output` exactly as stored, projector/adapter/draft
 * GGUFs beside it (`<stem>-projector.gguf`, ...), and a `Modelfile` in the same folder with
 * `FROM ./<file>` lines plus its TEMPLATE, SYSTEM, PARAMETER, LICENSE and MESSAGE layers, so
 * `ollama create` (or `gguf-tool create`) gives the model back. Existing files are only replaced
 * with `force`.
 */
export async function exportGguf(modelsDir: string, name: ModelName, output: string, options: { force?: boolean } = {}): Promise<GgufExportResult> {
  const model = await readInstalledModel(modelsDir, name);
  const shown = displayName(model.file.name);
  if (!model.model) throw new ToolError(shown, "has no GGUF model layer (a safetensors-native model?); use `export` without --gguf");
  const dir = dirname(output);
  const ext = extname(output) || ".gguf";
  const stem = basename(output, extname(output));
  const sibling = (suffix: string, i: number, count: number) => join(dir, `${stem}-${suffix}${count > 1 ? `-${i + 1}` : ""}${ext}`);
  const projectors = model.projectors.map((layer, i) => ({ layer, path: sibling("projector", i, model.projectors.length) }));
  const adapters = model.adapters.map((layer, i) => ({ layer, path: sibling("adapter", i, model.adapters.length) }));
  const draft = model.draft ? [{ layer: model.draft, path: sibling("draft", 0, 1) }] : [];
  const ggufs = [{ layer: model.model, path: output }, ...projectors, ...adapters, ...draft];
  const modelfilePath = join(dir, "Modelfile");
  if (!options.force) {
    for (const p of [...ggufs.map((g) => g.path), modelfilePath]) {
      if ((await fileSize(p)) !== undefined) throw new ToolError(p, "already exists; pass --force to replace it");
    }
  }
  const rel = (p: string) => `./${basename(p)}`;
  const printed = printModelfile({
    comments: [`Modelfile exported by gguf-tool from ${shown}`, "Recreate the model with: ollama create <name> -f Modelfile"],
    model: rel(output),
    projectors: projectors.map((g) => rel(g.path)),
    adapters: adapters.map((g) => rel(g.path)),
    draft: draft.length > 0 ? rel(draft[0].path) : undefined,
    template: model.template,
    system: model.system,
    params: model.params.size > 0 ? model.params : undefined,
    licenses: model.licenses,
    messages: model.messages,
  });
  for (const g of ggufs) await writeFileAtomically(g.path, readBlobVerified(modelsDir, g.layer.digest, g.layer.size));
  await writeFileAtomically(modelfilePath, [Buffer.from(printed.text, "utf8")]);
  return { gguf: output, extraFiles: ggufs.slice(1).map((g) => g.path), modelfile: modelfilePath, inexact: printed.inexact };
}
