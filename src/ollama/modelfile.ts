/**
 * Modelfiles, read and written as Ollama does (`parser/parser.go`): the same lexing state machine
 * (commands in any case, `#` comments at line starts, `"` and `"""` quoting with no escapes, a
 * value ending only at a newline where its quoting is balanced), PARAMETER values typed like
 * `api.FormatParams`, and a printer whose output parses back to the same values.
 */
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { describeFsError } from "../formats/atomic-file.ts";
import { ToolError } from "../formats/errors.ts";
import { addParam, DEPRECATED_PARAMS, formatParamValues, type Params } from "./params.ts";

export type MessageRole = "system" | "user" | "assistant";

export interface ModelfileMessage {
  role: MessageRole;
  content: string;
}

/** One command as the lexer found it. */
export interface ModelfileCommand {
  /** lower-case command word; for PARAMETER the parameter's key, with `isParameter` set */
  name: string;
  args: string;
  /** 1-based line the command starts on */
  line: number;
  isParameter?: boolean;
  role?: MessageRole;
}

export interface ParsedModelfile {
  /** FROM values in file order (paths or model names): the model, then projectors */
  from: string[];
  adapters: string[];
  draft?: string;
  template?: string;
  system?: string;
  params: Params;
  licenses: string[];
  messages: ModelfileMessage[];
  /** semver without a leading `v` */
  requires?: string;
  renderer?: string;
  parser?: string;
  /** folder that relative FROM/ADAPTER paths are resolved against (the Modelfile's folder) */
  baseDir?: string;
  /** deprecated parameters that were dropped, one message each */
  warnings: string[];
}

export function emptyModelfile(): ParsedModelfile {
  return { from: [], adapters: [], params: new Map(), licenses: [], messages: [], warnings: [] };
}

const COMMANDS = ["from", "license", "template", "system", "adapter", "renderer", "parser", "parameter", "message", "requires", "draft"];
const INVALID_COMMAND = `command must be one of ${COMMANDS.map((c) => `"${c}"`).join(", ")}`;
const ROLES: readonly string[] = ["system", "user", "assistant"];

type State = "nil" | "name" | "value" | "parameter" | "message" | "comment";

const isAlpha = (c: string) => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z");
const isDigit = (c: string) => c >= "0" && c <= "9";
const isSpace = (c: string) => c === " " || c === "\t";
const isNewline = (c: string) => c === "\r" || c === "\n";
/** Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** Go's strings.TrimSpace (Unicode White_Space at both ends). */
function trimSpace(s: string): string {
  return s.replace(/^[\s\u0085]+|[\s\u0085]+$/gu, "");
}

/** Ollama's `unquote`: `"""…"""` or `"…"` checked on the first and last characters only; no escapes. */
function unquote(s: string): string | undefined {
  if (s.startsWith('"""')) return s.length >= 6 && s.endsWith('"""') ? s.slice(3, -3) : undefined;
  if (s.startsWith('"')) return s.length >= 2 && s.endsWith('"') ? s.slice(1, -1) : undefined;
  return s;
}

/**
 * Splits Modelfile text into commands. Errors name the source and the line of the command.
 * Runes that are not printable are dropped outside quoted values, as Ollama drops them.
 */
