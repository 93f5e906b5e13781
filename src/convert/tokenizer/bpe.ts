/**
 * Byte-level BPE vocabularies from tokenizer.json, as llama.cpp's converter builds them
 * (`get_vocab_base`): one token per id up to config.json's vocab_size, `[PAD<id>]` (UNUSED) for
 * ids nobody defines, added tokens CONTROL when special or special-looking and USER_DEFINED
 * otherwise. (The merges come ready from tokenizer-json.ts.)
 */
import { ToolError } from "../../formats/errors.ts";
import type { TokenizerJson, VocabEntries } from "./tokenizer-json.ts";
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

/** Whether a tokenizer.json works on GPT-2's byte-level characters (a ByteLevel pre-tokenizer or decoder). */
export function isByteLevel(tj: TokenizerJson): boolean {
  const hasByteLevel = (x: unknown): boolean => {
    if (typeof x !== "object" || x === null) return false;
    const o = x as { type?: unknown; pretokenizers?: unknown; decoders?: unknown };
    if (o.type === "ByteLevel") return true;
    const parts = Array.isArray(o.pretokenizers) ? o.pretokenizers : Array.isArray(o.decoders) ? o.decoders : [];
    return parts.some(hasByteLevel);
  };
  return hasByteLevel(tj.preTokenizer) || hasByteLevel(tj.decoder);
}

/** tokenizer.json's `model.vocab`, which a BPE vocabulary must have. */
export function vocabEntries(tj: TokenizerJson): VocabEntries {
  if (tj.vocab === undefined) throw new ToolError(tj.path, "model.vocab is not an object of token -> id");
  return tj.vocab;
}

/** tokenizer.json's `model.vocab` as token text -> id. */
export function modelVocab(tj: TokenizerJson): Map<string, number> {
  const { tokens, ids } = vocabEntries(tj);
  const out = new Map<string, number>();
  for (let i = 0; i < tokens.length; i++) out.set(tokens[i], ids[i]);
  return out;
}

/**
 * The token list and types of a GPT-2-style (byte-level) BPE tokenizer. `vocabSize` is
 * config.json's vocab_size; without it the tokenizer's own size is used, as transformers would.
 */
export function bpeTokenList(tj: TokenizerJson, vocabSize: number | undefined): TokenList {
  // transformers' `tokenizer.vocab`: the model vocabulary with the added tokens over it
  const added = new Map<string, { id: number; special: boolean }>();
  for (const t of tj.addedTokens) added.set(t.content, { id: t.id, special: t.special });
  const { tokens: vocabTokens, ids: vocabIds } = vocabEntries(tj);
  const byId: (string | undefined)[] = vocabSize === undefined ? [] : new Array(vocabSize);
  let count = 0;
  const place = (token: string, id: number) => {
    if (vocabSize !== undefined && id >= vocabSize) throw new ToolError(tj.path, `token ${JSON.stringify(token)} has id ${id}, beyond the model's vocab_size ${vocabSize}`);
    byId[id] = token;
    count++;
  };
  for (let i = 0; i < vocabTokens.length; i++) {
    if (!added.has(vocabTokens[i])) place(vocabTokens[i], vocabIds[i]);
  }
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
