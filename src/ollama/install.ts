/**
 * Installing a model into the Ollama store without the server, as `ollama create` would
 * (ollama-store.md §0, §4, §5, §7): everything is read and checked first (GGUF headers, names,
 * the chat template), then the blobs are written (GGUFs, text layers, config), the manifest last.
 * A failure before the manifest leaves the store as it was: blobs this install added are removed.
 */
import { createReadStream } from "node:fs";
import { readdir, rmdir } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import { createHash } from "node:crypto";
import { ToolError } from "../formats/errors.ts";
import { GgufValueType } from "../formats/gguf/types.ts";
import { getArchitecture, getArray, getBoolean, getNumber, getString } from "../formats/gguf/metadata.ts";
import { readGgufHeader, readGgufStringsAt } from "../formats/gguf/reader.ts";
import { parseGgufShardName, readGgufModel, type GgufModel } from "../formats/gguf/split.ts";
import { createGgufWriter } from "../formats/gguf/writer.ts";
import { pathKind, withRegularFile, readExactly } from "../formats/file.ts";
import { blobPath, hashFile, isDigest, linkBlob, placeBlobFile, writeBlobBytes, writeBlobFromStream, type BlobWriteResult } from "./blobs.ts";
import { buildModelConfig, encodeConfig, type ModelConfig } from "./config.ts";
import { goJsonEncode } from "./go-json.ts";
import { goTemplateError } from "./go-template.ts";
import { readInstalledModel, type InstalledModel } from "./installed.ts";
import { encodeManifest, findExistingName, type Layer, MANIFEST_MEDIA_TYPE, MEDIA_TYPES, nameForWriting, writeManifest } from "./manifest.ts";
import type { ModelfileMessage, ParsedModelfile } from "./modelfile.ts";
import { displayName, isValidModelName, parseModelName, type ModelName } from "./names.ts";
import { encodeParamsJson, type Params } from "./params.ts";
import { removeUnreferencedBlobs } from "./store-maintain.ts";
import { STORE_TEMP_DIR_NAME, storeTempPath } from "./store-fs.ts";
import { chooseChatTemplate } from "./templates/choose.ts";

export interface InstallOptions {
  modelsDir: string;
  /** `name[:tag]` (Ollama's name rules) */
  name: string;
  modelfile?: ParsedModelfile;
  /**
   * The model GGUF. When it is inside the store's private temp folder (the converter writes it
   * there) it is renamed into `blobs/`, not copied.
   */
  ggufPath?: string;
  /** `sha256:<hex>` of ggufPath when already known (the GGUF writer hashes as it writes) */
  ggufDigest?: string;
  /** hard-link GGUFs into `blobs/` when on the same filesystem instead of copying them */
  link?: boolean;
  /** progress lines for the user ("copying …", "using existing layer …") */
  onStatus?: (line: string) => void;
  /** bytes of GGUF copied, checked or merged so far (a CLI draws a progress line from it) */
  onProgress?: (progress: InstallProgress) => void;
}

export interface InstallProgress {
  /** 1-based number of the GGUF being stored, and how many there are */
  item: number;
  itemCount: number;
  /** the file's name */
  label: string;
  bytesDone: number;
  bytesTotal: number;
}

/** Reports a byte count per chunk; `report` gets the running total. */
type ByteCounter = (bytesDone: number) => void;

async function* counted(source: AsyncIterable<Uint8Array>, report: ByteCounter): AsyncGenerator<Uint8Array> {
  let done = 0;
  for await (const chunk of source) {
    done += chunk.byteLength;
    report(done);
    yield chunk;
  }
}

function readFileChunks(path: string, report: ByteCounter): AsyncGenerator<Uint8Array> {
  return counted(createReadStream(path, { highWaterMark: 1 << 20 }), report);
}

export interface InstallResult {
  /** the short display name, e.g. `tiny:latest` */
  name: string;
  /** hex sha256 of the manifest file (`ollama list`'s ID is its first 12 digits) */
  manifestDigest: string;
  /** which chat template was installed and why */
  templateChoice: string;
  layers: Layer[];
  config: ModelConfig;
  /** things Ollama will handle worse than the user may expect (one line each) */
  warnings: string[];
}

