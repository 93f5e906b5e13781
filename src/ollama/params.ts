/**
 * Model parameters (`PARAMETER` lines, the params layer): each key has the JSON type of its
 * field in Ollama's `api.Options`/`api.Runner`. A value of the wrong JSON type in a params blob
 * makes `Options.FromMap` fail and the model cannot load, so typing happens here, once.
 */
import { goJsonFloat32 } from "./go-format.ts";
import { goJsonMarshal } from "./go-json.ts";

export type ParamKind = "int" | "float" | "bool" | "stringList";

/** api/types.go field types, by JSON key. `main_gpu` (*int) and `use_mmap` (*bool) included. */
export const PARAM_KINDS: Readonly<Record<string, ParamKind>> = {
  num_ctx: "int",
  num_batch: "int",
  num_gpu: "int",
  main_gpu: "int",
  num_thread: "int",
  draft_num_predict: "int",
  num_keep: "int",
  seed: "int",
  num_predict: "int",
  top_k: "int",
  repeat_last_n: "int",
  top_p: "float",
  min_p: "float",
  typical_p: "float",
  temperature: "float",
  repeat_penalty: "float",
  presence_penalty: "float",
  frequency_penalty: "float",
  use_mmap: "bool",
  stop: "stringList",
};

/** Keys Ollama still recognises but drops with a warning (parser.go `deprecatedParameters`). */
export const DEPRECATED_PARAMS: readonly string[] = [
  "penalize_newline",
  "low_vram",
  "f16_kv",
  "logits_all",
  "vocab_only",
  "use_mlock",
  "mirostat",
  "mirostat_tau",
  "mirostat_eta",
];

/** int -> bigint (int64), float -> number (already rounded to float32), bool, stop -> string[] */
export type ParamValue = bigint | number | boolean | string[];

/** Parameters by key. Insertion order is irrelevant: the blob and the printer sort keys. */
export type Params = Map<string, ParamValue>;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const FLOAT32_MAX = 3.4028234663852886e38;
/** strconv.ParseFloat's decimal and hexadecimal forms; `_` only between digits (Go's underscoreOK). */
const DECIMAL_FLOAT = /^[+-]?(\d(_?\d)*(\.(\d(_?\d)*)?)?|\.\d(_?\d)*)([eE][+-]?\d(_?\d)*)?$/;
const HEX_FLOAT = /^([+-]?)0[xX]_?([0-9a-fA-F](?:_?[0-9a-fA-F])*)?(?:\.([0-9a-fA-F]*))?[pP]([+-]?\d(?:_?\d)*)$/;

/** The value of a Go float literal text, or undefined when strconv.ParseFloat would refuse it. */
function parseGoFloat(raw: string): number | undefined {
  if (DECIMAL_FLOAT.test(raw)) return Number(raw.replace(/_/g, ""));
  const hex = HEX_FLOAT.exec(raw);
  if (!hex || (hex[2] === undefined && !hex[3])) return undefined;
  const int = (hex[2] ?? "").replace(/_/g, "");
  const frac = hex[3] ?? "";
  const mantissa = parseInt(int + frac || "0", 16);
  const value = mantissa * 2 ** (Number(hex[4].replace(/_/g, "")) - 4 * frac.length);
  return hex[1] === "-" ? -value : value;
}
const GO_BOOL: Readonly<Record<string, boolean>> = {
  "1": true, t: true, T: true, TRUE: true, true: true, True: true,
  "0": false, f: false, F: false, FALSE: false, false: false, False: false,
};

/**
 * Types one PARAMETER value as Ollama's `api.FormatParams` does (strconv.ParseInt base 10,
 * ParseFloat to float32, ParseBool). Throws an Error whose message says what is wrong.
 */
