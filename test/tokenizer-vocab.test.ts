import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ToolError } from "../src/formats/errors.ts";
import { encodeGgufHeader } from "../src/formats/gguf/header-encoder.ts";
import { readGgufHeader } from "../src/formats/gguf/reader.ts";
import { GgufValueType, type GgufMetadata, type GgufValue } from "../src/formats/gguf/types.ts";
import { preTokenizerByFingerprint, preTokenizerFingerprint } from "../src/convert/tokenizer/pre-tokenizer.ts";
import { readTokenizerJson } from "../src/convert/tokenizer/tokenizer-json.ts";
import { loadVocab } from "../src/convert/tokenizer/vocab.ts";
import { SHARED } from "./helpers/cli.ts";

const FIXTURES = ["llama3-tiny", "llama2-spm", "mistral-tiny", "qwen2-tiny", "qwen3-realtok", "gemma2-tiny", "phi3-tiny"];
const hfDir = (name: string) => join(SHARED, "fixtures/hf", name);
const config = (dir: string) => JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Record<string, unknown>;

async function referenceTokenizerMetadata(name: string): Promise<GgufMetadata> {
  const header = await readGgufHeader(join(SHARED, "fixtures/ref", name, `${name}.q8_0.gguf`), { eagerArrays: true });
  return new Map([...header.metadata].filter(([k]) => k.startsWith("tokenizer.")));
}

/** The first difference between two values (type, item type, length, first differing item), or undefined. */
function difference(ours: GgufValue, ref: GgufValue): string | undefined {
  if (ours.type !== ref.type) return `value type ${ours.type}, reference ${ref.type}`;
  if (ours.type !== GgufValueType.ARRAY || ref.type !== GgufValueType.ARRAY) {
    return ours.value === ref.value ? undefined : `${JSON.stringify(ours.value).slice(0, 80)}, reference ${JSON.stringify(ref.value).slice(0, 80)}`;
  }
  const a = ours.value;
  const b = ref.value;
  if (a.itemType !== b.itemType) return `item type ${a.itemType}, reference ${b.itemType}`;
  if (a.length !== b.length || a.items?.length !== b.items?.length) return `length ${a.length}, reference ${b.length}`;
  const ai = a.items as ArrayLike<unknown>;
  const bi = b.items as ArrayLike<unknown>;
  for (let i = 0; i < a.length; i++) {
    // Object.is: also tells -0 from 0 in scores
    if (!Object.is(ai[i], bi[i])) return `item ${i} is ${JSON.stringify(ai[i])}, reference ${JSON.stringify(bi[i])}`;
  }
  return undefined;
}

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

/** A copy of a fixture's tokenizer files (no weights) in a temp folder, for editing. */
function copyFixture(name: string, skip: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), "gguf-tool-vocab-"));
  temps.push(dir);
  for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "added_tokens.json", "generation_config.json"]) {
    if (skip.includes(f)) continue;
    try {
      cpSync(join(hfDir(name), f), join(dir, f));
    } catch {
      // not every fixture has every file
    }
  }
  return dir;
}

async function expectToolError(p: Promise<unknown>, subject: string, detail: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ToolError);
  const te = err as ToolError;
  expect(te.subject).toBe(subject);
  expect(te.detail).toMatch(detail);
  expect(te.message).not.toContain("\n");
}

describe("loadVocab gives llama.cpp's tokenizer metadata", () => {
  for (const name of FIXTURES) {
    it(`${name}: every tokenizer.* key, in order, with the same values and value types`, async () => {
      const warnings: string[] = [];
      const dir = hfDir(name);
      const ours = await loadVocab(dir, config(dir), { onWarning: (m) => warnings.push(m) });
      const ref = await referenceTokenizerMetadata(name);
      expect([...ours.keys()]).toEqual([...ref.keys()]);
      for (const [key, value] of ref) {
        expect(difference(ours.get(key)!, value), key).toBeUndefined();
      }
      expect(warnings).toEqual([]);
      // and the GGUF writer's encoding of them is the same bytes
      expect(encodeGgufHeader(3, ours, []).equals(encodeGgufHeader(3, ref, []))).toBe(true);
    });
  }

  it("recognises the pre-tokenizer from its definition: llama-bpe, qwen2, qwen2", async () => {
    const pre = async (name: string) => (await loadVocab(hfDir(name), config(hfDir(name)))).get("tokenizer.ggml.pre")?.value;
    expect(await pre("llama3-tiny")).toBe("llama-bpe");
    expect(await pre("qwen2-tiny")).toBe("qwen2");
    expect(await pre("qwen3-realtok")).toBe("qwen2");
  });
});