export function lexModelfile(text: string, source: string): ModelfileCommand[] {
  const commands: ModelfileCommand[] = [];
  const fail = (line: number, msg: string): never => {
    throw new ToolError(source, `line ${line}: ${msg}`);
  };
  let state: State = "nil";
  let buf = "";
  let line = 1;
  let cmdLine = 1;
  let name = "";
  let isParameter = false;
  let role: MessageRole | undefined;
  let prev = "";

  for (const ch of text) {
    // a CRLF pair counts as one line break
    if (ch === "\n" ? prev !== "\r" : ch === "\r") line++;
    prev = ch;
    let next: State = state;
    let r: string | undefined = ch; // the rune that goes into the buffer, if any
    switch (state) {
      case "nil":
        if (ch === "#") [next, r] = ["comment", undefined];
        else if (isSpace(ch) || isNewline(ch)) [next, r] = ["nil", undefined];
        else {
          next = "name";
          cmdLine = line;
        }
        break;
      case "name":
        if (isAlpha(ch)) next = "name";
        else if (isSpace(ch)) [next, r] = ["value", undefined];
        else return fail(cmdLine, isNewline(ch) ? `${buf.toUpperCase()} has no value` : INVALID_COMMAND);
        break;
      case "value":
        next = isNewline(ch) || isSpace(ch) ? "nil" : "value";
        break;
      case "parameter":
        if (isAlpha(ch) || isDigit(ch) || ch === "_") next = "parameter";
        else if (isSpace(ch)) [next, r] = ["value", undefined];
        else return fail(cmdLine, buf ? `PARAMETER ${buf} has no value` : "PARAMETER needs a name and a value");
        break;
      case "message":
        if (isAlpha(ch)) next = "message";
        else if (isSpace(ch)) [next, r] = ["value", undefined];
        else return fail(cmdLine, "MESSAGE needs a role and a text");
        break;
      case "comment":
        [next, r] = [isNewline(ch) ? "nil" : "comment", undefined];
        break;
    }

    if (next !== state) {
      switch (state) {
        case "name": {
          const word = buf.toLowerCase();
          if (!COMMANDS.includes(word)) return fail(cmdLine, INVALID_COMMAND);
          isParameter = false;
          if (word === "parameter") next = "parameter";
          else if (word === "message") next = "message";
          name = word;
          break;
        }
        case "parameter":
          name = buf;
          isParameter = true;
          break;
        case "message":
          if (!ROLES.includes(buf)) return fail(cmdLine, 'message role must be one of "system", "user", or "assistant"');
          role = buf as MessageRole;
          break;
        case "value": {
          const value = unquote(trimSpace(buf));
          if (value === undefined || isSpace(ch)) {
            // quoting not balanced yet (or only a space): the value goes on, newlines included
            buf += ch;
            continue;
          }
          commands.push({ name, args: value, line: cmdLine, ...(isParameter ? { isParameter } : {}), ...(role ? { role } : {}) });
          role = undefined;
          break;
        }
      }
      buf = "";
      state = next;
    }
    if (r !== undefined && PRINTABLE.test(r)) buf += r;
  }

  switch (state) {
    case "nil":
    case "comment":
      break;
    case "value": {
      const value = unquote(trimSpace(buf));
      if (value === undefined) return fail(cmdLine, "unexpected end of file: a quoted value is not closed");
      commands.push({ name, args: value, line: cmdLine, ...(isParameter ? { isParameter } : {}), ...(role ? { role } : {}) });
      break;
    }
    default:
      return fail(cmdLine, "unexpected end of file: the command has no value");
  }
  return commands;
}

const SEMVER = /^v?(\d+)(\.\d+(\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?)?)?$/;

/**
 * Parses Modelfile text into the values a create uses. `requireFrom` (default true) gives
 * Ollama's "no FROM line" error; the CLI turns it off when `--from` names the model.
 */
export function parseModelfile(
  text: string,
  options: { source: string; baseDir?: string; requireFrom?: boolean },
): ParsedModelfile {
  const { source } = options;
  const m = emptyModelfile();
  if (options.baseDir !== undefined) m.baseDir = options.baseDir;
  for (const c of lexModelfile(text, source)) {
    const fail = (msg: string): never => {
      throw new ToolError(source, `line ${c.line}: ${msg}`);
    };
    if (c.isParameter) {
      if (DEPRECATED_PARAMS.includes(c.name)) {
        m.warnings.push(`line ${c.line}: parameter ${c.name} is deprecated and was ignored`);
        continue;
      }
      try {
        addParam(m.params, c.name, c.args);
      } catch (err) {
        fail((err as Error).message);
      }
      continue;
    }
    switch (c.name) {
      case "from":
        if (c.args === "") fail("FROM needs a GGUF file, a folder or a model name");
        m.from.push(c.args);
        break;
      case "adapter":
        if (c.args === "") fail("ADAPTER needs a file");
        m.adapters.push(c.args);
        break;
      case "draft":
        m.draft = c.args;
        break;
      case "template":
        m.template = c.args;
        break;
      case "system":
        m.system = c.args;
        break;
      case "license":
        m.licenses.push(c.args);
        break;
      case "message":
        m.messages.push({ role: c.role!, content: c.args });
        break;
      case "requires": {
        if (!SEMVER.test(c.args)) fail(`REQUIRES ${JSON.stringify(c.args)} is not a version (e.g. 0.14.0)`);
        m.requires = c.args.replace(/^v/, "");
        break;
      }
      case "renderer":
        m.renderer = c.args;
        break;
      case "parser":
        m.parser = c.args;
        break;
    }
  }
  if ((options.requireFrom ?? true) && m.from.length === 0) throw new ToolError(source, "no FROM line");
  return m;
}