type GgufRole = "model" | "projector" | "adapter" | "draft";

/** A GGUF named by FROM/ADAPTER/DRAFT or --from, read and classified. */
interface GgufSource {
  path: string;
  gguf: GgufModel;
  role: GgufRole;
}

/** A GGUF to store, or a layer an installed model already has (FROM <model>), reused by digest. */
type GgufLayerSource = { kind: "file"; source: GgufSource } | { kind: "inherited"; layer: Layer };

const ROLE_MEDIA_TYPE: Record<GgufRole, string> = {
  model: MEDIA_TYPES.model,
  projector: MEDIA_TYPES.projector,
  adapter: MEDIA_TYPES.adapter,
  draft: MEDIA_TYPES.draft,
};

/** Ollama's `isProjectorGGUF` (server/create.go), plus `general.type = adapter` for LoRA files. */
export function classifyGguf(gguf: GgufModel): "model" | "projector" | "adapter" {
  const md = gguf.metadata;
  const type = getString(md, "general.type");
  if (type === "adapter") return "adapter";
  if (type === "projector" || type === "mmproj") return "projector";
  const arch = getArchitecture(md) ?? "";
  const hasBlocks = md.has(`${arch}.block_count`);
  if (!hasBlocks && md.has(`${arch}.vision.block_count`)) return "projector";
  if (arch === "clip" && !hasBlocks && (getBoolean(md, "clip.has_vision_encoder") || getBoolean(md, "clip.has_audio_encoder"))) {
    return "projector";
  }
  return "model";
}

/** FROM/ADAPTER path resolution as Ollama's `expandPath`: `~`, absolute, else relative to the Modelfile's folder. */
function resolveModelfilePath(value: string, baseDir: string | undefined): string {
  if (value === "~" || value.startsWith("~/")) return join(homedir(), value.slice(1));
  return isAbsolute(value) ? value : resolve(baseDir ?? process.cwd(), value);
}

/** The GGUFs of a FROM folder: every *.gguf (a split counted once, by its first shard). */
async function ggufFilesInFolder(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).sort();
  const firstShards = names.filter((n) => n.toLowerCase().endsWith(".gguf") && (parseGgufShardName(n)?.index ?? 1) === 1);
  if (firstShards.length === 0) {
    const hasSafetensors = names.some((n) => n.endsWith(".safetensors"));
    throw new ToolError(
      dir,
      hasSafetensors
        ? "this folder holds safetensors, not GGUF: convert it with `gguf-tool convert <folder> --install <name>`"
        : "no .gguf file in this folder",
    );
  }
  return firstShards.map((n) => join(dir, n));
}

async function readSource(path: string, role?: GgufRole): Promise<GgufSource> {
  const gguf = await readGgufModel(path);
  if (!getArchitecture(gguf.metadata)) throw new ToolError(path, "GGUF has no general.architecture; Ollama cannot load it");
  return { path, gguf, role: role ?? classifyGguf(gguf) };
}

