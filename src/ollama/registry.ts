/**
 * `pull` without Ollama: the registry protocol as Ollama speaks it (ollama-store.md §9).
 * The manifest first (checked, kept as the exact bytes received), then every blob the store lacks:
 * its size from a HEAD, its direct URL from the registry's redirect, ranged parts downloaded in
 * parallel into one partial file in the store's private temp folder, progress saved beside it so
 * an interrupted pull resumes, the sha256 checked, and only then renamed into blobs/. The manifest
 * is written last: until then the store is as it was.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, readFile, rm, writeFile } from "node:fs/promises";
import { arch, platform } from "node:os";
import { join } from "node:path";
import { ToolError } from "../formats/errors.ts";
import { fileSize } from "../formats/file.ts";
import { blobFileName, blobPath, placeBlobFile } from "./blobs.ts";
import { findExistingName, MANIFEST_MEDIA_TYPE, manifestBlobs, MAX_MANIFEST_BYTES, parseManifest, readManifest, writeManifest, type Layer } from "./manifest.ts";
import { displayName, parseModelName, type ModelName } from "./names.ts";
import { removeUnreferencedBlobs } from "./store-maintain.ts";
import { storeTempDir } from "./store-fs.ts";

const USER_AGENT = `gguf-tool/0.1.0 (${arch()} ${platform()}) Node/${process.version}`;
const MB = 1_000_000;

export interface PullProgress {
  digest: string;
  /** bytes of this blob on disk now (resumed bytes included) and its size */
  done: number;
  size: number;
  /** "download" while fetching, "verify" while hashing, "skip" for a blob the store already has */
  phase: "download" | "verify" | "skip";
}

export interface PullOptions {
  modelsDir: string;
  /** `name[:tag]` by Ollama's rules */
  name: string;
  /** registry base URL; default `https://<the name's host>` */
  registry?: string;
  /** allow plain http */
  insecure?: boolean;
  onProgress?: (p: PullProgress) => void;
  /** tuning, for tests: Ollama's values by default */
  partSize?: (size: number) => number;
  maxParallelParts?: number;
  retries?: number;
  retryDelayMs?: (attempt: number) => number;
  stallTimeoutMs?: number;
}

export interface PullResult {
  name: string;
  manifestDigest: string;
  blobs: Array<{ digest: string; size: number; downloaded: boolean }>;
}

/** Ollama's part size: size/16 clamped to [100 MB, 1000 MB]. */
function ollamaPartSize(size: number): number {
  return Math.min(1000 * MB, Math.max(100 * MB, Math.ceil(size / 16)));
}

