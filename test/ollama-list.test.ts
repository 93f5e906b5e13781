import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseManifest, encodeManifest } from "../src/ollama/manifest.ts";
import { humanDuration } from "../src/ollama/human-time.ts";
import { humanBytes } from "../src/ollama/human-units.ts";
import { listModels, tagsEntry } from "../src/ollama/store-read.ts";
import { getNumber } from "../src/formats/gguf/metadata.ts";
import { readGgufHeader } from "../src/formats/gguf/reader.ts";
import { FIXTURE_GGUF, installTestModel } from "./helpers/ollama-store-builder.ts";
import { runCli } from "./helpers/cli.ts";
import { OBSERVED_BLOBS, OBSERVED_MODELS, sha256Hex, writeObservedStore } from "./helpers/ollama-observed-store.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "gguf-tool-list-"));
  writeObservedStore(dir);
  // give the manifests distinct ages, newest = last in OBSERVED_MODELS
  const now = Date.now() / 1000;
  OBSERVED_MODELS.forEach((m, i) => {
    const t = now - (OBSERVED_MODELS.length - i) * 3600 * 5;
    utimesSync(join(dir, "manifests", ...m.path.split("/")), t, t);
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the store Ollama wrote (ollama-observed.md)", () => {
  it("is rebuilt byte for byte: the doc's sizes and digests hold", () => {
    for (const m of OBSERVED_MODELS) {
      expect(Buffer.byteLength(m.bytes)).toBe(m.fileSize ?? Buffer.byteLength(m.bytes));
      if (m.digest) expect(sha256Hex(m.bytes)).toBe(m.digest);
    }
    // every small blob named in a manifest has the size the manifest records
    const sizes = new Map(OBSERVED_BLOBS.map((b) => [`sha256:${sha256Hex(b)}`, Buffer.byteLength(b)]));
    for (const m of OBSERVED_MODELS) {
      const man = parseManifest(Buffer.from(m.bytes), m.name);
      for (const l of [man.config!, ...man.layers]) if (sizes.has(l.digest)) expect(l.size).toBe(sizes.get(l.digest));
    }
  });

  it("listModels gives Ollama's NAME, ID and SIZE, newest first", async () => {
    const { models, skipped } = await listModels(dir);
    expect(skipped).toEqual([]);
    expect(models.map((m) => [m.displayName, m.id, m.size, humanBytes(m.size)])).toEqual(
      [...OBSERVED_MODELS].reverse().map((m) => [m.name, m.id, m.size, m.sizeText]),
    );
    const q = models.find((m) => m.displayName === "tiny-q4km:latest")!;
    expect(q.digest).toBe("15ae1c102f30ac4b558e7dcc9f4fe5809b724e6fafd32309de053b2f984c64d0");
    expect(q.details).toEqual({ parent_model: "", format: "gguf", family: "llama", families: ["llama"], parameter_size: "1.45M", quantization_level: "Q4_K_M" });
  });

  it("our manifest encoder reproduces Ollama's manifest bytes", () => {
    for (const m of OBSERVED_MODELS.filter((x) => x.bytes.endsWith("\n"))) {
      expect(encodeManifest(parseManifest(Buffer.from(m.bytes), m.name)).toString()).toBe(m.bytes);
    }
  });

  it("`gguf-tool list` prints the table as ollama list does", () => {
    const r = runCli(["list", "--models-dir", dir]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME {16}ID {14}SIZE {6}MODIFIED$/);
    expect(lines[1]).toBe("myns/copied:t1      df35dc89bcf8    2.8 MB    5 hours ago");
    expect(lines.slice(1).map((l) => l.split(/ {2,}/).slice(0, 3))).toEqual(
      [...OBSERVED_MODELS].reverse().map((m) => [m.name, m.id, m.sizeText]),
    );
    expect(lines[5]).toMatch(/^tiny:latest +59a44a2247b9 +5\.8 MB +25 hours ago$/);
  });

  it("`list --json` and a prefix filter", () => {
    const r = runCli(["list", "tiny-", "--json", "--models-dir", dir]);
    expect(r.status).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{ name: string; size: number; digest: string; details: unknown }>;
    expect(rows.map((x) => x.name)).toEqual(["tiny-q4km:latest", "tiny-full:latest"]);
    expect(rows[0].size).toBe(898488);
    // the GGUF blobs are not in the doc: the config's details alone, as /api/tags printed them minus the GGUF fields
    expect(rows[0].details).toEqual({ parent_model: "", format: "gguf", family: "llama", families: ["llama"], parameter_size: "1.45M", quantization_level: "Q4_K_M" });
  });

  it("with the GGUF present, /api/tags' context and embedding length and capabilities come from its header", async () => {
    const d = mkdtempSync(join(tmpdir(), "gguf-tool-tags-"));
    try {
      await installTestModel(d, "m", { template: "{{ .Prompt }}" });
      const { models } = await listModels(d);
      const entry = await tagsEntry(d, models[0]);
      const md = (await readGgufHeader(FIXTURE_GGUF)).metadata;
      expect(entry.details.context_length).toBe(getNumber(md, "llama.context_length"));
      expect(entry.details.embedding_length).toBe(getNumber(md, "llama.embedding_length"));
      expect(entry.capabilities).toEqual(["completion"]);
      expect(entry.digest).toBe(models[0].digest);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe("models Ollama leaves out of the list", () => {
  it("skips a missing config blob, bad JSON and invalid names, and says why", async () => {
    const d = mkdtempSync(join(tmpdir(), "gguf-tool-list-bad-"));
    try {
      writeObservedStore(d);
      rmSync(join(d, "blobs", `sha256-${sha256Hex(OBSERVED_BLOBS[1])}`)); // tiny-q4km's config
      const lib = join(d, "manifests", "registry.ollama.ai", "library");
      mkdirSync(join(lib, "broken"));
      writeFileSync(join(lib, "broken", "latest"), "{not json");
      // a template that is not a Go template: Ollama drops the model from the list
      const badTemplate = "{{ if .System }}unclosed";
      writeFileSync(join(d, "blobs", `sha256-${sha256Hex(badTemplate)}`), badTemplate);
      const withTemplate = (OBSERVED_MODELS[0].bytes as string).replace(
        ']}',
        `,{"mediaType":"application/vnd.ollama.image.template","digest":"sha256:${sha256Hex(badTemplate)}","size":${badTemplate.length}}]}`,
      );
      mkdirSync(join(lib, "badtemplate"));
      writeFileSync(join(lib, "badtemplate", "latest"), withTemplate);
      mkdirSync(join(lib, "bad.name.ok"));
      writeFileSync(join(lib, "bad.name.ok", ".hidden"), OBSERVED_MODELS[0].bytes);
      const { models, skipped } = await listModels(d);
      expect(models.map((m) => m.displayName).sort()).toEqual(["handmade:v1", "myns/copied:t1", "tiny-full:latest", "tiny:latest"]);
      expect(skipped.map((s) => s.reason).sort()).toEqual([
        '"registry.ollama.ai/library/bad.name.ok/.hidden" is not a valid model name',
        "config blob sha256:29a004b3b1a3e5dd8bf2b40809f1009c398e94cfede40b6123d296b163722cee is missing or not valid JSON",
        "manifest is not valid JSON",
        expect.stringMatching(/^template does not parse as a Go template: /),
      ]);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it("a missing models dir is one line naming the Linux service store", () => {
    const r = runCli(["list", "--models-dir", join(dir, "nope")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^gguf-tool: .*nope: no Ollama models folder here.*\/usr\/share\/ollama\/\.ollama\/models\)\n$/);
  });
});

describe("Ollama's human formats", () => {
  it("HumanBytes", () => {
    expect([999, 1000, 1250, 1750, 5817529, 898488, 10_999_999, 1e12 * 2.5].map(humanBytes)).toEqual([
      "999 B", "1 KB", "1.2 KB", "1.8 KB", "5.8 MB", "898 KB", "10 MB", "2.5 TB",
    ]);
  });
  it("HumanDuration", () => {
    const s = 1000, h = 3600 * s;
    expect([500, s, 30 * s, 60 * s, 59 * 60 * s, 90 * 60 * s, 47 * h, 10 * 24 * h, 20 * 24 * h, 100 * 24 * h, 800 * 24 * h].map(humanDuration)).toEqual([
      "Less than a second", "1 second", "30 seconds", "About a minute", "59 minutes", "2 hours", "47 hours", "10 days", "2 weeks", "3 months", "2 years",
    ]);
  });
});
