/**
 * `tokenizer.ggml.pre` for byte-level BPE tokenizers. First llama.cpp's own way: the hash of the
 * encoding of a fixed text, which names every published tokenizer it knows exactly as its
 * converter does. Then, for new vocabularies (where llama.cpp's converter gives up), recognised
 * from what tokenizer.json's pre-tokenizer does: its split regexes, digit splitting,
 * `ignore_merges`, an NFC normalizer. Each known behaviour is a pre-tokenizer llama.cpp
 * implements, with the regexes as the original tokenizer.json files write them. An unknown
 * definition gets the closest one and a warning.
 */
import { createHash } from "node:crypto";
import { encodeByteLevelBpe } from "./bpe-encoder.ts";
import { isObject } from "./files.ts";
import { PRE_TOKENIZER_BY_HASH, PRE_TOKENIZER_CHECK_TEXT } from "./pre-tokenizer-hashes.ts";
import type { TokenizerJson } from "./tokenizer-json.ts";

/**
 * llama.cpp's `chkhsh`: sha256 of Python's `str()` of the ids of the check text, or undefined when
 * the tokenizer cannot be reproduced here.
 */
export function preTokenizerFingerprint(tj: TokenizerJson): string | undefined {
  const ids = encodeByteLevelBpe(tj, PRE_TOKENIZER_CHECK_TEXT);
  return ids === undefined ? undefined : createHash("sha256").update(`[${ids.join(", ")}]`).digest("hex");
}

/** The name llama.cpp's converter gives a tokenizer it knows by its fingerprint. */
export function preTokenizerByFingerprint(tj: TokenizerJson): string | undefined {
  const hash = preTokenizerFingerprint(tj);
  return hash === undefined ? undefined : PRE_TOKENIZER_BY_HASH.get(hash);
}

/** What a BPE pre-tokenizer does, in the terms llama.cpp can reproduce. */
export interface PreTokenizerBehaviour {
  /** the split regexes applied one after the other (ByteLevel's use_regex adds GPT-2's) */
  splits: string[];
  /** tokens found whole in the vocabulary skip the merges (Llama 3) */
  ignoreMerges: boolean;
  /** the text is NFC-normalized first (Qwen) */
  nfc: boolean;
  /** pre-tokenizer or normalizer steps with no llama.cpp counterpart (Metaspace, Whitespace, ...) */
  other: string[];
}

export interface KnownPreTokenizer {
  /** the tokenizer.ggml.pre value */
  name: string;
  splits: string[];
  ignoreMerges: boolean;
  nfc: boolean;
}

const GPT2_REGEX = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;
const LLAMA3_REGEX = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const QWEN2_REGEX = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const QWEN35_REGEX = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const TEKKEN_REGEX = String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const O200K_REGEX = String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/** Pre-tokenizers llama.cpp implements, first match wins (so the common name of a behaviour comes first). */
export const KNOWN_PRE_TOKENIZERS: readonly KnownPreTokenizer[] = [
  { name: "llama-bpe", splits: [LLAMA3_REGEX], ignoreMerges: true, nfc: false }, // Llama 3.x
  { name: "smaug-bpe", splits: [LLAMA3_REGEX], ignoreMerges: false, nfc: false },
  { name: "qwen2", splits: [QWEN2_REGEX], ignoreMerges: false, nfc: true }, // Qwen 1.5 - 3
  { name: "qwen35", splits: [QWEN35_REGEX], ignoreMerges: false, nfc: true },
  { name: "gpt-2", splits: [GPT2_REGEX], ignoreMerges: false, nfc: false },
  { name: "smollm", splits: [String.raw`\p{N}`, GPT2_REGEX], ignoreMerges: false, nfc: false }, // also StarCoder
  { name: "tekken", splits: [TEKKEN_REGEX], ignoreMerges: true, nfc: false }, // Mistral Nemo
  { name: "llama4", splits: [O200K_REGEX], ignoreMerges: true, nfc: false },
  { name: "gpt-4o", splits: [O200K_REGEX], ignoreMerges: false, nfc: false },
];

