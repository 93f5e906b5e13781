import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ToolError } from "../src/formats/errors.ts";
import { readGgufHeader } from "../src/formats/gguf/reader.ts";
import type { GgufMetadata } from "../src/formats/gguf/types.ts";
import { doesTokenLookSpecial, parseMergesTxt } from "../src/convert/tokenizer/bpe.ts";
import { encodeByteLevelBpe } from "../src/convert/tokenizer/bpe-encoder.ts";
import { TokenType } from "../src/convert/tokenizer/keys.ts";
import { matchPreTokenizer, preTokenizerBehaviour } from "../src/convert/tokenizer/pre-tokenizer.ts";
import { parseSentencePieceModel } from "../src/convert/tokenizer/sentencepiece.ts";
import { parseTokenizerJson, readTokenizerJson, type TokenizerJson } from "../src/convert/tokenizer/tokenizer-json.ts";
import { loadVocab } from "../src/convert/tokenizer/vocab.ts";
import { SHARED } from "./helpers/cli.ts";

const hfDir = (name: string) => join(SHARED, "fixtures/hf", name);
const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

function copyFixture(name: string, skip: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), "gguf-tool-tok-"));
  temps.push(dir);
  for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "added_tokens.json"]) {
    if (skip.includes(f)) continue;
    try {
      cpSync(join(hfDir(name), f), join(dir, f));
    } catch {
      // not every fixture has every file
    }
  }
  return dir;
}

function editJson(path: string, edit: (j: Record<string, any>) => void): void {
  const j = readJson(path);
  edit(j);
  writeFileSync(path, JSON.stringify(j));
}

const value = (md: GgufMetadata, key: string) => {
  const v = md.get(key);
  return v?.type === 9 ? Array.from(v.value.items as ArrayLike<unknown>) : v?.value;
};

async function refTokenizer(name: string): Promise<GgufMetadata> {
  const h = await readGgufHeader(join(SHARED, "fixtures/ref", name, `${name}.q8_0.gguf`), { eagerArrays: true });
  return new Map([...h.metadata].filter(([k]) => k.startsWith("tokenizer.")));
}

describe("SentencePiece tokenizer.model reader", () => {
  it("reads pieces, scores, types and the normalizer/trainer flags", () => {
    const llama2 = parseSentencePieceModel(readFileSync(join(hfDir("llama2-spm"), "tokenizer.model")), "llama2");
    expect(llama2.pieces).toHaveLength(768);
    expect(llama2.pieces.slice(0, 4)).toEqual([
      { piece: "<unk>", score: 0, type: TokenType.UNKNOWN },
      { piece: "<s>", score: 0, type: TokenType.CONTROL },
      { piece: "</s>", score: 0, type: TokenType.CONTROL },
      { piece: "<0x00>", score: 0, type: TokenType.BYTE },
    ]);
    expect(llama2.byteFallback).toBe(true);
    expect(llama2.addDummyPrefix).toBe(true);

    const gemma = parseSentencePieceModel(readFileSync(join(hfDir("gemma2-tiny"), "tokenizer.model")), "gemma");
    expect(gemma.addDummyPrefix).toBe(false);
    expect(gemma.pieces[5]).toMatchObject({ piece: "<start_of_turn>", type: TokenType.USER_DEFINED });
  });

  it("rejects lengths that run past the message", () => {
    // field 1 (pieces), length 100, but only 2 bytes follow
    expect(() => parseSentencePieceModel(new Uint8Array([0x0a, 100, 1, 2]), "m")).toThrow(/field length 100 runs past the end/);
    expect(() => parseSentencePieceModel(new Uint8Array([0x0a, 0x80]), "m")).toThrow(/truncated varint/);
    expect(() => parseSentencePieceModel(new Uint8Array([]), "m")).toThrow(ToolError);
  });
});