/** True when `path` is inside `dir`. */
function isInside(path: string, dir: string): boolean {
  const rel = relative(resolve(dir), resolve(path));
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

/** BOS/EOS token texts, which help the template fallback render the Jinja. */
async function specialTokens(source: GgufSource): Promise<{ bosToken?: string; eosToken?: string }> {
  const md = source.gguf.metadata;
  const tokens = getArray(md, "tokenizer.ggml.tokens");
  const bos = getNumber(md, "tokenizer.ggml.bos_token_id");
  const eos = getNumber(md, "tokenizer.ggml.eos_token_id");
  if (!tokens || (bos === undefined && eos === undefined)) return {};
  const picked = await readGgufStringsAt(source.gguf.shards[0].path, tokens, [bos ?? -1, eos ?? -1]);
  return { bosToken: bos === undefined ? undefined : picked.get(bos), eosToken: eos === undefined ? undefined : picked.get(eos) };
}

/** GGUF properties Ollama handles badly, found before installing (checklist §0.11). */
function ggufWarnings(source: GgufSource): string[] {
  const md = source.gguf.metadata;
  const arch = getArchitecture(md) ?? "";
  const out: string[] = [];
  const keys = [...md.keys()];
  const firstTokenizer = keys.findIndex((k) => k.startsWith("tokenizer."));
  if (firstTokenizer >= 0 && keys.slice(firstTokenizer).some((k) => k.startsWith(`${arch}.`))) {
    out.push(`${source.path}: ${arch}.* keys come after tokenizer.* keys; ollama list stops reading there and will not show the context length`);
  }
  const ft = md.get("general.file_type");
  if (ft !== undefined && ft.type !== GgufValueType.UINT32) {
    out.push(`${source.path}: general.file_type is not a UINT32; Ollama reports the quantization as unknown`);
  }
  return out;
}

/** What will be written, decided before anything is. */
interface InstallPlan {
  name: ModelName;
  ggufLayers: Array<{ role: GgufRole; from: GgufLayerSource }>;
  config: ModelConfig;
  template?: string;
  templateChoice: string;
  system?: string;
  licenses: string[];
  params: Params;
  messages: ModelfileMessage[];
  /** the model this install replaces, whose unused blobs are removed afterwards */
  replaces?: string[];
  warnings: string[];
}

function checkTag(name: ModelName, text: string): void {
  const tag = name.tag.toLowerCase();
  if (tag === "cloud" || tag === "local" || tag.endsWith("-cloud")) {
    throw new ToolError(text, `tag "${name.tag}" is reserved by Ollama for cloud models; choose another tag`);
  }
}

async function planInstall(opts: InstallOptions): Promise<InstallPlan> {
  const name = parseModelName(opts.name);
  checkTag(name, opts.name);
  const mf = opts.modelfile;
  const sources: GgufSource[] = [];
  let base: InstalledModel | undefined;

  if (opts.ggufPath !== undefined) sources.push(await readSource(opts.ggufPath, "model"));
  for (const value of mf?.from ?? []) {
    const path = resolveModelfilePath(value, mf?.baseDir);
    const kind = await pathKind(path);
    if (kind === "file") sources.push(await readSource(path));
    else if (kind === "dir") for (const p of await ggufFilesInFolder(path)) sources.push(await readSource(p));
    else {
      const looksLikePath = /^[.~/\\]/.test(value) || value.toLowerCase().endsWith(".gguf");
      if (looksLikePath || !isValidModelName(value)) throw new ToolError(path, "FROM: no such file or folder");
      const existing = await findExistingName(opts.modelsDir, parseModelName(value));
      if (!existing) throw new ToolError(value, `FROM names no file, folder or installed model (models dir ${opts.modelsDir})`);
      if (base) throw new ToolError(value, `FROM names a second installed model (${displayName(base.file.name)} is already the base)`);
      base = await readInstalledModel(opts.modelsDir, existing);
    }
  }
  for (const value of mf?.adapters ?? []) sources.push(await readSource(resolveModelfilePath(value, mf?.baseDir), "adapter"));
  if (mf?.draft !== undefined) sources.push(await readSource(resolveModelfilePath(mf.draft, mf.baseDir), "draft"));

  const models = sources.filter((s) => s.role === "model");
  if (models.length > 1) {
    throw new ToolError(models[1].path, `a second model GGUF (the model is already ${basename(models[0].path)}); a projector needs general.type "mmproj"`);
  }
  if (models.length === 1 && base?.model) {
    throw new ToolError(models[0].path, `both a model GGUF and the installed model ${displayName(base.file.name)} were given`);
  }
  const modelSource = models[0];
  if (!modelSource && !base?.model) {
    throw new ToolError(opts.name, "no model: give a GGUF (--from or FROM <file>), a folder with one, or an installed model");
  }

  // layers in Ollama's order: model, projectors, adapters, draft
  const ggufLayers: InstallPlan["ggufLayers"] = [];
  const inheritedFrom = base ? displayName(base.file.name) : "";
  const inherit = (layer: Layer, role: GgufRole) =>
    ggufLayers.push({ role, from: { kind: "inherited", layer: { ...layer, from: inheritedFrom } } });
  if (modelSource) ggufLayers.push({ role: "model", from: { kind: "file", source: modelSource } });
  else inherit(base!.model!, "model");
  for (const l of base?.projectors ?? []) inherit(l, "projector");
  for (const s of sources.filter((x) => x.role === "projector")) ggufLayers.push({ role: "projector", from: { kind: "file", source: s } });
  for (const l of base?.adapters ?? []) inherit(l, "adapter");
  for (const s of sources.filter((x) => x.role === "adapter")) ggufLayers.push({ role: "adapter", from: { kind: "file", source: s } });
  const draft = sources.find((x) => x.role === "draft");
  if (draft) ggufLayers.push({ role: "draft", from: { kind: "file", source: draft } });
  else if (base?.draft) inherit(base.draft, "draft");

  // config: from the model GGUF (and projectors' architectures), or the base model's
  const extra = { renderer: mf?.renderer, parser: mf?.parser, requires: mf?.requires };
  let config: ModelConfig;
  if (modelSource) {
    const projectors = sources.filter((x) => x.role === "projector").map((s) => s.gguf);
    config = buildModelConfig(modelSource.gguf, projectors, extra);
  } else {
    const c = base!.config;
    if (!c) throw new ToolError(displayName(base!.file.name), "the installed model has no config blob to start from");
    config = { ...c };
    if (extra.renderer) config.renderer = extra.renderer;
    if (extra.parser) config.parser = extra.parser;
    if (extra.requires) config.requires = extra.requires;
  }

  // chat template: the Modelfile's, else the base model's, else detected from the GGUF
  let template = base?.template;
  let templateChoice = base?.template !== undefined ? `kept from ${inheritedFrom}` : "none";
  let params: Params = new Map(base?.params ?? []);
  if (modelSource) {
    const jinja = getString(modelSource.gguf.metadata, "tokenizer.chat_template");
    const choice = await chooseChatTemplate({ chatTemplate: jinja, ...(jinja ? await specialTokens(modelSource) : {}) });
    template = choice.template;
    templateChoice = choice.description;
    if (choice.stop.length > 0) params.set("stop", choice.stop);
  }
  if (mf?.template !== undefined) {
    template = mf.template;
    templateChoice = "TEMPLATE from the Modelfile";
  }
  if (template !== undefined) {
    const err = goTemplateError(template);
    if (err) {
      const subject = mf?.template !== undefined ? "TEMPLATE" : templateChoice;
      throw new ToolError(opts.name, `${subject} is not a valid Go template, Ollama would not list the model: ${err}`);
    }
  }
  // explicit PARAMETERs win, key by key (a stop list replaces the detected one)
  for (const [k, v] of mf?.params ?? []) params.set(k, v);
  if (config.renderer === "gemma4" && !params.has("stop")) params.set("stop", ["<turn|>"]);
  params = new Map([...params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

  const existing = await findExistingName(opts.modelsDir, name);
  let replaces: string[] | undefined;
  if (existing) {
    try {
      const old = await readInstalledModel(opts.modelsDir, existing);
      replaces = [...(old.file.manifest.config ? [old.file.manifest.config] : []), ...old.file.manifest.layers].map((l) => l.digest);
    } catch {
      replaces = undefined; // an unreadable old manifest: leave its blobs alone
    }
  }

  return {
    name: await nameForWriting(opts.modelsDir, name),
    ggufLayers,
    config,
    template,
    templateChoice,
    system: mf?.system ?? base?.system,
    licenses: [...(base?.licenses ?? []), ...(mf?.licenses ?? [])],
    params,
    messages: mf && mf.messages.length > 0 ? mf.messages : (base?.messages ?? []),
    replaces,
    warnings: sources.flatMap(ggufWarnings),
  };
}

/** Copies a split GGUF's shards into one GGUF (metadata of shard 1 without `split.*`) in the store's temp folder. */
async function mergeSplitGguf(modelsDir: string, gguf: GgufModel, report: ByteCounter): Promise<{ path: string; digest: string }> {
  // the header was read with big arrays (the vocabulary) left in the file: decode them to rewrite
  const first = await readGgufHeader(gguf.shards[0].path, { eagerArrays: true });
  const metadata = new Map([...first.metadata].filter(([k]) => !k.startsWith("split.")));
  const dest = await storeTempPath(modelsDir, ".gguf");
  const writer = await createGgufWriter(
    dest,
    { metadata, tensors: gguf.tensors.map((t) => ({ name: t.name, shape: t.shape, type: t.type })), version: gguf.shards[0].version },
    { tempDir: join(modelsDir, STORE_TEMP_DIR_NAME) },
  );
  const CHUNK = 8 << 20;
  const buf = Buffer.allocUnsafe(CHUNK);
  let copied = 0;
  try {
    for (let shard = 0; shard < gguf.shards.length; shard++) {
      const header = gguf.shards[shard];
      await withRegularFile(header.path, async ({ handle }) => {
        for (const t of gguf.tensors) {
          if (t.shard !== shard) continue;
          for (let done = 0; done < t.size; done += CHUNK) {
            const n = Math.min(CHUNK, t.size - done);
            await readExactly(header.path, handle, buf, 0, n, header.dataOffset + t.offset + done);
            await writer.writeTensorData(buf.subarray(0, n));
            report((copied += n));
          }
        }
      });
    }
  } catch (err) {
    await writer.abort();
    throw err;
  }
  const result = await writer.finish();
  return { path: result.path, digest: `sha256:${result.sha256}` };
}

/** Stores one GGUF as a blob: rename from the store's temp folder, hard link, merge, or copy. */
async function storeGguf(opts: InstallOptions, source: GgufSource, status: (s: string) => void, report: ByteCounter): Promise<BlobWriteResult> {
  const { modelsDir } = opts;
  const { gguf, path } = source;
  if (gguf.shards.length > 1) {
    status(`merging ${gguf.shards.length} shards of ${basename(path)} into one blob`);
    const merged = await mergeSplitGguf(modelsDir, gguf, report);
    return placeBlobFile(modelsDir, merged.path, merged.digest);
  }
  if (path === opts.ggufPath && isInside(path, join(modelsDir, STORE_TEMP_DIR_NAME))) {
    const digest = opts.ggufDigest ?? (await hashFile(path)).digest;
    return placeBlobFile(modelsDir, path, digest);
  }
  // a blob of this store (FROM <blob path> from `show --modelfile`): checked, reused as it is
  const name = basename(path);
  if (isDigest(name) && resolve(path) === resolve(blobPath(modelsDir, name))) {
    return writeBlobFromStream(modelsDir, readFileChunks(path, report), name);
  }
  if (opts.link) {
    const r = await linkBlob(modelsDir, path);
    if (!r.linked && !r.reused) status(`${basename(path)} is on another filesystem: copied instead of linked`);
    return r;
  }
  status(`copying ${basename(path)}`);
  return writeBlobFromStream(modelsDir, readFileChunks(path, report), opts.ggufDigest && path === opts.ggufPath ? opts.ggufDigest : undefined);
}

/** Folders an install may create; on failure those that were not there before are removed if empty. */
function storeDirs(modelsDir: string): string[] {
  return [join(modelsDir, STORE_TEMP_DIR_NAME), join(modelsDir, "blobs"), join(modelsDir, "manifests"), modelsDir];
}

/**
 * Installs a model: GGUF blobs (renamed from the store's temp folder, hard-linked with `link`, or
 * copied while hashing; split GGUFs merged), then template, system, license, params and messages
 * blobs, the config blob, and the manifest last. Everything is validated before the first write.
 */
export async function installModel(opts: InstallOptions): Promise<InstallResult> {
  const status = opts.onStatus ?? (() => {});
  const plan = await planInstall(opts);
  const { modelsDir } = opts;

  const dirsBefore = new Map<string, boolean>();
  for (const d of storeDirs(modelsDir)) dirsBefore.set(d, (await pathKind(d)) === "dir");
  const added: string[] = [];
  const track = (r: BlobWriteResult, what: string): BlobWriteResult => {
    if (!r.reused) added.push(r.digest);
    status(`${r.reused ? "using existing" : "creating new"} layer ${r.digest} (${what})`);
    return r;
  };

  try {
    const layers: Layer[] = [];
    const files = plan.ggufLayers.flatMap((l) => (l.from.kind === "file" ? [l.from.source] : []));
    for (const { role, from } of plan.ggufLayers) {
      if (from.kind === "inherited") {
        layers.push(from.layer);
        continue;
      }
      const progress = { item: files.indexOf(from.source) + 1, itemCount: files.length, label: basename(from.source.path), bytesTotal: from.source.gguf.fileSize };
      const report: ByteCounter = (bytesDone) => opts.onProgress?.({ ...progress, bytesDone });
      const r = track(await storeGguf(opts, from.source, status, report), role);
      layers.push({ mediaType: ROLE_MEDIA_TYPE[role], digest: r.digest, size: r.size });
    }
    const text = async (mediaType: string, content: string | Buffer, what: string) => {
      const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
      const r = track(await writeBlobBytes(modelsDir, bytes), what);
      layers.push({ mediaType, digest: r.digest, size: r.size });
    };
    if (plan.template !== undefined) await text(MEDIA_TYPES.template, plan.template, "template");
    if (plan.system !== undefined) await text(MEDIA_TYPES.system, plan.system, "system");
    for (const l of plan.licenses) await text(MEDIA_TYPES.license, l, "license");
    if (plan.params.size > 0) await text(MEDIA_TYPES.params, encodeParamsJson(plan.params), "params");
    if (plan.messages.length > 0) {
      await text(MEDIA_TYPES.messages, goJsonEncode(plan.messages.map((m) => ({ role: m.role, content: m.content }))), "messages");
    }
    const config = track(await writeBlobBytes(modelsDir, encodeConfig(plan.config)), "config");
    const manifestBytes = encodeManifest({
      schemaVersion: 2,
      mediaType: MANIFEST_MEDIA_TYPE,
      config: { mediaType: MEDIA_TYPES.config, digest: config.digest, size: config.size },
      layers,
    });
    // a concurrent rm/prune/failed install elsewhere may have removed a blob we reused meanwhile
    for (const l of [...layers, config]) {
      if ((await pathKind(blobPath(modelsDir, l.digest))) !== "file") {
        throw new ToolError(blobPath(modelsDir, l.digest), "blob disappeared before the manifest was written (removed by another process?); run the install again");
      }
    }
    status("writing manifest");
    await writeManifest(modelsDir, plan.name, manifestBytes);

    if (plan.replaces) {
      // as `ollama create` over an existing name: the old model's blobs nothing uses any more go
      await removeUnreferencedBlobs(modelsDir, plan.replaces);
    }
    return {
      name: displayName(plan.name),
      manifestDigest: createHash("sha256").update(manifestBytes).digest("hex"),
      templateChoice: plan.templateChoice,
      layers,
      config: plan.config,
      warnings: plan.warnings,
    };
  } catch (err) {
    await rollback(modelsDir, added, dirsBefore);
    throw err;
  }
}

async function rollback(modelsDir: string, added: string[], dirsBefore: Map<string, boolean>): Promise<void> {
  try {
    if (added.length > 0) await removeUnreferencedBlobs(modelsDir, added);
  } catch {
    /* the original error matters more; prune can clean what is left */
  }
  for (const [dir, existed] of dirsBefore) {
    if (existed) continue;
    try {
      await rmdir(dir);
    } catch {
      /* not empty or already gone */
    }
  }
}
