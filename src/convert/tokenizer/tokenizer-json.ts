/**
 * tokenizer.json (Hugging Face `tokenizers`), read fast: its two big parts, `model.vocab` (150k
 * "token": id pairs for Qwen) and `model.merges` (150k more), are scanned straight into arrays;
 * only the small rest goes through JSON.parse. Building a 150k-key object and walking it again
 * would take most of a conversion's tokenizer time.
 */
import { ToolError } from "../../formats/errors.ts";
import { isInt, isObject, readFileIfExists, type JsonObject } from "./files.ts";

/** One entry of tokenizer.json's `added_tokens`. */
export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

/** `model.vocab` in file order. */
export interface VocabEntries {
  tokens: string[];
  ids: number[];
}

/** The parts of tokenizer.json the converter reads. */
export interface TokenizerJson {
  path: string;
  /** `model` without its vocab and merges (type, ignore_merges, byte_fallback, ...) */
  model: JsonObject;
  /** `model.vocab` when it is an object of token -> id (BPE), else undefined */
  vocab: VocabEntries | undefined;
  /** `model.merges` as gguf-py writes them ("a b"), undefined when there are none */
  merges: string[] | undefined;
  addedTokens: AddedToken[];
  normalizer: unknown;
  preTokenizer: unknown;
  postProcessor: unknown;
  decoder: unknown;
}

const MAX_TOKENIZER_JSON_BYTES = 512 * 1024 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** A cursor over the text of tokenizer.json, just able to walk and skip JSON. */
class Scanner {
  pos = 0;
  constructor(
    readonly text: string,
    readonly path: string,
  ) {}

  fail(what: string): never {
    throw new ToolError(this.path, `not valid JSON: ${what} at character ${this.pos}`);
  }

  ws(): void {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      p++;
    }
    this.pos = p;
  }

  /** the next non-blank character code, not consumed */
  peek(): number {
    this.ws();
    return this.text.charCodeAt(this.pos);
  }

  expect(ch: string): void {
    if (this.peek() !== ch.charCodeAt(0)) this.fail(`expected ${ch}`);
    this.pos++;
  }

  /** `,` and true, or `close` and false */
  more(close: string): boolean {
    const c = this.peek();
    this.pos++;
    if (c === 0x2c) return true;
    if (c === close.charCodeAt(0)) return false;
    return this.fail(`expected , or ${close}`);
  }

  string(): string {
    if (this.peek() !== QUOTE) this.fail("expected a string");
    const t = this.text;
    const start = this.pos;
    let p = start + 1;
    let escaped = false;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        escaped = true;
        p++;
      } else if (Number.isNaN(c)) {
        this.pos = p;
        this.fail("unterminated string");
      }
      p++;
    }
    this.pos = p + 1;
    if (!escaped) return t.slice(start + 1, p);
    try {
      return JSON.parse(t.slice(start, p + 1)) as string;
    } catch {
      this.pos = start;
      return this.fail("bad escape in a string");
    }
  }

  /** A non-negative integer written as plain digits (a token id), else undefined and nothing consumed. */
  digits(): number | undefined {
    this.ws();
    const t = this.text;
    let p = this.pos;
    let v = 0;
    for (let c = t.charCodeAt(p); c >= 0x30 && c <= 0x39; c = t.charCodeAt(++p)) v = v * 10 + (c - 0x30);
    const next = t.charCodeAt(p);
    if (p === this.pos || next === 0x2e || next === 0x65 || next === 0x45 || !Number.isSafeInteger(v)) return undefined;
    this.pos = p;
    return v;
  }

  /** Any JSON value, parsed (for what is not plain in the vocab and merges). */
  value(): unknown {
    const c = this.peek();
    if (c === QUOTE) return this.string();
    if (c === 0x5b) {
      this.pos++;
      const out: unknown[] = [];
      if (this.peek() === 0x5d) {
        this.pos++;
        return out;
      }
      do out.push(this.value());
      while (this.more("]"));
      return out;
    }
    const start = this.pos;
    this.skipValue();
    try {
      return JSON.parse(this.text.slice(start, this.pos));
    } catch {
      this.pos = start;
      return this.fail("bad value");
    }
  }

  /** Moves past one value of any kind without building it. */
  skipValue(): void {
    const c = this.peek();
    if (c === QUOTE) {
      this.string();
      return;
    }
    if (c === 0x7b || c === 0x5b) {
      const close = c === 0x7b ? "}" : "]";
      this.pos++;
      if (this.peek() === close.charCodeAt(0)) {
        this.pos++;
        return;
      }
      do {
        if (c === 0x7b) {
          this.string();
          this.expect(":");
        }
        this.skipValue();
      } while (this.more(close));
      return;
    }
    const t = this.text;
    const start = this.pos;
    let p = start;
    for (;;) {
      const d = t.charCodeAt(p);
      // number and literal characters
      if ((d >= 0x30 && d <= 0x39) || d === 0x2d || d === 0x2b || d === 0x2e || (d >= 0x61 && d <= 0x7a) || (d >= 0x41 && d <= 0x5a)) p++;
      else break;
    }
    if (p === start) this.fail("expected a value");
    this.pos = p;
  }
}

function scanVocab(s: Scanner): VocabEntries | undefined {
  if (s.peek() !== 0x7b) {
    s.skipValue();
    return undefined;
  }
  s.pos++;
  const tokens: string[] = [];
  const ids: number[] = [];
  if (s.peek() === 0x7d) {
    s.pos++;
    return { tokens, ids };
  }
  do {
    const token = s.string();
    s.expect(":");
    const id = s.digits() ?? s.value();
    if (!isInt(id) || id < 0) throw new ToolError(s.path, `model.vocab: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}, not a non-negative integer`);
    tokens.push(token);
    ids.push(id);
  } while (s.more("}"));
  return { tokens, ids };
}