describe("BPE merges and tokens", () => {
  const bpeMerges = (merges: unknown) => parseTokenizerJson(JSON.stringify({ model: { type: "BPE", vocab: {}, merges } }), "t.json").merges;

  it("keeps \"a b\" strings and joins pairs, spaces inside a part becoming Ġ", () => {
    expect(bpeMerges(["a b", "ab c"])).toEqual(["a b", "ab c"]);
    expect(bpeMerges([["a", "b"], ["a b", "c"]])).toEqual(["a b", "a\u0120b c"]);
    expect(bpeMerges([])).toBeUndefined();
    expect(() => bpeMerges([["a", "b"], "c d"])).toThrow(/model.merges\[1\] is not a pair/);
    expect(() => bpeMerges(["a b", ["c", "d"]])).toThrow(/model.merges\[1\] is not a string/);
    expect(() => bpeMerges([["a", "b", "c"]])).toThrow(/unknown format of model.merges/);
  });

  it("the qwen2-tiny pair merges equal the llama3-tiny string merges they were trained alike", async () => {
    // both fixtures were trained on the same text; the first merges are the same in both forms
    const pairs = (await readTokenizerJson(join(hfDir("qwen2-tiny"), "tokenizer.json")))!.merges;
    const strings = (await readTokenizerJson(join(hfDir("llama3-tiny"), "tokenizer.json")))!.merges;
    expect(pairs!.slice(0, 5)).toEqual(strings!.slice(0, 5));
  });

  it("parses merges.txt with and without a #version line", () => {
    expect(parseMergesTxt("#version: 0.2\nĠ t\nh e\n\nbad line here\n")).toEqual(["Ġ t", "h e"]);
    expect(parseMergesTxt("Ġ t\r\nh e")).toEqual(["Ġ t", "h e"]);
  });

  it("knows the added tokens llama.cpp treats as special although not marked", () => {
    for (const t of ["<|im_start|>", "<pad>", "<mask>", "<unused12>", "<\uff5cbegin\u2581of\u2581sentence\uff5c>"]) expect(doesTokenLookSpecial(t)).toBe(true);
    for (const t of ["<tool_call>", "<s>", "[INST]"]) expect(doesTokenLookSpecial(t)).toBe(false);
  });
});

describe("SpecialVocab rules", () => {
  it("a TemplateProcessing that ends with another eos makes it eos and the old eos eot", async () => {
    const dir = copyFixture("llama3-tiny");
    editJson(join(dir, "tokenizer.json"), (j) => {
      const tp = j.post_processor.processors[1];
      tp.single.push({ SpecialToken: { id: "<|end_of_text|>", type_id: 0 } });
    });
    const md = await loadVocab(dir, readJson(join(dir, "config.json")));
    const keys = [...md.keys()].filter((k) => !["tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"].includes(k));
    expect(keys).toEqual([
      "tokenizer.ggml.bos_token_id",
      "tokenizer.ggml.eos_token_id",
      "tokenizer.ggml.eot_token_id",
      "tokenizer.ggml.add_bos_token",
      "tokenizer.ggml.add_eos_token",
      "tokenizer.ggml.add_sep_token",
      "tokenizer.chat_template",
    ]);
    expect(value(md, "tokenizer.ggml.eos_token_id")).toBe(501);
    expect(value(md, "tokenizer.ggml.eot_token_id")).toBe(509);
    expect(value(md, "tokenizer.ggml.add_eos_token")).toBe(true);
  });

  it("a RobertaProcessing adds bos, eos and sep", async () => {
    const dir = copyFixture("qwen2-tiny");
    editJson(join(dir, "tokenizer.json"), (j) => {
      j.post_processor = { type: "RobertaProcessing", sep: ["<|im_end|>", 492], cls: ["<|endoftext|>", 490] };
    });
    const md = await loadVocab(dir, readJson(join(dir, "config.json")));
    expect(value(md, "tokenizer.ggml.add_bos_token")).toBe(false); // tokenizer_config.json's add_bos_token wins
    expect(value(md, "tokenizer.ggml.add_eos_token")).toBe(true);
    expect(value(md, "tokenizer.ggml.add_sep_token")).toBe(true);
    expect(value(md, "tokenizer.ggml.seperator_token_id")).toBe(492);
  });

  it("takes the chat template from chat_template.jinja (and named ones) when tokenizer_config.json has none", async () => {
    const dir = copyFixture("qwen2-tiny");
    editJson(join(dir, "tokenizer_config.json"), (j) => delete j.chat_template);
    writeFileSync(join(dir, "chat_template.jinja"), "{{ messages }}");
    let md = await loadVocab(dir, readJson(join(dir, "config.json")));
    expect(value(md, "tokenizer.chat_template")).toBe("{{ messages }}");

    mkdirSync(join(dir, "additional_chat_templates"));
    writeFileSync(join(dir, "additional_chat_templates", "tool-use.jinja"), "{{ tools }}");
    md = await loadVocab(dir, readJson(join(dir, "config.json")));
    expect(value(md, "tokenizer.chat_template.tool_use")).toBe("{{ tools }}");
    expect(value(md, "tokenizer.chat_templates")).toEqual(["tool_use"]);
    expect(value(md, "tokenizer.chat_template")).toBe("{{ messages }}");

    // a chat_template key in tokenizer_config.json wins over the file
    editJson(join(dir, "tokenizer_config.json"), (j) => (j.chat_template = "from config"));
    md = await loadVocab(dir, readJson(join(dir, "config.json")));
    expect(value(md, "tokenizer.chat_template")).toBe("from config");
    expect(md.has("tokenizer.chat_templates")).toBe(false);
  });

  it("reads special ids from config.json's text_config when the root has none", async () => {
    const dir = copyFixture("qwen2-tiny");
    const cfg = readJson(join(dir, "config.json"));
    delete cfg.bos_token_id;
    cfg.text_config = { bos_token_id: 491 };
    const md = await loadVocab(dir, cfg);
    expect(value(md, "tokenizer.ggml.bos_token_id")).toBe(491);
  });

  it("leaves out special ids beyond a SentencePiece vocabulary, with a warning", async () => {
    const dir = copyFixture("llama2-spm");
    const cfg = { ...readJson(join(dir, "config.json")), pad_token_id: 5000 };
    const warnings: string[] = [];
    const md = await loadVocab(dir, cfg, { onWarning: (m) => warnings.push(m) });
    expect(md.has("tokenizer.ggml.padding_token_id")).toBe(false);
    expect(warnings).toEqual([expect.stringMatching(/pad token id 5000 is out of range \(vocabulary of 768\)/)]);
  });
});

