/**
 * gguf-py's LlamaHfVocab: a Llama-2-style tokenizer (BPE with byte fallback) that comes as
 * tokenizer.json only, without tokenizer.model. Every token scores -1000; `<0xXX>` tokens are BYTE,
 * the special tokens named in tokenizer_config.json CONTROL, added tokens beyond the model's
 * vocabulary USER_DEFINED unless special. No padding to config.json's vocab_size.
 */
import { ToolError } from "../../formats/errors.ts";
import { modelVocab } from "./bpe.ts";
import { isObject, type JsonObject } from "./files.ts";
import type { TokenizerJson } from "./tokenizer-json.ts";
import { TokenType } from "./keys.ts";
import type { ScoredTokenList } from "./spm-vocab.ts";

/** llama.cpp takes this path for a BPE tokenizer.json with byte fallback and a Sequence decoder. */
export function isLlamaHfTokenizer(tj: TokenizerJson): boolean {
  return tj.model.type === "BPE" && tj.model.byte_fallback === true && isObject(tj.decoder) && tj.decoder.type === "Sequence";
}

/** transformers' `all_special_tokens`: the named special tokens and the additional ones. */
function specialTokenTexts(tc: JsonObject | undefined): string[] {
  if (tc === undefined) return [];
  const texts: string[] = [];
  const add = (v: unknown) => {
    if (typeof v === "string") texts.push(v);
    else if (isObject(v) && typeof v.content === "string") texts.push(v.content);
  };
  for (const kind of ["bos", "eos", "unk", "sep", "pad", "cls", "mask"]) add(tc[`${kind}_token`]);
  if (Array.isArray(tc.additional_special_tokens)) tc.additional_special_tokens.forEach(add);
  return texts;
}

const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;
const SCORE = -1000;

export function llamaHfTokenList(tj: TokenizerJson, tc: JsonObject | undefined): ScoredTokenList {
  const base = modelVocab(tj);
  const nBase = base.size;
  const all = new Map(base);
  for (const t of tj.addedTokens) all.set(t.content, t.id);
  const byId = new Map<number, string>();
  for (const [token, id] of all) byId.set(id, token);

  const specialIds = new Set<number>();
  const specials = new Map<string, number>();
  for (const text of specialTokenTexts(tc)) {
    const id = all.get(text);
    if (id === undefined) continue;
    specials.set(text, id);
    specialIds.add(id);
  }
  const added = tj.addedTokens.filter((t) => t.id >= nBase).sort((a, b) => a.id - b.id);

  const n = nBase + added.length;
  const tokens: string[] = new Array(n);
  const types = new Int32Array(n);
  for (let id = 0; id < nBase; id++) {
    const token = byId.get(id);
    if (token === undefined) throw new ToolError(tj.path, `no token has id ${id} (the vocabulary has ${nBase} entries)`);
    tokens[id] = token;
    types[id] = BYTE_TOKEN.test(token) ? TokenType.BYTE : specialIds.has(id) ? TokenType.CONTROL : TokenType.NORMAL;
  }
  added.forEach((t, i) => {
    tokens[nBase + i] = t.content;
    types[nBase + i] = specials.has(t.content) ? TokenType.CONTROL : TokenType.USER_DEFINED;
  });
  return { tokens, types, scores: new Float32Array(n).fill(SCORE) };
}