/** The registry base URL for a name: `--registry`, else `https://<host>` (http with --insecure). */
function registryBase(name: ModelName, options: PullOptions): URL {
  const base = new URL(options.registry ?? `${options.insecure ? "http" : "https"}://${name.host}`);
  if (base.protocol === "http:" && !options.insecure) {
    throw new ToolError(base.origin, "plain http registry: pass --insecure to allow it");
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") throw new ToolError(base.href, "registry URL must be http or https");
  return base;
}

/** Registry requests with Ollama's headers, the anonymous bearer-token flow on a 401, and one-line errors. */
class RegistryClient {
  #token: string | undefined;

  constructor(
    readonly base: URL,
    readonly subject: string,
  ) {}

  url(path: string): URL {
    return new URL(path, this.base);
  }

  async request(url: URL, init: RequestInit & { accept?: string } = {}): Promise<Response> {
    const send = () => {
      const headers: Record<string, string> = { "User-Agent": USER_AGENT };
      if (init.accept) headers.Accept = init.accept;
      if (this.#token) headers.Authorization = `Bearer ${this.#token}`;
      return fetchOrFail(this.subject, url, { ...init, headers });
    };
    let res = await send();
    if (res.status === 401 && !this.#token && (await this.#fetchToken(res))) res = await send();
    if (res.status === 401) {
      throw new ToolError(this.subject, `unauthorized (401) at ${url.origin}: the registry wants credentials; gguf-tool pulls public models`);
    }
    return res;
  }

  /** The anonymous token flow: GET the realm named by WWW-Authenticate (same host only). */
  async #fetchToken(res: Response): Promise<boolean> {
    const header = res.headers.get("www-authenticate") ?? "";
    const params = Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!/^Bearer\s/i.test(header) || !params.realm) return false;
    const realm = new URL(params.realm, this.base);
    if (realm.hostname !== this.base.hostname) return false; // never send anything to another host
    if (params.service) realm.searchParams.set("service", params.service);
    for (const scope of (params.scope ?? "").split(" ").filter(Boolean)) realm.searchParams.append("scope", scope);
    realm.searchParams.set("ts", String(Math.floor(Date.now() / 1000)));
    const tokenRes = await fetchOrFail(this.subject, realm, { headers: { "User-Agent": USER_AGENT } });
    if (!tokenRes.ok) return false;
    const body = (await tokenRes.json().catch(() => ({}))) as { token?: unknown };
    if (typeof body.token !== "string" || body.token === "") return false;
    this.#token = body.token;
    return true;
  }
}

async function fetchOrFail(subject: string, url: URL, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new ToolError(subject, `cannot reach ${url.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
}

async function failure(subject: string, res: Response, what: string): Promise<ToolError> {
  const body = (await res.text().catch(() => "")).trim().replace(/\s+/g, " ").slice(0, 200);
  return new ToolError(subject, `${what}: ${res.status}${body ? `: ${body}` : ""}`);
}

/** GETs the manifest; its exact bytes are what the store keeps. */
async function fetchManifest(client: RegistryClient, name: ModelName): Promise<Buffer> {
  const url = client.url(`/v2/${name.namespace}/${name.model}/manifests/${name.tag}`);
  const res = await client.request(url, { accept: MANIFEST_MEDIA_TYPE });
  if (res.status === 404) {
    await res.body?.cancel();
    throw new ToolError(client.subject, `not found in the registry at ${client.base.origin} (no such model or tag)`);
  }
  if (!res.ok) throw await failure(client.subject, res, "the registry refused the manifest");
  const length = Number(res.headers.get("content-length") ?? 0);
  if (length > MAX_MANIFEST_BYTES) throw new ToolError(client.subject, `manifest of ${length} bytes is larger than any real one`);
  const bytes = Buffer.from(await res.arrayBuffer());
  if (bytes.length > MAX_MANIFEST_BYTES) throw new ToolError(client.subject, "manifest is larger than any real one");
  return bytes;
}

/**
 * The blob's size (HEAD, redirects followed, as Ollama does) and the URL to download it from: the
 * registry's answer to a GET, following same-host redirects and stopping at the first redirect to
 * another host (the CDN), or a 200 carrying a Location header.
 */
async function resolveBlob(client: RegistryClient, name: ModelName, layer: Layer): Promise<{ size: number; url: URL }> {
  const blobUrl = client.url(`/v2/${name.namespace}/${name.model}/blobs/${layer.digest}`);
  const head = await client.request(blobUrl, { method: "HEAD" });
  if (head.status === 404) throw new ToolError(client.subject, `blob ${layer.digest} is missing from the registry`);
  if (!head.ok) throw await failure(client.subject, head, `HEAD blob ${layer.digest}`);
  const size = Number(head.headers.get("content-length") ?? layer.size);
  let url = blobUrl;
  for (let hops = 0; hops < 10; hops++) {
    const res = await client.request(url, { redirect: "manual" });
    await res.body?.cancel();
    const location = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && location) {
      const next = new URL(location, url);
      if (next.hostname !== url.hostname) return { size, url: next };
      url = next;
      continue;
    }
    if (res.ok) return { size, url: location ? new URL(location, url) : url };
    throw await failure(client.subject, res, `GET blob ${layer.digest}`);
  }
  throw new ToolError(client.subject, `blob ${layer.digest}: too many redirects`);
}

/** Download progress of one blob, saved beside its partial file so a later pull resumes. */
interface PartState {
  start: number;
  /** inclusive */
  end: number;
  done: number;
}

interface DownloadState {
  digest: string;
  size: number;
  parts: PartState[];
}

async function loadState(path: string, digest: string, size: number, partSize: number): Promise<DownloadState> {
  try {
    const s = JSON.parse(await readFile(path, "utf8")) as DownloadState;
    const valid =
      s.digest === digest &&
      s.size === size &&
      Array.isArray(s.parts) &&
      s.parts.every((p) => Number.isSafeInteger(p.start) && Number.isSafeInteger(p.end) && Number.isSafeInteger(p.done) && p.done >= 0 && p.done <= p.end - p.start + 1);
    if (valid) return s;
  } catch {
    /* no state yet, or unreadable: start over */
  }
  const parts: PartState[] = [];
  for (let start = 0; start < size; start += partSize) parts.push({ start, end: Math.min(size, start + partSize) - 1, done: 0 });
  return { digest, size, parts };
}

/** Streams one part into the partial file at its offset, resuming at `part.done`; retried with backoff. */
async function downloadPart(
  subject: string,
  url: URL,
  file: import("node:fs/promises").FileHandle,
  part: PartState,
  options: Required<Pick<PullOptions, "retries" | "retryDelayMs" | "stallTimeoutMs">>,
  onBytes: (n: number) => void,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    if (part.done > part.end - part.start) return;
    const abort = new AbortController();
    let watchdog = setTimeout(() => abort.abort(), options.stallTimeoutMs);
    try {
      // the direct (CDN) URL gets no registry credentials, as in Ollama
      const res = await fetch(url, {
        headers: { Range: `bytes=${part.start + part.done}-${part.end}`, "User-Agent": USER_AGENT },
        signal: abort.signal,
      });
      if (res.status !== 206 && !(res.status === 200 && part.start + part.done === 0 && part.end === Number(res.headers.get("content-length")) - 1)) {
        await res.body?.cancel();
        throw new Error(`ranged GET answered ${res.status}`);
      }
      const want = part.end - part.start + 1 - part.done;
      let got = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => abort.abort(), options.stallTimeoutMs);
        const n = Math.min(chunk.byteLength, want - got);
        await file.write(chunk, 0, n, part.start + part.done);
        part.done += n;
        got += n;
        onBytes(n);
        if (got >= want) break;
      }
      if (got < want) throw new Error("connection closed early");
      return;
    } catch (err) {
      if (attempt >= options.retries) {
        throw new ToolError(subject, `download failed after ${attempt + 1} tries: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, options.retryDelayMs(attempt)));
    } finally {
      clearTimeout(watchdog);
    }
  }
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest("hex")}`;
}

/** Downloads one blob into the store (resumable), checks its digest and renames it into blobs/. */
async function downloadBlob(client: RegistryClient, name: ModelName, layer: Layer, options: PullOptions): Promise<void> {
  const { size, url } = await resolveBlob(client, name, layer);
  const tempDir = await storeTempDir(options.modelsDir);
  // named by digest, not by process: a later pull finds and resumes it
  const partial = join(tempDir, `pull-${blobFileName(layer.digest)}.partial`);
  const statePath = `${partial}.json`;
  const state = await loadState(statePath, layer.digest, size, (options.partSize ?? ollamaPartSize)(size));
  if ((await fileSize(partial)) === undefined) for (const p of state.parts) p.done = 0; // progress without its data: start over
  const tuning = {
    retries: options.retries ?? 6,
    retryDelayMs: options.retryDelayMs ?? ((a: number) => 1000 * 2 ** a),
    stallTimeoutMs: options.stallTimeoutMs ?? 30_000,
  };
  let done = state.parts.reduce((s, p) => s + p.done, 0);
  const report = () => options.onProgress?.({ digest: layer.digest, done, size, phase: "download" });
  report();
  const file = await open(partial, done > 0 ? "r+" : "w");
  let saving = Promise.resolve();
  const save = () => (saving = saving.then(() => writeFile(statePath, JSON.stringify(state))).catch(() => undefined));
  const timer = setInterval(save, 1000);
  try {
    const queue = state.parts.filter((p) => p.done <= p.end - p.start);
    const workers = Array.from({ length: Math.min(options.maxParallelParts ?? 16, queue.length) }, async () => {
      for (let part = queue.shift(); part; part = queue.shift()) {
        await downloadPart(client.subject, url, file, part, tuning, (n) => {
          done += n;
          report();
        });
      }
    });
    const settled = await Promise.allSettled(workers);
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  } finally {
    clearInterval(timer);
    save();
    await saving;
    await file.close();
  }
  options.onProgress?.({ digest: layer.digest, done: size, size, phase: "verify" });
  const actual = await sha256OfFile(partial);
  if (actual !== layer.digest) {
    await rm(partial, { force: true });
    await rm(statePath, { force: true });
    throw new ToolError(client.subject, `blob ${layer.digest} from the registry has sha256 ${actual}: discarded, nothing installed`);
  }
  await placeBlobFile(options.modelsDir, partial, layer.digest);
  await rm(statePath, { force: true });
}

/**
 * Pulls `name` from a registry into the models dir (or an export folder: same layout). Every blob
 * is verified before it is placed and the manifest is written last, with the bytes received.
 */
export async function pullModel(options: PullOptions): Promise<PullResult> {
  const name = parseModelName(options.name);
  const subject = displayName(name);
  const client = new RegistryClient(registryBase(name, options), subject);
  const manifestBytes = await fetchManifest(client, name);
  const manifest = parseManifest(manifestBytes, subject);

  const blobs: PullResult["blobs"] = [];
  const seen = new Set<string>();
  for (const layer of manifestBlobs(manifest)) {
    if (seen.has(layer.digest)) continue;
    seen.add(layer.digest);
    if ((await fileSize(blobPath(options.modelsDir, layer.digest))) !== undefined) {
      options.onProgress?.({ digest: layer.digest, done: layer.size, size: layer.size, phase: "skip" });
      blobs.push({ digest: layer.digest, size: layer.size, downloaded: false });
      continue;
    }
    await downloadBlob(client, name, layer, options);
    blobs.push({ digest: layer.digest, size: layer.size, downloaded: true });
  }

  // as Ollama: the previous version's blobs that nothing uses any more go once the new manifest is in
  const existing = await findExistingName(options.modelsDir, name);
  const previous = existing ? await readManifest(options.modelsDir, existing).catch(() => undefined) : undefined;
  await writeManifest(options.modelsDir, existing ?? name, manifestBytes);
  if (previous) await removeUnreferencedBlobs(options.modelsDir, manifestBlobs(previous.manifest).map((l) => l.digest));
  return { name: subject, manifestDigest: createHash("sha256").update(manifestBytes).digest("hex"), blobs };
}