export function parseParamValue(key: string, raw: string): ParamValue {
  const kind = PARAM_KINDS[key];
  if (kind === undefined) throw new Error(`unknown parameter '${key}'`);
  switch (kind) {
    case "int": {
      if (!/^[+-]?\d+$/.test(raw)) throw new Error(`invalid int value ${JSON.stringify(raw)} for ${key}`);
      const v = BigInt(raw);
      if (v < INT64_MIN || v > INT64_MAX) throw new Error(`int value ${raw} for ${key} is out of range`);
      return v;
    }
    case "float": {
      // Go also accepts inf and nan, which then fail as JSON: refused here at once
      const v = parseGoFloat(raw);
      if (v === undefined) throw new Error(`invalid float value ${JSON.stringify(raw)} for ${key}`);
      if (!(Math.abs(v) <= FLOAT32_MAX)) throw new Error(`float value ${raw} for ${key} is out of range`);
      return Math.fround(v);
    }
    case "bool": {
      const v = GO_BOOL[raw];
      if (v === undefined) throw new Error(`invalid bool value ${JSON.stringify(raw)} for ${key}`);
      return v;
    }
    case "stringList":
      return [raw];
  }
}

/**
 * Adds one PARAMETER line to `params`: list values append, others replace (the last line wins),
 * as Ollama's Modelfile CreateRequest merges them.
 */
export function addParam(params: Params, key: string, raw: string): void {
  const value = parseParamValue(key, raw);
  const prev = params.get(key);
  if (Array.isArray(value) && Array.isArray(prev)) params.set(key, [...prev, ...value]);
  else params.set(key, value);
}

function encodeValue(key: string, v: ParamValue): string {
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") return PARAM_KINDS[key] === "int" ? BigInt(Math.trunc(v)).toString() : goJsonFloat32(v);
  return `[${v.map((s) => goJsonMarshal(s)).join(",")}]`;
}

/** The params blob: a Go map encoded by json.Encoder (keys sorted, HTML-escaped, trailing "\n"). */
export function encodeParamsJson(params: Params): string {
  const keys = [...params.keys()].sort();
  return `{${keys.map((k) => `${goJsonMarshal(k)}:${encodeValue(k, params.get(k)!)}`).join(",")}}\n`;
}

/**
 * Reads a params blob back into typed values. Integers are kept exact (a seed can exceed 2^53),
 * so the JSON is scanned here rather than by JSON.parse. Unknown keys are kept as Ollama keeps
 * them in the blob (it only warns), typed by their JSON form.
 */
export function decodeParamsJson(text: string): Params {
  const parsed: unknown = JSON.parse(text);
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("params layer is not a JSON object");
  const rawNumbers = scanTopLevelNumbers(text);
  const params: Params = new Map();
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const kind = PARAM_KINDS[key];
    if (Array.isArray(value)) {
      if (!value.every((s) => typeof s === "string")) throw new Error(`params: ${key} is not a list of strings`);
      params.set(key, value as string[]);
    } else if (typeof value === "boolean") params.set(key, value);
    else if (typeof value === "number") {
      const raw = rawNumbers.get(key);
      const isInteger = raw !== undefined && /^-?\d+$/.test(raw);
      params.set(key, (kind === "int" || (kind === undefined && isInteger)) && isInteger ? BigInt(raw!) : value);
    } else throw new Error(`params: ${key} has a ${value === null ? "null" : typeof value} value`);
  }
  return params;
}

/** The source text of each top-level number value in a flat JSON object. */
function scanTopLevelNumbers(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /"((?:[^"\\]|\\.)*)"\s*:\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*[,}]/y;
  let depth = 0;
  let i = 0;
  // only pairs at depth 1 count; strings are skipped so brackets inside them are ignored
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      if (depth === 1) {
        re.lastIndex = i;
        const m = re.exec(text);
        if (m) {
          out.set(JSON.parse(`"${m[1]}"`) as string, m[2]);
          i = re.lastIndex - 1;
          continue;
        }
      }
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    } else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
    i++;
  }
  return out;
}

/**
 * The text a `PARAMETER key value` line carries for a value: integers in full (never `1e+06`,
 * which Ollama's own printer emits and cannot read back), floats in their shortest float32 form.
 * A list gives one string per element.
 */
export function formatParamValues(key: string, value: ParamValue): string[] {
  if (Array.isArray(value)) return value;
  if (typeof value === "bigint") return [value.toString()];
  if (typeof value === "boolean") return [value ? "true" : "false"];
  if (PARAM_KINDS[key] === "int" && Number.isInteger(value)) return [BigInt(value).toString()];
  return [PARAM_KINDS[key] === "float" ? goJsonFloat32(value) : String(value)];
}
