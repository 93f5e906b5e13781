import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ToolError } from "../src/formats/errors.ts";
import {
  blobPath,
  linkBlob,
  parseDigest,
  placeBlobFile,
  writeBlobBytes,
  writeBlobFromStream,
} from "../src/ollama/blobs.ts";
import { encodeManifest, MEDIA_TYPES, parseManifest, readManifest, writeManifest } from "../src/ollama/manifest.ts";
import { parseModelName } from "../src/ollama/names.ts";
import { STORE_TEMP_DIR_NAME, storeTempDir } from "../src/ollama/store-fs.ts";

const sha = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gguf-tool-blobs-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function* chunks(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield Buffer.from(p);
}

const tempLeftovers = () => {
  const t = join(dir, STORE_TEMP_DIR_NAME);
  return existsSync(t) ? readdirSync(t) : [];
};

describe("blob paths", () => {
  it("accept only sha256[:-] plus 64 lowercase hex", () => {
    const hex = "a".repeat(64);
    expect(blobPath("/m", `sha256:${hex}`)).toBe(join("/m", "blobs", `sha256-${hex}`));
    expect(blobPath("/m", `sha256-${hex}`)).toBe(join("/m", "blobs", `sha256-${hex}`));
    for (const bad of [`sha256:${"A".repeat(64)}`, `sha256:${hex}/../x`, `../sha256:${hex}`, "sha256:abc", `sha512:${hex}`, `sha256:${hex}0`, ""]) {
      expect(() => blobPath("/m", bad)).toThrow(ToolError);
    }
  });
});

describe("writeBlobFromStream", () => {
  it("hashes while writing, renames into blobs/ with mode 0644, leaves no temp file", async () => {
    const r = await writeBlobFromStream(dir, chunks("hello ", "world"));
    expect(r).toEqual({ digest: sha(Buffer.from("hello world")), size: 11, reused: false });
    const p = blobPath(dir, r.digest);
    expect(readFileSync(p, "utf8")).toBe("hello world");
    expect(statSync(p).mode & 0o777).toBe(0o644);
    expect(tempLeftovers()).toEqual([]);
  });

  it("refuses content that does not match the expected digest and leaves nothing", async () => {
    const wrong = sha(Buffer.from("other"));
    await expect(writeBlobFromStream(dir, chunks("hello"), wrong)).rejects.toThrow(/does not match/);
    expect(readdirSync(join(dir, "blobs"))).toEqual([]);
    expect(tempLeftovers()).toEqual([]);
  });

  it("reuses an existing blob without rewriting it, refreshing its mtime, and still checks the source", async () => {
    const first = await writeBlobBytes(dir, Buffer.from("abc"));
    const p = blobPath(dir, first.digest);
    const old = new Date(Date.now() - 3 * 3600_000);
    utimesSync(p, old, old);
    const ino = statSync(p).ino;
    const again = await writeBlobFromStream(dir, chunks("a", "bc"), first.digest);
    expect(again.reused).toBe(true);
    expect(statSync(p).ino).toBe(ino);
    expect(statSync(p).mtimeMs).toBeGreaterThan(old.getTime() + 3600_000);
    await expect(writeBlobFromStream(dir, chunks("abd"), first.digest)).rejects.toThrow(/does not match/);
    const third = await writeBlobBytes(dir, Buffer.from("abc"));
    expect(third.reused).toBe(true);
    expect(statSync(p).ino).toBe(ino);
  });

  it("a failing source leaves no temp file", async () => {
    async function* failing(): AsyncIterable<Uint8Array> {
      yield Buffer.from("partial");
      throw new Error("source broke");
    }
    await expect(writeBlobFromStream(dir, failing())).rejects.toThrow(/source broke/);
    expect(readdirSync(join(dir, "blobs"))).toEqual([]);
    expect(tempLeftovers()).toEqual([]);
  });
});