describe("architecture routes", () => {
  it("Gemma 1 also writes CodeGemma's eot (107), after the chat template", async () => {
    const dir = copyFixture("gemma2-tiny");
    const cfg = { ...readJson(join(dir, "config.json")), architectures: ["GemmaForCausalLM"] };
    const md = await loadVocab(dir, cfg);
    const ref = await refTokenizer("gemma2-tiny");
    const refKeys = [...ref.keys()];
    const expected = [...refKeys.slice(0, -1), "tokenizer.ggml.eot_token_id", refKeys[refKeys.length - 1]];
    expect([...md.keys()]).toEqual(expected);
    expect(value(md, "tokenizer.ggml.eot_token_id")).toBe(107);
    expect(value(md, "tokenizer.ggml.add_space_prefix")).toBe(false);
  });

  it("Llama writes tokenizer_config.json's add_prefix_space first", async () => {
    const dir = copyFixture("llama2-spm");
    editJson(join(dir, "tokenizer_config.json"), (j) => (j.add_prefix_space = false));
    const md = await loadVocab(dir, readJson(join(dir, "config.json")));
    expect([...md.keys()][0]).toBe("tokenizer.ggml.add_space_prefix");
    expect(value(md, "tokenizer.ggml.add_space_prefix")).toBe(false);
  });

  it("Llama without tokenizer.model takes the Llama-2 tokenizer.json route (LlamaHfVocab)", async () => {
    const dir = copyFixture("llama2-spm", ["tokenizer.model"]);
    const md = await loadVocab(dir, readJson(join(dir, "config.json")));
    const vocab = readJson(join(dir, "tokenizer.json")).model.vocab as Record<string, number>;
    const byId = Object.entries(vocab).sort((a, b) => a[1] - b[1]).map(([t]) => t);
    expect(value(md, "tokenizer.ggml.model")).toBe("llama");
    expect(value(md, "tokenizer.ggml.tokens")).toEqual(byId);
    const scores = value(md, "tokenizer.ggml.scores") as number[];
    expect(new Set(scores)).toEqual(new Set([-1000]));
    const types = value(md, "tokenizer.ggml.token_type") as number[];
    expect(types.slice(0, 5)).toEqual([TokenType.CONTROL, TokenType.CONTROL, TokenType.CONTROL, TokenType.BYTE, TokenType.BYTE]);
    expect(types[258]).toBe(TokenType.BYTE);
    expect(types[259]).toBe(TokenType.NORMAL);
    expect(value(md, "tokenizer.ggml.bos_token_id")).toBe(1);
  });

  it("Qwen2 with a tokenizer.model takes the SentencePiece route", async () => {
    const dir = copyFixture("llama2-spm");
    const cfg = { ...readJson(join(dir, "config.json")), architectures: ["Qwen2ForCausalLM"] };
    const md = await loadVocab(dir, cfg);
    const ref = await refTokenizer("llama2-spm");
    expect(value(md, "tokenizer.ggml.tokens")).toEqual(value(ref, "tokenizer.ggml.tokens"));
    expect(value(md, "tokenizer.ggml.model")).toBe("llama");
  });

  it("pads a SentencePiece vocabulary to config.json's vocab_size with [PAD<id>] UNUSED -10000", async () => {
    const dir = copyFixture("llama2-spm");
    const cfg = { ...readJson(join(dir, "config.json")), vocab_size: 770 };
    const md = await loadVocab(dir, cfg);
    expect((value(md, "tokenizer.ggml.tokens") as string[]).slice(-2)).toEqual(["[PAD768]", "[PAD769]"]);
    expect((value(md, "tokenizer.ggml.scores") as number[]).slice(-2)).toEqual([-10000, -10000]);
    expect((value(md, "tokenizer.ggml.token_type") as number[]).slice(-2)).toEqual([TokenType.UNUSED, TokenType.UNUSED]);
  });
});