describe("pre-tokenizer choice", () => {
  it("computes llama.cpp's fingerprint (chkhsh) exactly as its converter did for the fixtures", async () => {
    const fingerprint = async (name: string) => {
      const tj = (await readTokenizerJson(join(hfDir(name), "tokenizer.json")))!;
      return { hash: preTokenizerFingerprint(tj), name: preTokenizerByFingerprint(tj) };
    };
    // the hashes llama.cpp printed when it refused these new vocabularies (fixtures README)
    expect(await fingerprint("llama3-tiny")).toEqual({ hash: "6044cd3d60e0ee4e510042bb8cb09bbe26e913cde564f65ef44030b7893e33a1", name: undefined });
    expect(await fingerprint("qwen2-tiny")).toEqual({ hash: "d02d858d61dd6437d8a6adfc857c1ec0debb3410460dbcaa6f817bec345241fd", name: undefined });
    // the real Qwen3 tokenizer is one llama.cpp knows (listed as Qwen1.5's)
    expect(await fingerprint("qwen3-realtok")).toEqual({ hash: "e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea", name: "qwen2" });
  });

  it("takes an override as given, without guessing", async () => {
    const dir = hfDir("qwen2-tiny");
    const warnings: string[] = [];
    const md = await loadVocab(dir, config(dir), { preTokenizer: "deepseek-r1-qwen", onWarning: (m) => warnings.push(m) });
    expect(md.get("tokenizer.ggml.pre")?.value).toBe("deepseek-r1-qwen");
    expect(warnings).toEqual([]);
  });

  it("says an override does not apply to a SentencePiece vocabulary, and refuses an empty one", async () => {
    const dir = hfDir("llama2-spm");
    const warnings: string[] = [];
    const md = await loadVocab(dir, config(dir), { preTokenizer: "llama-bpe", onWarning: (m) => warnings.push(m) });
    expect(md.get("tokenizer.ggml.pre")?.value).toBe("default");
    expect(warnings).toEqual([expect.stringMatching(/applies to byte-level BPE vocabularies only/)]);
    await expectToolError(loadVocab(dir, config(dir), { preTokenizer: " " }), dir, /pre-tokenizer name given is empty/);
  });

  it("warns about an unknown definition and names the closest known one", async () => {
    const dir = copyFixture("qwen2-tiny");
    const tj = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
    // digits in pairs: no llama.cpp pre-tokenizer does that; the rest is Qwen2's regex
    tj.pre_tokenizer.pretokenizers[0].pattern.Regex = tj.pre_tokenizer.pretokenizers[0].pattern.Regex.replace("|\\p{N}|", "|\\p{N}{1,2}|");
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tj));
    const warnings: string[] = [];
    const md = await loadVocab(dir, config(dir), { onWarning: (m) => warnings.push(m) });
    expect(md.get("tokenizer.ggml.pre")?.value).toBe("qwen2");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/pre-tokenizer not recognised; using "qwen2"/);
    expect(warnings[0]).toMatch(/75% of its split rules match/);
  });

  it("tells Llama 3's regex without ignore_merges apart (smaug-bpe)", async () => {
    const dir = copyFixture("llama3-tiny");
    const tj = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
    tj.model.ignore_merges = false;
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tj));
    const md = await loadVocab(dir, config(dir));
    expect(md.get("tokenizer.ggml.pre")?.value).toBe("smaug-bpe");
  });
});

describe("bad tokenizer files are one-line ToolErrors", () => {
  it("no tokenizer at all", async () => {
    const dir = copyFixture("qwen2-tiny", ["tokenizer.json", "tokenizer_config.json"]);
    await expectToolError(loadVocab(dir, config(dir)), dir, /no tokenizer/);
  });

  it("a tokenizer.json that is not byte-level where no tokenizer.model is there", async () => {
    const dir = copyFixture("gemma2-tiny", ["tokenizer.model"]);
    const cfg = { ...config(dir), architectures: ["Gemma3ForCausalLM"] };
    await expectToolError(loadVocab(dir, cfg), join(dir, "tokenizer.json"), /not a byte-level BPE tokenizer/);
  });

  it("a SentencePiece architecture without tokenizer.model", async () => {
    const dir = copyFixture("gemma2-tiny", ["tokenizer.model"]);
    await expectToolError(loadVocab(dir, config(dir)), join(dir, "tokenizer.model"), /not found/);
  });

  it("a corrupt tokenizer.model", async () => {
    const dir = copyFixture("llama2-spm");
    const bytes = readFileSync(join(dir, "tokenizer.model"));
    writeFileSync(join(dir, "tokenizer.model"), bytes.subarray(0, bytes.length - 7));
    await expectToolError(loadVocab(dir, config(dir)), join(dir, "tokenizer.model"), /not a SentencePiece model: .* at byte \d+/);
    writeFileSync(join(dir, "tokenizer.model"), "{\"this\": \"is json\"}");
    await expectToolError(loadVocab(dir, config(dir)), join(dir, "tokenizer.model"), /not a SentencePiece model/);
  });

  it("malformed tokenizer.json", async () => {
    const dir = copyFixture("llama3-tiny");
    const text = readFileSync(join(dir, "tokenizer.json"), "utf8");
    writeFileSync(join(dir, "tokenizer.json"), text.slice(0, 1000));
    await expectToolError(loadVocab(dir, config(dir)), join(dir, "tokenizer.json"), /not valid JSON/);
    const tj = JSON.parse(text);
    tj.model.vocab["hello"] = "five";
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tj));
    await expectToolError(loadVocab(dir, config(dir)), join(dir, "tokenizer.json"), /token "hello" has id "five"/);
    delete tj.model.vocab["hello"];
    tj.model.merges = [["a", "b", "c"]];
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tj));
    await expectToolError(loadVocab(dir, config(dir)), join(dir, "tokenizer.json"), /unknown format of model.merges/);
  });

  it("token ids beyond config.json's vocab_size", async () => {
    const dir = copyFixture("qwen2-tiny");
    await expectToolError(loadVocab(dir, { ...config(dir), vocab_size: 400 }), join(dir, "tokenizer.json"), /has id \d+, beyond the model's vocab_size 400/);
  });

  it("malformed tokenizer_config.json", async () => {
    const dir = copyFixture("phi3-tiny");
    writeFileSync(join(dir, "tokenizer_config.json"), "[1, 2]");
    await expectToolError(loadVocab(dir, config(dir)), join(dir, "tokenizer_config.json"), /expected a JSON object/);
  });
});