describe("placeBlobFile and linkBlob", () => {
  it("placeBlobFile renames a finished temp file into place, or drops it when the blob exists", async () => {
    const t = join(await storeTempDir(dir), "x.gguf.tmp");
    writeFileSync(t, "gguf bytes");
    const d = sha(Buffer.from("gguf bytes"));
    expect(await placeBlobFile(dir, t, d)).toEqual({ digest: d, size: 10, reused: false });
    expect(existsSync(t)).toBe(false);
    writeFileSync(t, "gguf bytes");
    expect((await placeBlobFile(dir, t, d)).reused).toBe(true);
    expect(existsSync(t)).toBe(false);
  });

  it("linkBlob hard-links a file on the same filesystem", async () => {
    const src = join(dir, "model.gguf");
    writeFileSync(src, "GGUF....");
    const r = await linkBlob(dir, src);
    expect(r.linked).toBe(true);
    expect(r.digest).toBe(sha(Buffer.from("GGUF....")));
    expect(statSync(blobPath(dir, r.digest)).ino).toBe(statSync(src).ino);
    expect(tempLeftovers()).toEqual([]);
    expect((await linkBlob(dir, src)).reused).toBe(true);
    await expect(linkBlob(dir, join(dir, "missing.gguf"))).rejects.toThrow(/no such file/);
  });
});

describe("manifests", () => {
  it("writeManifest places the bytes atomically at the name's path; readManifest finds it case-insensitively", async () => {
    const cfg = await writeBlobBytes(dir, Buffer.from("{}\n"));
    const model = await writeBlobBytes(dir, Buffer.from("GGUF"));
    const bytes = encodeManifest({
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      config: { mediaType: MEDIA_TYPES.config, digest: cfg.digest, size: cfg.size },
      layers: [{ mediaType: MEDIA_TYPES.model, digest: model.digest, size: model.size }],
    });
    const path = await writeManifest(dir, parseModelName("Alice/Tiny:V1"), bytes);
    expect(path).toBe(join(dir, "manifests", "registry.ollama.ai", "Alice", "Tiny", "V1"));
    expect(readFileSync(path)).toEqual(bytes);
    const read = await readManifest(dir, parseModelName("alice/tiny:v1"));
    expect(read.name).toEqual(parseModelName("Alice/Tiny:V1"));
    expect(read.digest).toBe(sha(bytes).slice(7));
    expect(read.manifest.layers[0].digest).toBe(model.digest);
    expect(tempLeftovers()).toEqual([]);
    await expect(readManifest(dir, parseModelName("nope"))).rejects.toThrow(/model not found/);
  });

  it("rejects manifests whose digests could point outside blobs/", () => {
    const bad = (digest: string) =>
      Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [{ mediaType: MEDIA_TYPES.model, digest, size: 1 }] }));
    expect(() => parseManifest(bad("sha256:../../etc/passwd"), "m")).toThrow(/invalid digest/);
    expect(() => parseManifest(bad(`sha256:${"A".repeat(64)}`), "m")).toThrow(/invalid digest/);
    expect(() => parseManifest(Buffer.from("{not json"), "m")).toThrow(/not valid JSON/);
    const negative = Buffer.from(JSON.stringify({ layers: [{ mediaType: "x", digest: parseDigest(`sha256-${"0".repeat(64)}`), size: -1 }] }));
    expect(() => parseManifest(negative, "m")).toThrow(/invalid size/);
  });

  it("encodes like Go: compact, HTML-escaped, trailing newline", () => {
    const b = encodeManifest({
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      config: { mediaType: MEDIA_TYPES.config, digest: `sha256:${"0".repeat(64)}`, size: 2 },
      layers: [{ mediaType: MEDIA_TYPES.model, digest: `sha256:${"1".repeat(64)}`, size: 5, from: "a<b>&c.gguf" }],
    }).toString();
    expect(b.endsWith("}\n")).toBe(true);
    expect(b).toContain('"from":"a\\u003cb\\u003e\\u0026c.gguf"');
    expect(b.startsWith('{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType"')).toBe(true);
  });
});
