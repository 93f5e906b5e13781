/**
 * Just enough of Hugging Face `tokenizers` to encode a short text with a byte-level BPE
 * tokenizer.json (normalizer, split pre-tokenizers, byte-level mapping, BPE merges, the
 * post-processor's special tokens), so llama.cpp's pre-tokenizer fingerprint (`chkhsh`) can be
 * computed. Anything it does not reproduce exactly makes it give up (undefined), never guess.
 */
import { isObject } from "./files.ts";
import type { TokenizerJson } from "./tokenizer-json.ts";

class Unsupported extends Error {}

/** GPT-2's bytes_to_unicode: every byte as a printable character. */
const BYTE_TO_CHAR: string[] = (() => {
  const table: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table[b] = String.fromCodePoint(printable ? b : 256 + extra++);
  }
  return table;
})();

const utf8 = new TextEncoder();

function byteLevel(text: string): string {
  let out = "";
  for (const b of utf8.encode(text)) out += BYTE_TO_CHAR[b];
  return out;
}

const GPT2_SPLIT = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;

/**
 * A tokenizers (Oniguruma) regex as a JavaScript one. Node 20 has no `(?i:...)` groups, so the
 * letters inside one become classes, as llama.cpp rewrites its copies of these regexes.
 */
function toJsRegex(re: string): RegExp {
  const js = re.replace(/\(\?i:((?:[^()\\[]|\\.)*)\)/g, (_m, body: string) => `(?:${body.replace(/[A-Za-z]/g, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`)})`);
  try {
    return new RegExp(js, "gu");
  } catch {
    throw new Unsupported(`regex ${re}`);
  }
}

/** tokenizers' Split with behavior Isolated (matches and the text between them are pieces). */
function splitIsolated(pieces: string[], re: RegExp): string[] {
  const out: string[] = [];
  for (const piece of pieces) {
    let last = 0;
    for (const m of piece.matchAll(re)) {
      if (m[0].length === 0) continue;
      if (m.index > last) out.push(piece.slice(last, m.index));
      out.push(m[0]);
      last = m.index + m[0].length;
    }
    if (last < piece.length) out.push(piece.slice(last));
  }
  return out;
}

interface PreTokenized {
  pieces: string[];
  byteLevel: boolean;
}

function preTokenize(pt: unknown, state: PreTokenized): void {
  if (pt === null || pt === undefined) return;
  if (!isObject(pt)) throw new Unsupported("pre_tokenizer");
  switch (pt.type) {
    case "Sequence":
      for (const p of Array.isArray(pt.pretokenizers) ? pt.pretokenizers : []) preTokenize(p, state);
      return;
    case "Split": {
      const pattern = isObject(pt.pattern) ? pt.pattern : {};
      if (typeof pattern.Regex !== "string" || pt.behavior !== "Isolated" || pt.invert === true) throw new Unsupported("Split");
      state.pieces = splitIsolated(state.pieces, toJsRegex(pattern.Regex));
      return;
    }
    case "Digits":
      state.pieces = splitIsolated(state.pieces, pt.individual_digits === true ? /\p{N}/gu : /\p{N}+/gu);
      return;
    case "ByteLevel":
      if (pt.add_prefix_space === true) state.pieces = state.pieces.map((p, i) => (i === 0 && !p.startsWith(" ") ? ` ${p}` : p));
      if (pt.use_regex !== false) state.pieces = splitIsolated(state.pieces, toJsRegex(GPT2_SPLIT));
      state.byteLevel = true;
      return;
    default:
      throw new Unsupported(`pre-tokenizer ${String(pt.type)}`);
  }
}

function normalize(n: unknown, text: string): string {
  if (n === null || n === undefined) return text;
  if (!isObject(n)) throw new Unsupported("normalizer");
  switch (n.type) {
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD":
      return text.normalize(n.type);
    case "Lowercase":
      return text.toLowerCase();
    case "Sequence":
      return (Array.isArray(n.normalizers) ? n.normalizers : []).reduce((t: string, x: unknown) => normalize(x, t), text);
    default:
      throw new Unsupported(`normalizer ${String(n.type)}`);
  }
}

/** The ids the post-processor puts around a single sequence. */
function postProcess(pp: unknown, ids: number[]): number[] {
  if (pp === null || pp === undefined) return ids;
  if (!isObject(pp)) throw new Unsupported("post_processor");
  switch (pp.type) {
    case "ByteLevel":
      return ids;
    case "Sequence":
      return (Array.isArray(pp.processors) ? pp.processors : []).reduce((acc: number[], p: unknown) => postProcess(p, acc), ids);
    case "TemplateProcessing": {
      const specials = isObject(pp.special_tokens) ? pp.special_tokens : {};
      const out: number[] = [];
      for (const piece of Array.isArray(pp.single) ? pp.single : []) {
        if (isObject(piece) && isObject(piece.Sequence)) out.push(...ids);
        else if (isObject(piece) && isObject(piece.SpecialToken)) {
          const st = specials[String(piece.SpecialToken.id)];
          if (!isObject(st) || !Array.isArray(st.ids)) throw new Unsupported("template special token");
          out.push(...(st.ids as number[]));
        } else throw new Unsupported("template piece");
      }
      return out;
    }
    case "RobertaProcessing":
    case "BertProcessing": {
      const cls = Array.isArray(pp.cls) ? pp.cls[1] : undefined;
      const sep = Array.isArray(pp.sep) ? pp.sep[1] : undefined;
      if (typeof cls !== "number" || typeof sep !== "number") throw new Unsupported("cls/sep");
      return [cls, ...ids, sep];
    }
    default:
      throw new Unsupported(`post-processor ${String(pp.type)}`);
  }
}

/** BPE of one pre-tokenized word: merge the lowest-ranked adjacent pair (leftmost first) until none applies. */
function bpeWord(word: string, ranks: Map<string, number>): string[] {
  const parts = Array.from(word);
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = ranks.get(`${parts[i]} ${parts[i + 1]}`);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) return parts;
    parts.splice(best, 2, parts[best] + parts[best + 1]);
  }
}

/**
 * The ranks of the merges, and the ids of the tokens, that can occur in these words: only those
 * made of characters the words contain (a short text needs a few hundred of 150k). Byte-level
 * text is all in the first plane, so a table over UTF-16 code units tells which characters occur.
 */
function relevantTables(tj: TokenizerJson, words: string[]): { ranks: Map<string, number>; ids: Map<string, number> } {
  const present = new Uint8Array(0x10000);
  present[0x20] = 1; // the separator inside "a b" merges
  for (const w of words) for (let i = 0; i < w.length; i++) present[w.charCodeAt(i)] = 1;
  const madeOfPresent = (s: string) => {
    for (let i = 0; i < s.length; i++) if (present[s.charCodeAt(i)] === 0) return false;
    return true;
  };
  const ranks = new Map<string, number>();
  const merges = tj.merges ?? [];
  for (let i = 0; i < merges.length; i++) {
    if (madeOfPresent(merges[i]) && !ranks.has(merges[i])) ranks.set(merges[i], i);
  }
  const ids = new Map<string, number>();
  const { tokens, ids: tokenIds } = tj.vocab!;
  for (let i = 0; i < tokens.length; i++) if (madeOfPresent(tokens[i])) ids.set(tokens[i], tokenIds[i]);
  return { ranks, ids };
}

/**
 * `tokenizer.encode(text)` (with special tokens) for a byte-level BPE tokenizer.json, or
 * undefined when the tokenizer does something this encoder does not reproduce.
 */
export function encodeByteLevelBpe(tj: TokenizerJson, text: string): number[] | undefined {
  try {
    const m = tj.model;
    if (m.type !== "BPE" || m.byte_fallback === true || (m.continuing_subword_prefix ?? "") !== "" || (m.end_of_word_suffix ?? "") !== "") return undefined;
    // added tokens are split off before anything else; the fingerprint text should contain none
    if (tj.addedTokens.some((t) => t.content.length > 0 && text.includes(t.content))) return undefined;
    if (tj.vocab === undefined) return undefined;
    const state: PreTokenized = { pieces: [normalize(tj.normalizer, text)], byteLevel: false };
    preTokenize(tj.preTokenizer, state);
    if (!state.byteLevel) return undefined;
    const words = state.pieces.map(byteLevel);
    const { ranks, ids: vocab } = relevantTables(tj, words);
    const idOf = (token: string) => vocab.get(token);
    const ids: number[] = [];
    for (const word of words) {
      const whole = m.ignore_merges === true ? idOf(word) : undefined;
      if (whole !== undefined) {
        ids.push(whole);
        continue;
      }
      for (const token of bpeWord(word, ranks)) {
        const id = idOf(token);
        if (id === undefined) return undefined;
        ids.push(id);
      }
    }
    return postProcess(tj.postProcessor, ids);
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
}
