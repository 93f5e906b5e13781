/**
 * Reading the files of a Hugging Face tokenizer folder (tokenizer_config.json, added_tokens.json,
 * tokenizer.model, ...) with one-line errors.
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