/** Decodes Modelfile bytes: a UTF-8 BOM is dropped, UTF-16 with a BOM is decoded, as Ollama does. */
export function decodeModelfileBytes(bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes.subarray(2));
  return new TextDecoder("utf-8").decode(bytes); // strips a UTF-8 BOM, replaces bad bytes
}

/** Reads and parses a Modelfile; relative paths in it resolve against its folder. */
export async function readModelfile(path: string, options: { requireFrom?: boolean } = {}): Promise<ParsedModelfile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new ToolError(path, `cannot read Modelfile: ${describeFsError(err)}`);
  }
  return parseModelfile(decodeModelfileBytes(bytes), { source: path, baseDir: dirname(resolve(path)), ...options });
}

/** What `show --modelfile` prints, in Ollama's order. */
export interface ModelfileToPrint {
  /** comment lines printed first, without the leading `# ` */
  comments?: string[];
  /** the model's FROM (a blob path or a model name) */
  model: string;
  adapters?: string[];
  draft?: string;
  projectors?: string[];
  template?: string;
  system?: string;
  renderer?: string;
  parser?: string;
  requires?: string;
  params?: Params;
  licenses?: string[];
  messages?: ModelfileMessage[];
}

/** True when `line` (a command word plus `value`) lexes back to exactly `expected`. */
function readsBackAs(value: string, expected: string): boolean {
  try {
    const cmds = lexModelfile(`SYSTEM ${value}\n`, "");
    return cmds.length === 1 && cmds[0].args === expected;
  } catch {
    return false;
  }
}

/**
 * The Modelfile form of a value. Ollama's rule first (wrap only values with a newline or
 * leading/trailing space, in `"""` when they contain `"`), then any other form that parses back
 * to the same text; `exact` is false when none does (a value containing both a line ending in
 * `"""` and one ending in `"`, or characters the parser drops).
 */
export function quoteModelfileValue(s: string): { text: string; exact: boolean } {
  if (s === "") return { text: '""', exact: true };
  const ollama = s.includes("\n") || s.startsWith(" ") || s.endsWith(" ") ? (s.includes('"') ? `"""${s}"""` : `"${s}"`) : s;
  const candidates = [ollama, s, `"""${s}"""`, `"${s}"`];
  for (const text of candidates) if (readsBackAs(text, s)) return { text, exact: true };
  return { text: ollama, exact: false };
}

/**
 * Prints a Modelfile that `parseModelfile` reads back to the same values (parameters sorted by
 * key, integers never in exponent form). `inexact` lists the commands whose value could not be
 * written so that it reads back unchanged.
 */
export function printModelfile(m: ModelfileToPrint): { text: string; inexact: string[] } {
  const lines: string[] = [];
  const inexact: string[] = [];
  const put = (cmd: string, value: string) => {
    const q = quoteModelfileValue(value);
    if (!q.exact) inexact.push(cmd);
    lines.push(`${cmd} ${q.text}`);
  };
  for (const c of m.comments ?? []) lines.push(c === "" ? "" : `# ${c}`);
  if (m.comments?.length) lines.push("");
  put("FROM", m.model);
  for (const a of m.adapters ?? []) put("ADAPTER", a);
  if (m.draft !== undefined) put("DRAFT", m.draft);
  for (const p of m.projectors ?? []) put("FROM", p);
  if (m.template !== undefined) put("TEMPLATE", m.template);
  if (m.system !== undefined) put("SYSTEM", m.system);
  if (m.renderer !== undefined) put("RENDERER", m.renderer);
  if (m.parser !== undefined) put("PARSER", m.parser);
  if (m.requires !== undefined) put("REQUIRES", m.requires);
  for (const key of [...(m.params?.keys() ?? [])].sort()) {
    for (const v of formatParamValues(key, m.params!.get(key)!)) put(`PARAMETER ${key}`, v);
  }
  for (const l of m.licenses ?? []) put("LICENSE", l);
  for (const msg of m.messages ?? []) {
    // Modelfiles carry only these roles; a "tool" message from an API-created model cannot be written
    if (!ROLES.includes(msg.role)) inexact.push(`MESSAGE ${msg.role}`);
    put(`MESSAGE ${msg.role}`, msg.content);
  }
  return { text: lines.join("\n") + "\n", inexact };
}
