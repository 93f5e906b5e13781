import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gguf } from "@huggingface/gguf";
import { afterAll, describe, expect, it } from "vitest";
import { encodeGgufHeader } from "../src/formats/gguf/header-encoder.ts";
import { readGgufModel } from "../src/formats/gguf/split.ts";
import { GgufValueType, type GgufMetadata } from "../src/formats/gguf/types.ts";
import { summarizeGguf } from "../src/inspect/gguf-summary.ts";
import { inspectJson } from "../src/inspect/json.ts";
import { inspectTarget } from "../src/inspect/target.ts";
import { humanBytes, humanNumber } from "../src/ollama/human-units.ts";
import { runCli, SHARED } from "./helpers/cli.ts";

const REALTOK = join(SHARED, "fixtures/ref/qwen3-realtok/qwen3-realtok.q8_0.gguf");
const LLAMA3 = join(SHARED, "fixtures/ref/llama3-tiny/llama3-tiny.q4_k_m.gguf");
const tmp = mkdtempSync(join(tmpdir(), "inspect-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface InspectJson {
  format: string;
  path: string;
  version: number;
  alignment: number;
  dataOffset: number;
  metadata: Record<string, unknown>;
  tensors: Array<{ name: string; type?: string; dtype?: string; shape: number[]; offset: number; size: number }>;
  summary: Record<string, unknown>;
  ollama?: { name: string; layers: Array<{ kind: string; digest: string; size: number }> };
}

/** The --json object through the library (what the CLI prints, without spawning a process). */
async function libraryJson(target: string, options: { modelsDir?: string; full?: boolean } = {}): Promise<InspectJson> {
  const subject = await inspectTarget(target, { modelsDir: options.modelsDir, eagerArrays: options.full });
  return JSON.parse(JSON.stringify(await inspectJson(subject, { full: options.full === true }))) as InspectJson;
}

function cliJson(args: string[]): InspectJson {
  const r = runCli(["inspect", ...args, "--json"]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as InspectJson;
}

describe("summary", () => {
  it("counts parameters as @huggingface/gguf does, on every reference GGUF", async () => {
    const dirs = readdirSync(join(SHARED, "fixtures/ref"));
    for (const d of dirs) {
      for (const f of readdirSync(join(SHARED, "fixtures/ref", d)).filter((x) => x.endsWith(".gguf"))) {
        const path = join(SHARED, "fixtures/ref", d, f);
        const ours = await summarizeGguf(await readGgufModel(path));
        const theirs = await gguf(path, { allowLocalFile: true, computeParametersCount: true });
        expect(ours.parameterCount, f).toBe(theirs.parameterCount);
        expect(ours.tensorTypes.reduce((s, t) => s + t.tensors, 0)).toBe(theirs.tensorInfos.length);
      }
    }
  });

  it("answers the common questions for the real-vocabulary fixture", async () => {
    const s = await summarizeGguf(await readGgufModel(REALTOK));
    expect(s).toMatchObject({
      format: "gguf",
      architecture: "qwen3",
      parameterCount: 4892896,
      parameterSize: "4.89M",
      fileType: "Q8_0",
      contextLength: 40960,
      embeddingLength: 32,
      blockCount: 2,
      headCount: 4,
      headCountKv: 2,
      rope: { freqBase: 1000000 },
      vocabSize: 151936,
      tokenizerModel: "gpt2",
      tokenizerPre: "qwen2",
      bos: { id: 151643, token: "<|endoftext|>" },
      eos: { id: 151645, token: "<|im_end|>" },
      chatTemplate: { firstLine: "{%- if tools %}" },
      fileSize: 11133664,
      files: 1,
    });
    expect(s.tensorTypes.map((t) => t.type)).toEqual(["Q8_0", "F32"]);
  });

  it("formats numbers and bytes as Ollama does", () => {
    expect(humanNumber(8_030_261_248)).toBe("8.0B");
    expect(humanNumber(7_000_000_000)).toBe("7B");
    expect(humanNumber(494_032_768)).toBe("494.03M");
    expect(humanNumber(1_450_000)).toBe("1.45M");
    expect(humanNumber(745_220)).toBe("745K");
    expect(humanNumber(512)).toBe("512");
    expect(humanBytes(5_817_529)).toBe("5.8 MB");
    expect(humanBytes(898_488)).toBe("898 KB");
    expect(humanBytes(4_000_000_000)).toBe("4 GB");
    expect(humanBytes(999)).toBe("999 B");
  });
});

describe("inspect (CLI)", () => {
  it("prints a human summary of a GGUF", () => {
    const r = runCli(["inspect", REALTOK]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe(REALTOK);
    const row = (label: string) => lines.find((l) => l.startsWith(`  ${label} `))?.slice(2 + label.length).trim();
    expect(row("format")).toBe("GGUF v3");
    expect(row("architecture")).toBe("qwen3");
    expect(row("parameters")).toBe("4.89M (4892896)");
    expect(row("file type")).toBe("Q8_0");
    expect(row("context length")).toBe("40960");
    expect(row("heads")).toBe("4 (KV heads 2)");
    expect(row("vocabulary")).toBe("151936 tokens, tokenizer gpt2 (pre qwen2)");
    expect(row("BOS token")).toBe('151643 "<|endoftext|>"');
    expect(row("chat template")).toBe("yes, 4116 chars: {%- if tools %}");
    expect(row("file size")).toBe("11 MB (11133664 bytes)");
    expect(row("tensor types")).toMatch(/^Q8_0 +15 tensors +5\.2 MB/);
  });

  it("prints --json with metadata, tensors and summary as the issue specifies", async () => {
    const j = cliJson([REALTOK]);
    const theirs = await gguf(REALTOK, { allowLocalFile: true });
    expect(j.format).toBe("gguf");
    expect(j.path).toBe(REALTOK);
    expect(j.version).toBe(3);
    expect(j.alignment).toBe(32);
    expect(BigInt(j.dataOffset)).toBe(theirs.tensorDataOffset);
    const tokens = (theirs.metadata as Record<string, unknown>)["tokenizer.ggml.tokens"] as string[];
    expect(j.metadata["tokenizer.ggml.tokens"]).toEqual({ type: "array", itemType: "STRING", length: 151936, head: tokens.slice(0, 8) });
    expect(j.metadata["tokenizer.ggml.token_type"]).toMatchObject({ type: "array", itemType: "INT32", length: 151936 });
    expect(j.metadata["general.architecture"]).toBe("qwen3");
    expect(j.metadata["qwen3.context_length"]).toBe(40960);
    expect(j.tensors).toHaveLength(theirs.tensorInfos.length);
    expect(j.tensors[0]).toEqual({ name: "token_embd.weight", type: "Q8_0", shape: [32, 151936], offset: 0, size: 5165824 });
    theirs.tensorInfos.forEach((t, i) => expect(BigInt(j.tensors[i].offset)).toBe(t.offset));
    expect(j.summary.parameterCount).toBe(4892896);
  });

  it("abbreviates arrays over 64 elements unless --full", async () => {
    const short = await libraryJson(LLAMA3);
    expect(short.metadata["tokenizer.ggml.tokens"]).toMatchObject({ type: "array", itemType: "STRING", length: 512 });
    const full = await libraryJson(LLAMA3, { full: true });
    const tokens = full.metadata["tokenizer.ggml.tokens"] as string[];
    expect(tokens).toHaveLength(512);
    expect((short.metadata["tokenizer.ggml.tokens"] as { head: string[] }).head).toEqual(tokens.slice(0, 8));
  });

  it("prints integers beyond 2^53 as decimal strings and non-finite floats as strings", async () => {
    const md: GgufMetadata = new Map();
    md.set("general.architecture", { type: GgufValueType.STRING, value: "llama" });
    md.set("t.big", { type: GgufValueType.UINT64, value: 2n ** 63n + 5n });
    md.set("t.small", { type: GgufValueType.UINT64, value: 2n ** 53n - 1n });
    md.set("t.negative", { type: GgufValueType.INT64, value: -(2n ** 60n) });
    md.set("t.nan", { type: GgufValueType.FLOAT32, value: NaN });
    md.set("t.list", { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.UINT64, length: 2, items: new BigUint64Array([1n, 2n ** 64n - 1n]) } });
    const path = join(tmp, "big-int.gguf");
    writeFileSync(path, encodeGgufHeader(3, md, []));
    const j = await libraryJson(path);
    expect(j.metadata).toEqual({
      "general.architecture": "llama",
      "t.big": "9223372036854775813",
      "t.small": 9007199254740991,
      "t.negative": "-1152921504606846976",
      "t.nan": "NaN",
      "t.list": [1, "18446744073709551615"],
    });
    expect(j.tensors).toEqual([]);
  });

  it("lists tensors and metadata on request, and prints the whole template", () => {
    const r = runCli(["inspect", LLAMA3, "--tensors", "--metadata"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^tensors \(\d+\)$/m);
    expect(r.stdout).toMatch(/^ {2}token_embd\.weight +Q6_K +256 x 512 +107520$/m);
    expect(r.stdout).toMatch(/^ {2}tokenizer\.ggml\.tokens +ARRAY\[STRING\] +512 items: \[/m);
    const t = runCli(["inspect", LLAMA3, "--template"]);
    expect(t.status).toBe(0);
    expect(t.stdout).toContain("<|start_header_id|>");
  });

  it("inspects a Hugging Face folder and a safetensors file", async () => {
    const ref = JSON.parse(readFileSync(join(SHARED, "fixtures/ref/gemma2-tiny/reference.json"), "utf8"));
    const j = await libraryJson(join(SHARED, "fixtures/hf/gemma2-tiny"));
    expect(j.format).toBe("safetensors");
    expect(j.summary.parameterCount).toBe(ref.n_parameters);
    expect(j.summary.architecture).toBe("Gemma2ForCausalLM");
    expect(j.tensors.map((t) => [t.name, t.dtype, t.shape]).sort()).toEqual(ref.tensors.map((t: { name: string; dtype: string; shape: number[] }) => [t.name, t.dtype, t.shape]).sort());
    const f = await libraryJson(join(SHARED, "fixtures/hf/llama2-spm/model.safetensors"));
    expect(f.format).toBe("safetensors");
    expect(f.summary.parameterCount).toBe(623232);
    expect(f.metadata).toEqual({ format: "pt" });
  });

  it("reports bad input in one line with exit code 1", async () => {
    const missing = join(tmp, "missing.gguf");
    const r = runCli(["inspect", missing]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`gguf-tool: ${missing}: no such file or directory\n`);
    const truncated = join(tmp, "truncated.gguf");
    writeFileSync(truncated, readFileSync(LLAMA3).subarray(0, 5000));
    const t = runCli(["inspect", truncated]);
    expect(t.status).toBe(1);
    expect(t.stderr).toMatch(new RegExp(`^gguf-tool: ${truncated}: .* at byte \\d+\\n$`));
    const text = join(tmp, "notes.txt");
    writeFileSync(text, "hello, not a model");
    await expect(inspectTarget(text)).rejects.toThrow(`${text}: not a GGUF or safetensors file (starts with "hell")`);
    const usage = runCli(["inspect"]);
    expect(usage.status).toBe(2);
  });
});

describe("inspect of the Ollama store", () => {
  const models = join(tmp, "models");
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  const blob = (bytes: Buffer) => {
    const digest = sha(bytes);
    writeFileSync(join(models, "blobs", `sha256-${digest}`), bytes);
    return { digest: `sha256:${digest}`, size: bytes.length };
  };
  mkdirSync(join(models, "blobs"), { recursive: true });
  const ggufBytes = readFileSync(LLAMA3);
  const model = blob(ggufBytes);
  const template = blob(Buffer.from("{{ .System }}<|user|>{{ .Prompt }}"));
  const config = blob(Buffer.from('{"model_format":"gguf","model_family":"llama","model_families":["llama"],"model_type":"1.31M","file_type":"Q4_K_M","architecture":"amd64","os":"linux"}\n'));
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.docker.distribution.manifest.v2+json",
    config: { mediaType: "application/vnd.docker.container.image.v1+json", ...config },
    layers: [
      { mediaType: "application/vnd.ollama.image.model", ...model },
      { mediaType: "application/vnd.ollama.image.template", ...template },
    ],
  };
  mkdirSync(join(models, "manifests/registry.ollama.ai/library/tiny"), { recursive: true });
  writeFileSync(join(models, "manifests/registry.ollama.ai/library/tiny/latest"), JSON.stringify(manifest));
  copyFileSync(LLAMA3, join(tmp, "copy.gguf"));

  it("inspects an installed model by name, with its layers", async () => {
    const r = runCli(["inspect", "Tiny", "--models-dir", models]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ {2}model +tiny:latest \(ID [0-9a-f]{12}\)$/m);
    expect(r.stdout).toMatch(/^ {2}architecture +llama$/m);
    expect(r.stdout).toMatch(new RegExp(`^ {4}template +${template.digest} +34 B$`, "m"));
    const j = await libraryJson("tiny:latest", { modelsDir: models });
    expect(j.ollama!.name).toBe("tiny:latest");
    expect(j.ollama!.layers.map((l) => l.kind)).toEqual(["model", "template"]);
    expect(j.summary).toEqual({ ...(await libraryJson(join(tmp, "copy.gguf"))).summary });
  });

  it("inspects a blob by digest, in both spellings, and through OLLAMA_MODELS", async () => {
    const a = await libraryJson(model.digest, { modelsDir: models });
    expect(a.path).toBe(join(models, "blobs", model.digest.replace(":", "-")));
    expect(a.summary.architecture).toBe("llama");
    const b = await libraryJson(model.digest.replace(":", "-"), { modelsDir: models });
    expect(b.summary).toEqual(a.summary);
    const saved = process.env.OLLAMA_MODELS;
    process.env.OLLAMA_MODELS = ` '${models}' `;
    try {
      expect((await libraryJson(model.digest)).summary).toEqual(a.summary);
    } finally {
      if (saved === undefined) delete process.env.OLLAMA_MODELS;
      else process.env.OLLAMA_MODELS = saved;
    }
  });

  it("reports an unknown model, a missing blob and a missing models dir", async () => {
    const r = runCli(["inspect", "nope:7b", "--models-dir", models]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`gguf-tool: nope:7b: model not found in ${models}\n`);
    const d = `sha256:${"0".repeat(64)}`;
    await expect(inspectTarget(d, { modelsDir: models })).rejects.toThrow(`${d}: no such blob in ${models}`);
    await expect(inspectTarget("tiny", { modelsDir: join(tmp, "no-store") })).rejects.toThrow(/\/usr\/share\/ollama\/\.ollama\/models/);
  });
});