/** Real CR/LF/TAB characters in a regex mean the same as their escapes. */
function normalizeRegex(re: string): string {
  return re.replaceAll("\r", String.raw`\r`).replaceAll("\n", String.raw`\n`).replaceAll("\t", String.raw`\t`);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function collectPreTokenizer(pt: unknown, out: PreTokenizerBehaviour): void {
  if (pt === null || pt === undefined) return;
  if (!isObject(pt)) {
    out.other.push("pre_tokenizer of unknown shape");
    return;
  }
  switch (pt.type) {
    case "Sequence":
      for (const p of Array.isArray(pt.pretokenizers) ? pt.pretokenizers : []) collectPreTokenizer(p, out);
      return;
    case "Split": {
      const pattern = isObject(pt.pattern) ? pt.pattern : {};
      if (typeof pattern.Regex === "string") out.splits.push(normalizeRegex(pattern.Regex));
      else if (typeof pattern.String === "string") out.splits.push(escapeRegex(pattern.String));
      else out.other.push("Split without a pattern");
      return;
    }
    case "ByteLevel":
      if (pt.use_regex !== false) out.splits.push(GPT2_REGEX);
      return;
    case "Digits":
      out.splits.push(pt.individual_digits === true ? String.raw`\p{N}` : String.raw`\p{N}+`);
      return;
    default:
      out.other.push(String(pt.type));
  }
}

function hasNfc(normalizer: unknown): boolean {
  if (!isObject(normalizer)) return false;
  if (normalizer.type === "NFC") return true;
  return normalizer.type === "Sequence" && Array.isArray(normalizer.normalizers) && normalizer.normalizers.some(hasNfc);
}

export function preTokenizerBehaviour(tj: TokenizerJson): PreTokenizerBehaviour {
  const b: PreTokenizerBehaviour = { splits: [], ignoreMerges: tj.model.ignore_merges === true, nfc: hasNfc(tj.normalizer), other: [] };
  collectPreTokenizer(tj.preTokenizer, b);
  return b;
}

/** The top-level alternatives of a regex (split at `|` outside groups and classes). */
function alternatives(re: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inClass = false;
  let start = 0;
  for (let i = 0; i < re.length; i++) {
    const c = re[i];
    if (c === "\\") i++;
    else if (inClass) inClass = c !== "]";
    else if (c === "[") inClass = true;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "|" && depth === 0) {
      out.push(re.slice(start, i));
      start = i + 1;
    }
  }
  out.push(re.slice(start));
  return out;
}

/** 0..1: how many split rules two behaviours share (Jaccard over the regexes' alternatives). */
function splitSimilarity(a: string[], b: string[]): number {
  const sa = new Set(a.flatMap((re, i) => alternatives(re).map((alt) => `${i}:${alt}`)));
  const sb = new Set(b.flatMap((re, i) => alternatives(re).map((alt) => `${i}:${alt}`)));
  let common = 0;
  for (const x of sa) if (sb.has(x)) common++;
  const union = sa.size + sb.size - common;
  return union === 0 ? 1 : common / union;
}

export interface PreTokenizerMatch {
  known: KnownPreTokenizer;
  /** same splits, ignore_merges and NFC */
  exact: boolean;
  /** share of split rules in common, 0..1 */
  similarity: number;
}

/** The known pre-tokenizer that behaves the same, or else the closest one. */
export function matchPreTokenizer(b: PreTokenizerBehaviour): PreTokenizerMatch {
  let best: PreTokenizerMatch | undefined;
  let bestScore = -Infinity;
  for (const known of KNOWN_PRE_TOKENIZERS) {
    const similarity = splitSimilarity(b.splits, known.splits);
    const exact = similarity === 1 && b.splits.length === known.splits.length && known.ignoreMerges === b.ignoreMerges && known.nfc === b.nfc && b.other.length === 0;
    if (exact) return { known, exact, similarity };
    // the split rules decide; ignore_merges and NFC only break ties
    const score = similarity - (known.ignoreMerges !== b.ignoreMerges ? 0.01 : 0) - (known.nfc !== b.nfc ? 0.005 : 0);
    if (score > bestScore) {
      bestScore = score;
      best = { known, exact, similarity };
    }
  }
  return best!;
}

/** Why a match is not exact, for the warning. */
export function describeMismatch(b: PreTokenizerBehaviour, m: PreTokenizerMatch): string {
  const parts: string[] = [];
  if (m.similarity < 1 || b.splits.length !== m.known.splits.length) parts.push(`${Math.round(m.similarity * 100)}% of its split rules match`);
  if (m.known.ignoreMerges !== b.ignoreMerges) parts.push(`ignore_merges is ${b.ignoreMerges} here`);
  if (m.known.nfc !== b.nfc) parts.push(b.nfc ? "this one normalizes to NFC" : "this one does not normalize to NFC");
  if (b.other.length > 0) parts.push(`steps llama.cpp does not have: ${b.other.join(", ")}`);
  return parts.join("; ");
}
