/**
 * Byte-level BPE vocabularies from tokenizer.json, as llama.cpp's converter builds them
 * (`get_vocab_base` and gguf-py's SpecialVocab merges): one token per id up to config.json's
 * vocab_size, `[PAD<id>]` (UNUSED) for ids nobody defines, added tokens CONTROL when special or
 * special-looking and USER_DEFINED otherwise, and the merges as "a b" strings.
 */
import { ToolError } from "../../formats/errors.ts";
import { isInt, isObject, type TokenizerJson } from "./files.ts";
import { TokenType } from "./keys.ts";

export interface TokenList {
  tokens: string[];
  types: Int32Array;
}

/** SentencePiece's visible space, which llama.cpp wants as a real space in user-defined tokens. */
export const SPM_SPACE = "\u2581";

/**
 * llama.cpp's `does_token_look_special`: added tokens some models forget to mark special
 * (`<|...|>`, deepseek's `<｜...｜>`, Gemma's `<unusedN>`, `<mask>`, ...).
 */
export function doesTokenLookSpecial(token: string): boolean {
  if (token === "<pad>" || token === "<mask>" || token === "<2mass>" || token === "[@BOS@]") return true;
  if (token.startsWith("<|") && token.endsWith("|>")) return true;
  if (token.startsWith("<\uff5c") && token.endsWith("\uff5c>")) return true;
  return token.startsWith("<unused") && token.endsWith(">");
}

/** tokenizer.json's `model.vocab`, checked: token text -> id. */
export function modelVocab(tj: TokenizerJson): Map<string, number> {
  const out = new Map<string, number>();
  forEachVocabEntry(tj, (token, id) => out.set(token, id));
  return out;
}

function forEachVocabEntry(tj: TokenizerJson, fn: (token: string, id: number) => void): void {
  const vocab = tj.model.vocab;
  if (!isObject(vocab)) throw new ToolError(tj.path, "model.vocab is not an object of token -> id");
  for (const token in vocab) {
    const id = vocab[token];
    if (!isInt(id) || id < 0) throw new ToolError(tj.path, `model.vocab: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}, not a non-negative integer`);
    fn(token, id);
  }
}

/**
 * The token list and types of a GPT-2-style (byte-level) BPE tokenizer. `vocabSize` is
 * config.json's vocab_size; without it the tokenizer's own size is used, as transformers would.
 */
export function bpeTokenList(tj: TokenizerJson, vocabSize: number | undefined): TokenList {
  // transformers' `tokenizer.vocab`: the model vocabulary with the added tokens over it
  const added = new Map<string, { id: number; special: boolean }>();
  for (const t of tj.addedTokens) added.set(t.content, { id: t.id, special: t.special });
  const byId: (string | undefined)[] = vocabSize === undefined ? [] : new Array(vocabSize);
  let count = 0;
  const place = (token: string, id: number) => {
    if (vocabSize !== undefined && id >= vocabSize) throw new ToolError(tj.path, `token ${JSON.stringify(token)} has id ${id}, beyond the model's vocab_size ${vocabSize}`);
    byId[id] = token;
    count++;
  };
  forEachVocabEntry(tj, (token, id) => {
    if (!added.has(token)) place(token, id);
  });
  for (const [content, t] of added) place(content, t.id);
  const n = vocabSize ?? count;
  if (byId.length > n) throw new ToolError(tj.path, `token ids go up to ${byId.length - 1} but the tokenizer defines only ${count} tokens`);

  const tokens: string[] = new Array(n);
  const types = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const token = byId[i];
    if (token === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TokenType.UNUSED;
      continue;
    }
    const a = added.get(token);
    if (a === undefined) {
      tokens[i] = token;
      types[i] = TokenType.NORMAL;
    } else if (a.special || doesTokenLookSpecial(token)) {
      tokens[i] = token;
      types[i] = TokenType.CONTROL;
    } else {
      // llama.cpp expects user-defined tokens pre-normalized (added for Gemma)
      tokens[i] = token.replaceAll(SPM_SPACE, " ");
      types[i] = TokenType.USER_DEFINED;
    }
  }
  return { tokens, types };
}

/**
 * `model.merges` as gguf-py writes them: "a b" strings kept as they are, the newer ["a", "b"]
 * pairs joined by a space after spaces inside a part are byte-encoded as "Ġ" (U+0120).
 * Undefined when the file has none (SpecialVocab then tries merges.txt).
 */
export function bpeMerges(tj: TokenizerJson): string[] | undefined {
  // both the pre-tokenizer fingerprint and SpecialVocab need them; 151k of them take a while
  if (!mergesCache.has(tj)) mergesCache.set(tj, readMerges(tj));
  return mergesCache.get(tj);
}

const mergesCache = new WeakMap<TokenizerJson, string[] | undefined>();

function readMerges(tj: TokenizerJson): string[] | undefined {
  const merges = tj.model.merges;
  if (!Array.isArray(merges) || merges.length === 0) return undefined;
  const first = merges[0];
  if (typeof first === "string") {
    for (let i = 0; i < merges.length; i++) {
      if (typeof merges[i] !== "string") throw new ToolError(tj.path, `model.merges[${i}] is not a string like the others`);
    }
    return merges as string[];
  }
  if (!Array.isArray(first) || first.length !== 2 || typeof first[0] !== "string") {
    throw new ToolError(tj.path, "unknown format of model.merges (expected \"a b\" strings or [\"a\", \"b\"] pairs)");
  }
  const out: string[] = new Array(merges.length);
  for (let i = 0; i < merges.length; i++) {
    const pair = merges[i];
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") {
      throw new ToolError(tj.path, `model.merges[${i}] is not a pair of strings like the others`);
    }
    out[i] = `${encodeMergeSpaces(pair[0])} ${encodeMergeSpaces(pair[1])}`;
  }
  return out;
}

function encodeMergeSpaces(part: string): string {
  return part.includes(" ") ? part.replaceAll(" ", "\u0120") : part;
}

/** merges.txt of a "slow" GPT-2 tokenizer, as SpecialVocab reads it (optional "#version" line). */
export function parseMergesTxt(text: string): string[] {
  const lines = text.split("\n");
  const merges: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line.length === 0 || (i === 0 && line.startsWith("#"))) continue;
    const parts = line.split(/\s+/);
    if (parts.length !== 2) continue; // SpecialVocab ignores malformed lines (with a warning)
    merges.push(`${parts[0]} ${parts[1]}`);
  }
  return merges;
}