/** Spaces inside a part of a ["a", "b"] merge are byte-encoded as "Ġ" (U+0120), as gguf-py does. */
function encodeMergeSpaces(part: string): string {
  return part.includes(" ") ? part.replaceAll(" ", "\u0120") : part;
}

function scanMerges(s: Scanner): string[] | undefined {
  if (s.peek() !== 0x5b) {
    s.skipValue();
    return undefined;
  }
  s.pos++;
  const out: string[] = [];
  if (s.peek() === 0x5d) {
    s.pos++;
    return undefined;
  }
  let pairs: boolean | undefined;
  do {
    const i = out.length;
    const c = s.peek();
    if (pairs === undefined) {
      if (c === QUOTE) pairs = false;
      else if (c === 0x5b) pairs = true;
      else throw new ToolError(s.path, UNKNOWN_MERGES);
    }
    if (!pairs) {
      if (c !== QUOTE) throw new ToolError(s.path, `model.merges[${i}] is not a string like the others`);
      out.push(s.string());
    } else {
      out.push(scanMergePair(s, i));
    }
  } while (s.more("]"));
  return out;
}

const UNKNOWN_MERGES = "unknown format of model.merges (expected \"a b\" strings or [\"a\", \"b\"] pairs)";

function notAPair(s: Scanner, i: number): ToolError {
  return new ToolError(s.path, i === 0 ? UNKNOWN_MERGES : `model.merges[${i}] is not a pair of strings like the others`);
}

/** A ["a", "b"] merge as "a b", without building the array. */
function scanMergePair(s: Scanner, i: number): string {
  if (s.peek() !== 0x5b) throw notAPair(s, i);
  s.pos++;
  if (s.peek() !== QUOTE) throw notAPair(s, i);
  const a = s.string();
  if (s.peek() !== 0x2c) throw notAPair(s, i);
  s.pos++;
  if (s.peek() !== QUOTE) throw notAPair(s, i);
  const b = s.string();
  if (s.peek() !== 0x5d) throw notAPair(s, i);
  s.pos++;
  return `${encodeMergeSpaces(a)} ${encodeMergeSpaces(b)}`;
}

/** Where `model.vocab` and `model.merges` lie in the text, and what they hold. */
interface ModelScan {
  vocab?: VocabEntries;
  merges?: string[];
  /** [start, end) of each value cut out before the rest is parsed */
  cuts: [number, number][];
}

function scanModel(s: Scanner, scan: ModelScan): void {
  if (s.peek() !== 0x7b) {
    s.skipValue();
    return;
  }
  s.pos++;
  if (s.peek() === 0x7d) {
    s.pos++;
    return;
  }
  do {
    const key = s.string();
    s.expect(":");
    s.ws();
    const start = s.pos;
    if (key === "vocab") {
      scan.vocab = scanVocab(s);
      if (scan.vocab !== undefined) scan.cuts.push([start, s.pos]);
    } else if (key === "merges") {
      scan.merges = scanMerges(s);
      scan.cuts.push([start, s.pos]);
    } else s.skipValue();
  } while (s.more("}"));
}

/** Parses tokenizer.json's text; `path` names it in errors. */
export function parseTokenizerJson(text: string, path: string): TokenizerJson {
  const s = new Scanner(text, path);
  const scan: ModelScan = { cuts: [] };
  if (s.peek() === 0x7b) {
    s.pos++;
    if (s.peek() !== 0x7d) {
      do {
        const key = s.string();
        s.expect(":");
        if (key === "model") scanModel(s, scan);
        else s.skipValue();
      } while (s.more("}"));
    }
  }
  // the rest, with the vocab and merges cut out, is small: let JSON.parse check and build it
  let rest = "";
  let at = 0;
  for (const [start, end] of scan.cuts) {
    rest += `${text.slice(at, start)}null`;
    at = end;
  }
  rest += text.slice(at);
  let json: unknown;
  try {
    json = JSON.parse(rest);
  } catch (e) {
    throw new ToolError(path, `not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(json)) throw new ToolError(path, "expected a JSON object at the top level");
  const model = json.model;
  if (!isObject(model)) throw new ToolError(path, "no \"model\" object");
  if (scan.vocab !== undefined) delete model.vocab;
  delete model.merges;
  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) throw new ToolError(path, "\"added_tokens\" is not a list");
  const addedTokens: AddedToken[] = added.map((t, i) => {
    if (!isObject(t) || !isInt(t.id) || typeof t.content !== "string") {
      throw new ToolError(path, `added_tokens[${i}] has no integer "id" and string "content"`);
    }
    return { id: t.id, content: t.content, special: t.special === true };
  });
  return {
    path,
    model,
    vocab: scan.vocab,
    merges: scan.merges,
    addedTokens,
    normalizer: json.normalizer,
    preTokenizer: json.pre_tokenizer,
    postProcessor: json.post_processor,
    decoder: json.decoder,
  };
}

/** tokenizer.json, or undefined when the folder has none. */
export async function readTokenizerJson(path: string): Promise<TokenizerJson | undefined> {
  const bytes = await readFileIfExists(path, MAX_TOKENIZER_JSON_BYTES);
  return bytes === undefined ? undefined : parseTokenizerJson(bytes.toString("utf8"), path);
}