describe("byte-level BPE encoder (for llama.cpp's fingerprint)", () => {
  /** A GPT-2-style tokenizer.json: the 256 byte characters, a few merges, ByteLevel with its regex. */
  function gpt2Like(extra: Record<string, unknown> = {}): TokenizerJson {
    const byteChars: string[] = [];
    let n = 0;
    for (let b = 0; b < 256; b++) {
      const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      byteChars.push(String.fromCodePoint(printable ? b : 256 + n++));
    }
    const vocab: Record<string, number> = {};
    byteChars.forEach((c, i) => (vocab[c] = i));
    const merges = ["h e", "l l", "he ll", "hell o", "\u0120 w", "\u0120w o"];
    merges.forEach((m, i) => (vocab[m.replace(" ", "")] = 256 + i));
    const json = {
      model: { type: "BPE", vocab, merges },
      added_tokens: [{ id: 262, content: "<|endoftext|>", special: true }],
      normalizer: null,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: true },
      post_processor: { type: "ByteLevel" },
      decoder: { type: "ByteLevel" },
      ...extra,
    };
    return parseTokenizerJson(JSON.stringify(json), "gpt2.json");
  }

  it("splits with GPT-2's regex, maps bytes and merges by rank", () => {
    const tj = gpt2Like();
    // "hello" -> he, ll -> hell -> hello; " world" -> Ġw -> Ġwo, r, l, d; "!" ; "\n" byte 10 -> Ċ (256 + 10)
    expect(encodeByteLevelBpe(tj, "hello world!\n")).toEqual([259, 261, "r".charCodeAt(0), "l".charCodeAt(0), "d".charCodeAt(0), "!".charCodeAt(0), 10]);
  });

  it("adds the template's special tokens and gives up on what it cannot reproduce", () => {
    const withBos = gpt2Like({ post_processor: { type: "TemplateProcessing", single: [{ SpecialToken: { id: "<|endoftext|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }], special_tokens: { "<|endoftext|>": { id: "<|endoftext|>", ids: [262], tokens: ["<|endoftext|>"] } } } });
    expect(encodeByteLevelBpe(withBos, "hello")).toEqual([262, 259]);
    const metaspace = gpt2Like({ pre_tokenizer: { type: "Metaspace", replacement: "\u2581" } });
    expect(encodeByteLevelBpe(metaspace, "hello")).toBeUndefined();
    const possessive = gpt2Like({ pre_tokenizer: { type: "Split", pattern: { Regex: "\\p{L}++" }, behavior: "Isolated", invert: false } });
    expect(encodeByteLevelBpe(possessive, "hello")).toBeUndefined();
    // an added token inside the text is split off first by tokenizers: not reproduced
    expect(encodeByteLevelBpe(gpt2Like(), "a<|endoftext|>b")).toBeUndefined();
  });

  it("recognises GPT-2's own pre-tokenizer from its definition", () => {
    const m = matchPreTokenizer(preTokenizerBehaviour(gpt2Like()));
    expect(m.known.name).toBe("gpt-2");
    expect(m.exact).toBe(true);
    const digits = gpt2Like({ pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "Digits", individual_digits: true }, { type: "ByteLevel", use_regex: true }] } });
    expect(matchPreTokenizer(preTokenizerBehaviour(digits)).known.name).toBe("smollm");
  });
});

describe("tokenizer.json reader", () => {
  it("scans vocab and merges exactly as JSON.parse reads them, escapes and odd characters included", () => {
    const vocab: Record<string, number> = { 'a"b': 0, "c\\d": 1, "}": 2, "{": 3, ",": 4, "\u0120x": 5, "\n": 6, "\u{1F999}": 7, "\u2581the": 8, " ": 9, "": 10 };
    const merges = [["a\"", "b"], ["}", "{"], ["x y", "z"]];
    const json = {
      version: "1.0",
      added_tokens: [{ id: 11, content: "<|x|>", special: true, lstrip: false }],
      normalizer: { type: "Sequence", normalizers: [{ type: "Replace", pattern: { String: "}\"]" }, content: "{" }] },
      pre_tokenizer: null,
      model: { type: "BPE", dropout: null, vocab, merges, ignore_merges: true, byte_fallback: false },
      decoder: { type: "ByteLevel" },
    };
    // escaped the way Python's json.dumps writes (ASCII only) and the way tokenizers writes (UTF-8)
    for (const text of [JSON.stringify(json, null, 2), JSON.stringify(json).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)]) {
      const tj = parseTokenizerJson(text, "t.json");
      expect(Object.fromEntries(tj.vocab!.tokens.map((t, i) => [t, tj.vocab!.ids[i]]))).toEqual(vocab);
      expect(tj.merges).toEqual(['a" b', "} {", "x\u0120y z"]);
      expect(tj.model).toEqual({ type: "BPE", dropout: null, ignore_merges: true, byte_fallback: false });
      expect(tj.normalizer).toEqual(json.normalizer);
      expect(tj.addedTokens).toEqual([{ id: 11, content: "<|x|>", special: true }]);
    }
  });

  it("keeps a vocabulary that is not token -> id (Unigram) out of the way until a BPE route needs it", () => {
    const tj = parseTokenizerJson(JSON.stringify({ model: { type: "Unigram", vocab: [["<unk>", 0], ["a", -1.5]] } }), "u.json");
    expect(tj.vocab).toBeUndefined();
    expect(tj.model.vocab).toEqual([["<unk>", 0], ["a", -1.5]]);
  });

  it("refuses ids that are not non-negative integers and broken JSON", () => {
    expect(() => parseTokenizerJson('{"model": {"vocab": {"a": 1.5}}}', "t.json")).toThrow(/token "a" has id 1.5/);
    expect(() => parseTokenizerJson('{"model": {"vocab": {"a": -1}}}', "t.json")).toThrow(/token "a" has id -1/);
    expect(() => parseTokenizerJson('{"model": {"vocab": {"a": 1 "b": 2}}}', "t.json")).toThrow(/not valid JSON: expected , or \} at character/);
    expect(() => parseTokenizerJson('{"model": {"vocab": {"a": 1}}, "x": [1,}', "t.json")).toThrow(/not valid JSON/);
    expect(() => parseTokenizerJson('{"model": {"merges": [["a", "b"], ["c"]]}}', "t.json")).toThrow(/model.merges\[1\] is not a pair/);
    expect(() => parseTokenizerJson('{"model": {"vocab": {"a\\q": 1}}}', "t.json")).toThrow(/bad escape/);
  });
});
