/**
 * Reading the JSON files of a Hugging Face tokenizer (tokenizer.json, tokenizer_config.json,
 * added_tokens.json, ...) with one-line errors, and the typed shapes we use from them.
 */
import { readFile, stat } from "node:fs/promises";
import { ToolError } from "../../formats/errors.ts";

/** JSON files bigger than this are not tokenizer files (the real Qwen3 tokenizer.json is 11 MB). */
const MAX_JSON_BYTES = 512 * 1024 * 1024;

export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Python's `isinstance(v, int)` for a parsed JSON value (bools are not ints in JSON). */
export function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v);
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The file's bytes, or undefined when it does not exist. */
export async function readFileIfExists(path: string, maxBytes: number): Promise<Buffer | undefined> {
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) return undefined;
    size = s.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ToolError(path, `cannot read: ${(e as Error).message}`);
  }
  if (size > maxBytes) throw new ToolError(path, `file is ${size} bytes, too large for a tokenizer file`);
  try {
    return await readFile(path);
  } catch (e) {
    throw new ToolError(path, `cannot read: ${(e as Error).message}`);
  }
}

/** A parsed JSON file, or undefined when it does not exist; bad JSON is a ToolError. */
export async function readJsonIfExists(path: string): Promise<unknown> {
  const bytes = await readFileIfExists(path, MAX_JSON_BYTES);
  if (bytes === undefined) return undefined;
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (e) {
    throw new ToolError(path, `not valid JSON: ${(e as Error).message}`);
  }
}

/** Like readJsonIfExists, but the top level must be an object. */
export async function readJsonObjectIfExists(path: string): Promise<JsonObject | undefined> {
  const v = await readJsonIfExists(path);
  if (v === undefined) return undefined;
  if (!isObject(v)) throw new ToolError(path, "expected a JSON object at the top level");
  return v;
}

/** One entry of tokenizer.json's `added_tokens`. */
export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

/** The parts of tokenizer.json (Hugging Face `tokenizers`) the converter reads. */
export interface TokenizerJson {
  path: string;
  model: JsonObject & { type?: unknown; vocab?: unknown; merges?: unknown; ignore_merges?: unknown; byte_fallback?: unknown };
  addedTokens: AddedToken[];
  normalizer: unknown;
  preTokenizer: unknown;
  postProcessor: unknown;
  decoder: unknown;
}

/** tokenizer.json checked for the shape every later step relies on. */
export async function readTokenizerJson(path: string): Promise<TokenizerJson | undefined> {
  const json = await readJsonObjectIfExists(path);
  if (json === undefined) return undefined;
  const model = json.model;
  if (!isObject(model)) throw new ToolError(path, "no \"model\" object");
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
    addedTokens,
    normalizer: json.normalizer,
    preTokenizer: json.pre_tokenizer,
    postProcessor: json.post_processor,
    decoder: json.decoder,
  };
}
