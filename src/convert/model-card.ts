/**
 * The model card: README.md's YAML front matter, read as llama.cpp's converter reads it
 * (gguf-py `Metadata.load_model_card`): the lines between a first line `---` and the next `---`,
 * the "Norway" fix (`- no` kept a string), tabs as two spaces, then PyYAML's `safe_load`.
 *
 * PyYAML resolves plain scalars by YAML 1.1 rules that differ from the `yaml` package's own 1.1
 * schema (no `y`/`n` booleans, `1e3` is a string, `012` octal, dates), so the parse uses the
 * failsafe schema plus PyYAML's resolvers: a value gets the Python type llama.cpp would see,
 * which decides whether gguf-py writes it, skips it, or fails on it.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseDocument, type ScalarTag } from "yaml";
import { ToolError } from "../formats/errors.ts";

/**
 * A YAML value as PyYAML gives it: int is bigint (Python keeps int and float apart), float
 * number, mapping a Map (keys need not be strings), timestamp a Date.
 */
export type CardValue = string | bigint | number | boolean | null | Date | CardValue[] | CardMap;
export type CardMap = Map<unknown, CardValue>;

/** Bigger READMEs are not read: real model cards are kilobytes. */
const MAX_README_BYTES = 64 * 1024 * 1024;

function signAndDigits(text: string): [sign: 1 | -1, digits: string] {
  const v = text.replaceAll("_", "");
  return [v[0] === "-" ? -1 : 1, v[0] === "-" || v[0] === "+" ? v.slice(1) : v];
}

/** PyYAML's implicit resolvers (yaml/resolver.py), in its order, and its constructors. */
const PYYAML_SCALARS: ScalarTag[] = [
  {
    tag: "tag:yaml.org,2002:bool",
    default: true,
    test: /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
    resolve: (s) => ["yes", "true", "on"].includes(s.toLowerCase()),
  },
  {
    tag: "tag:yaml.org,2002:float",
    default: true,
    test: /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
    resolve: (s) => {
      const [sign, v] = signAndDigits(s.toLowerCase());
      if (v === ".inf") return sign * Infinity;
      if (v === ".nan") return NaN;
      if (v.includes(":")) return sign * v.split(":").reduce((acc, p) => acc * 60 + Number(p), 0);
      return sign * Number(v);
    },
  },
  {
    tag: "tag:yaml.org,2002:int",
    default: true,
    test: /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
    resolve: (s) => {
      const [sign, v] = signAndDigits(s);
      let n: bigint;
      if (v === "0") n = 0n;
      else if (v.startsWith("0b") || v.startsWith("0x")) n = BigInt(v); // throws on "0x" alone, as Python's int() does
      else if (v[0] === "0") n = BigInt(`0o${v.slice(1)}`);
      else if (v.includes(":")) n = v.split(":").reduce((acc, p) => acc * 60n + BigInt(p), 0n);
      else n = BigInt(v);
      return BigInt(sign) * n;
    },
  },
  { tag: "tag:yaml.org,2002:null", default: true, test: /^(?:~|null|Null|NULL)?$/, resolve: () => null },
  {
    tag: "tag:yaml.org,2002:timestamp",
    default: true,
    test: /^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$/,
    resolve: (s) => new Date(s), // only its (always true) truthiness matters: gguf-py cannot write a date
  },
  {
    tag: "tag:yaml.org,2002:value",
    default: true,
    test: /^=$/,
    resolve: () => {
      throw new Error("could not determine a constructor for the tag 'tag:yaml.org,2002:value'"); // as PyYAML's safe_load
    },
  },
];

/** Python's str.splitlines() line breaks. */
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/;

/** The front matter as the YAML text llama.cpp hands to PyYAML, or undefined without one. */
export function frontMatterYaml(text: string): string | undefined {
  const lines = text.split(LINE_BREAK);
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop(); // splitlines() makes no empty last line
  if (lines[0] !== "---") return undefined;
  const yamlLines: string[] = [];
  for (const line of lines.slice(1)) {
    if (line === "---") break;
    yamlLines.push(line);
  }
  return `${yamlLines.join("\n")}\n`.replaceAll("- no\n", '- "no"\n').replaceAll("\t", "  ");
}

export interface ParsedModelCard {
  /** the front matter mapping; empty when there is none or it is unusable */
  card: CardMap;
  /** why front matter that exists was not usable (llama.cpp fails or logs an error) */
  problem?: string;
}

function pythonTypeName(v: unknown): string {
  if (v === null) return "empty";
  if (Array.isArray(v)) return "a list";
  return `a ${typeof v === "bigint" ? "number" : typeof v}`;
}

/** Parses README.md's text into its model card. */
export function parseModelCard(text: string): ParsedModelCard {
  const yamlText = frontMatterYaml(text);
  if (yamlText === undefined) return { card: new Map() };
  const doc = parseDocument(yamlText, {
    version: "1.1",
    schema: "failsafe",
    customTags: PYYAML_SCALARS,
    merge: true,
    uniqueKeys: false, // PyYAML keeps the last of duplicate keys
    prettyErrors: false,
    logLevel: "silent",
  });
  if (doc.errors.length > 0) return { card: new Map(), problem: `invalid YAML front matter: ${doc.errors[0].message.split("\n")[0]}` };
  let data: unknown;
  try {
    data = doc.toJS({ mapAsMap: true }); // more than 100 aliases: refused (yaml's guard against alias bombs)
  } catch (err) {
    return { card: new Map(), problem: `invalid YAML front matter: ${(err as Error).message}` };
  }
  if (!(data instanceof Map)) return { card: new Map(), problem: `the YAML front matter is ${pythonTypeName(data)}, not a mapping` };
  return { card: data as CardMap };
}

/**
 * Reads `<dir>/README.md`'s model card; an empty map without one. A card llama.cpp could not
 * read (invalid UTF-8 or YAML, not a mapping) is reported through `warn` and ignored.
 */
export async function readModelCard(dir: string, warn: (message: string) => void): Promise<CardMap> {
  const path = join(dir, "README.md");
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) return new Map();
  if (info.size > MAX_README_BYTES) {
    warn(`${path}: larger than ${MAX_README_BYTES / 1024 / 1024} MiB; model card not read`);
    return new Map();
  }
  const bytes = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new ToolError(path, `cannot read: ${err.code ?? err.message}`);
  });
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    warn(`${path}: not valid UTF-8; model card not read`);
    return new Map();
  }
  const { card, problem } = parseModelCard(text);
  if (problem !== undefined) warn(`${path}: ${problem}; model card not read`);
  return card;
}
