/**
 * A syntax checker for Go `text/template`, following `text/template/parse` (lex.go, parse.go):
 * the same tokens, trim markers, comments, control structures, variable scoping and function
 * check. Ollama parses every template layer with these rules plus its own functions; a template
 * that fails makes `ollama list` drop the model, so we refuse to install one.
 * It checks syntax only; nothing is executed.
 */

/** text/template's builtins plus the functions Ollama adds (template/template.go `funcs`). */
export const OLLAMA_TEMPLATE_FUNCS: ReadonlySet<string> = new Set([
  "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf", "println", "urlquery",
  "eq", "ge", "gt", "le", "lt", "ne",
  "json", "currentDate", "yesterdayDate", "toTypeScriptType",
]);

export class GoTemplateError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`template: line ${line}: ${reason}`);
    this.name = "GoTemplateError";
  }
}

export interface GoTemplateInfo {
  /** every field name used (`.Messages` gives "Messages"), for capability detection */
  fields: Set<string>;
}

type ItemType =
  | "error" | "bool" | "char" | "charConstant" | "comment" | "complex" | "assign" | "declare" | "eof" | "field"
  | "identifier" | "leftDelim" | "leftParen" | "number" | "pipe" | "rawString" | "rightDelim" | "rightParen"
  | "space" | "string" | "text" | "variable"
  // keywords
  | "block" | "break" | "continue" | "dot" | "define" | "else" | "end" | "if" | "nil" | "range" | "template" | "with";

interface Item {
  typ: ItemType;
  val: string;
  line: number;
}

const KEYWORDS: Readonly<Record<string, ItemType>> = {
  ".": "dot", block: "block", break: "break", continue: "continue", define: "define", else: "else", end: "end",
  if: "if", nil: "nil", range: "range", template: "template", with: "with",
};

const LEFT = "{{";
const RIGHT = "}}";
const isSpaceCh = (c: string) => c === " " || c === "\t" || c === "\r" || c === "\n";
const isAlphaNumeric = (c: string) => c === "_" || /^[\p{L}\p{Nd}]$/u.test(c);

/** lex.go as a generator of items; stops after an error or EOF item. */
function* lex(input: string): Generator<Item> {
  let pos = 0;
  let start = 0;
  let line = 1;
  let startLine = 1;
  let parenDepth = 0;
  // code points are read one by one; positions are UTF-16 offsets into input
  const peek = () => {
    if (pos >= input.length) return "";
    const cp = input.codePointAt(pos)!;
    return String.fromCodePoint(cp);
  };
  const next = () => {
    const c = peek();
    pos += c.length;
    if (c === "\n") line++;
    return c;
  };
  const backup = (c: string) => {
    pos -= c.length;
    if (c === "\n") line--;
  };
  const item = (typ: ItemType): Item => {
    const it = { typ, val: input.slice(start, pos), line: startLine };
    start = pos;
    startLine = line;
    return it;
  };
  const ignore = () => {
    start = pos;
    startLine = line;
  };
  const error = (msg: string): Item => ({ typ: "error", val: msg, line });
  /** Consumes a quoted string or char constant up to its closing `quote` (Go's lexQuote/lexChar); false if unterminated. */
  const scanQuoted = (quote: string): boolean => {
    for (;;) {
      let c = next();
      if (c === "\\") {
        c = next();
        if (c !== "" && c !== "\n") continue;
      }
      if (c === "" || c === "\n") return false;
      if (c === quote) return true;
    }
  };
  const hasLeftTrim = (s: string) => s.length >= 2 && s[0] === "-" && isSpaceCh(s[1]);
  const hasRightTrim = (s: string) => s.length >= 2 && isSpaceCh(s[0]) && s[1] === "-";
  const atRightDelim = (): { delim: boolean; trim: boolean } => {
    const rest = input.slice(pos, pos + 4);
    if (hasRightTrim(rest) && rest.slice(2).startsWith(RIGHT)) return { delim: true, trim: true };
    if (rest.startsWith(RIGHT)) return { delim: true, trim: false };
    return { delim: false, trim: false };
  };
  const atTerminator = () => {
    const r = peek();
    if (r === "" || isSpaceCh(r) || ".,|:)(".includes(r)) return true;
    return input.startsWith(RIGHT, pos);
  };
  const advance = (n: number) => {
    for (let i = 0; i < n; i++) next();
  };
  const accept = (valid: string) => {
    const c = peek();
    if (c !== "" && valid.includes(c)) {
      next();
      return true;
    }
    return false;
  };
  const acceptRun = (valid: string) => {
    while (accept(valid));
  };
  const scanNumber = (): boolean => {
    accept("+-");
    let digits = "0123456789_";
    if (accept("0")) {
      if (accept("xX")) digits = "0123456789abcdefABCDEF_";
      else if (accept("oO")) digits = "01234567_";
      else if (accept("bB")) digits = "01_";
    }
    acceptRun(digits);
    if (accept(".")) acceptRun(digits);
    if (digits.length === 11 && accept("eE")) {
      accept("+-");
      acceptRun("0123456789_");
    }
    if (digits.length === 23 && accept("pP")) {
      accept("+-");
      acceptRun("0123456789_");
    }
    accept("i");
    if (isAlphaNumeric(peek())) {
      next();
      return false;
    }
    return true;
  };

  let insideAction = false;
  for (;;) {
    if (!insideAction) {
      // lexText
      const x = input.indexOf(LEFT, pos);
      if (x < 0) {
        advance(input.length - pos);
        if (pos > start) yield item("text");
        yield item("eof");
        return;
      }
      advance(x - pos);
      let trimLength = 0;
      const delimEnd = x + LEFT.length;
      if (hasLeftTrim(input.slice(delimEnd, delimEnd + 2))) {
        // trailing white space of the text before is trimmed
        let end = x;
        while (end > start && isSpaceCh(input[end - 1])) end--;
        trimLength = x - end;
      }
      pos -= trimLength;
      if (pos > start) {
        // count newlines into the text item only
        yield item("text");
      }
      pos += trimLength;
      ignore();
      // lexLeftDelim
      advance(LEFT.length);
      const trim = hasLeftTrim(input.slice(pos, pos + 2));
      const afterMarker = trim ? 2 : 0;
      if (input.startsWith("/*", pos + afterMarker)) {
        advance(afterMarker);
        ignore();
        // lexComment
        advance(2);
        const end = input.indexOf("*/", pos);
        if (end < 0) {
          yield error("unclosed comment");
          return;
        }
        advance(end + 2 - pos);
        const d = atRightDelim();
        if (!d.delim) {
          yield error("comment ends before closing delimiter");
          return;
        }
        ignore();
        advance((d.trim ? 2 : 0) + RIGHT.length);
        if (d.trim) while (isSpaceCh(peek())) next();
        ignore();
        continue;
      }
      yield item("leftDelim");
      advance(afterMarker);
      ignore();
      insideAction = true;
      parenDepth = 0;
      continue;
    }

    // lexInsideAction
    const d = atRightDelim();
    if (d.delim) {
      if (parenDepth !== 0) {
        yield error("unclosed left paren");
        return;
      }
      if (d.trim) {
        advance(2);
        ignore();
      }
      advance(RIGHT.length);
      yield item("rightDelim");
      if (d.trim) {
        while (isSpaceCh(peek())) next();
        ignore();
      }
      insideAction = false;
      continue;
    }
    const r = next();
    if (r === "") {
      yield error("unclosed action");
      return;
    }
    if (isSpaceCh(r)) {
      // lexSpace: a run of spaces; " -}}" belongs to the delimiter
      backup(r);
      let n = 0;
      while (isSpaceCh(peek())) {
        next();
        n++;
      }
      if (hasRightTrim(input.slice(pos - 1, pos + 1)) && input.startsWith(RIGHT, pos + 1)) {
        backup(input[pos - 1]);
        if (n === 1) continue; // on the delimiter
      }
      yield item("space");
      continue;
    }
    switch (true) {
      case r === "=":
        yield item("assign");
        continue;
      case r === ":":
        if (next() !== "=") {
          yield error("expected :=");
          return;
        }
        yield item("declare");
        continue;
      case r === "|":
        yield item("pipe");
        continue;
      case r === '"':
        if (!scanQuoted('"')) {
          yield error("unterminated quoted string");
          return;
        }
        yield item("string");
        continue;
      case r === "`": {
        const end = input.indexOf("`", pos);
        if (end < 0) {
          yield error("unterminated raw quoted string");
          return;
        }
        advance(end + 1 - pos);
        yield item("rawString");
        continue;
      }
      case r === "$":
      case r === ".": {
        if (r === "." && pos < input.length && input[pos] >= "0" && input[pos] <= "9") {
          backup(r);
          if (!scanNumber()) {
            yield error(`bad number syntax: ${JSON.stringify(input.slice(start, pos))}`);
            return;
          }
          yield item("number");
          continue;
        }
        const typ: ItemType = r === "$" ? "variable" : "field";
        if (atTerminator()) {
          yield item(r === "$" ? "variable" : "dot");
          continue;
        }
        let c: string;
        for (;;) {
          c = next();
          if (!isAlphaNumeric(c)) {
            backup(c);
            break;
          }
        }
        if (!atTerminator()) {
          yield error(`bad character ${JSON.stringify(peek())}`);
          return;
        }
        yield item(typ);
        continue;
      }
      case r === "'":
        if (!scanQuoted("'")) {
          yield error("unterminated character constant");
          return;
        }
        yield item("charConstant");
        continue;
      case r === "+" || r === "-" || (r >= "0" && r <= "9"): {
        backup(r);
        if (!scanNumber()) {
          yield error(`bad number syntax: ${JSON.stringify(input.slice(start, pos))}`);
          return;
        }
        if (peek() === "+" || peek() === "-") {
          if (!scanNumber() || input[pos - 1] !== "i") {
            yield error(`bad number syntax: ${JSON.stringify(input.slice(start, pos))}`);
            return;
          }
          yield item("complex");
          continue;
        }
        yield item("number");
        continue;
      }
      case isAlphaNumeric(r): {
        for (;;) {
          const c = next();
          if (!isAlphaNumeric(c)) {
            backup(c);
            break;
          }
        }
        if (!atTerminator()) {
          yield error(`bad character ${JSON.stringify(peek())}`);
          return;
        }
        const word = input.slice(start, pos);
        const kw = Object.hasOwn(KEYWORDS, word) ? KEYWORDS[word] : undefined;
        yield item(kw ?? (word === "true" || word === "false" ? "bool" : "identifier"));
        continue;
      }
      case r === "(":
        parenDepth++;
        yield item("leftParen");
        continue;
      case r === ")":
        parenDepth--;
        if (parenDepth < 0) {
          yield error("unexpected right paren");
          return;
        }
        yield item("rightParen");
        continue;
      case r.codePointAt(0)! <= 0x7f && r >= " " && r !== "\x7f":
        yield item("char");
        continue;
      default:
        yield error(`unrecognized character in action: ${JSON.stringify(r)}`);
        return;
    }
  }
}

// --- literals, as strconv validates them in the parser ---

const INT_LITERAL = /^[+-]?(0[xX](_?[0-9a-fA-F])+|0[bB](_?[01])+|0[oO]?(_?[0-7])+|[1-9](_?\d)*|0)$/;
const DEC_FLOAT = /^[+-]?((\d(_?\d)*)?\.?(\d(_?\d)*)?)([eE][+-]?\d(_?\d)*)?$/;
const HEX_FLOAT = /^[+-]?0[xX](_?[0-9a-fA-F])*\.?([0-9a-fA-F](_?[0-9a-fA-F])*)?[pP][+-]?\d(_?\d)*$/;

function isGoNumber(text: string): boolean {
  const t = text.endsWith("i") ? text.slice(0, -1) : text;
  if (INT_LITERAL.test(t)) {
    // too big for uint64: Go parses it as a float and rejects it as an integer overflow
    const digits = t.replace(/[_+-]/g, "");
    const magnitude = /^0[oO]/.test(digits) ? BigInt(`0o${digits.slice(2)}`) : /^0\d/.test(digits) ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
    return magnitude <= 2n ** 64n - 1n;
  }
  if (HEX_FLOAT.test(t)) return true;
  // a decimal without '.', 'e' or 'E' that is not an int literal (e.g. "09") is rejected by Go
  return DEC_FLOAT.test(t) && /\d/.test(t) && (/[.eE]/.test(t) || text.endsWith("i"));
}

const SIMPLE_ESCAPES = "abfnrtv\\";

/** strconv.Unquote's escape rules for a "…" string or a '…' character constant body. */
function validQuoted(body: string, quote: string): boolean {
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== "\\") continue;
    const e = body[++i];
    if (SIMPLE_ESCAPES.includes(e) || e === quote) continue;
    const hex = (n: number) => {
      const h = body.slice(i + 1, i + 1 + n);
      if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) return undefined;
      i += n;
      return parseInt(h, 16);
    };
    if (e === "x") {
      if (hex(2) === undefined) return false;
    } else if (e === "u" || e === "U") {
      const v = hex(e === "u" ? 4 : 8);
      if (v === undefined || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return false;
    } else if (e >= "0" && e <= "7") {
      const o = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 255) return false;
      i += 2;
    } else return false;
  }
  return true;
}

// --- parser ---

type NodeKind = "text" | "blank" | "action" | "end" | "else" | "control" | "comment" | "template" | "break" | "continue";

/** parse.IsEmptyTree: a template of only white space and comments is empty and may be redefined. */
const EMPTY_KINDS: readonly NodeKind[] = ["blank", "comment"];

class Parser {
  private readonly items: Generator<Item>;
  private readonly token: Item[] = [];
  private peekCount = 0;
  private vars: string[] = ["$"];
  private rangeDepth = 0;
  readonly fields = new Set<string>();

  constructor(
    text: string,
    private readonly funcs: ReadonlySet<string>,
  ) {
    this.items = lex(text);
  }

  private fail(msg: string, line = this.token[0]?.line ?? 1): never {
    throw new GoTemplateError(line, msg);
  }

  private next(): Item {
    if (this.peekCount > 0) this.peekCount--;
    else {
      const r = this.items.next();
      this.token[0] = r.done ? { typ: "eof", val: "", line: this.token[0]?.line ?? 1 } : r.value;
    }
    const t = this.token[this.peekCount];
    if (t.typ === "error") this.fail(t.val, t.line);
    return t;
  }
  private backup() {
    this.peekCount++;
  }
  private backup2(t1: Item) {
    this.token[1] = t1;
    this.peekCount = 2;
  }
  private backup3(t2: Item, t1: Item) {
    this.token[1] = t1;
    this.token[2] = t2;
    this.peekCount = 3;
  }
  private peek(): Item {
    if (this.peekCount > 0) return this.token[this.peekCount - 1];
    this.peekCount = 1;
    const r = this.items.next();
    this.token[0] = r.done ? { typ: "eof", val: "", line: this.token[0]?.line ?? 1 } : r.value;
    if (this.token[0].typ === "error") this.fail(this.token[0].val, this.token[0].line);
    return this.token[0];
  }
  private nextNonSpace(): Item {
    let t: Item;
    do t = this.next();
    while (t.typ === "space");
    return t;
  }
  private peekNonSpace(): Item {
    const t = this.nextNonSpace();
    this.backup();
    return t;
  }
  private describe(t: Item): string {
    if (t.typ === "eof") return "EOF";
    if (Object.hasOwn(KEYWORDS, t.val) && t.typ !== "identifier") return `<${t.val}>`;
    return t.val.length > 10 ? `${JSON.stringify(t.val.slice(0, 10))}...` : JSON.stringify(t.val);
  }
  private unexpected(t: Item, context: string): never {
    this.fail(`unexpected ${this.describe(t)} in ${context}`, t.line);
  }
  private expect(typ: ItemType, context: string): Item {
    const t = this.nextNonSpace();
    if (t.typ !== typ) this.unexpected(t, context);
    return t;
  }

  /** The templates defined so far (define/block, and the main one, named ""), by whether they are empty. */
  private readonly trees = new Map<string, boolean>();

  parse(): void {
    let rootEmpty = true;
    while (this.peek().typ !== "eof") {
      if (this.peek().typ === "leftDelim") {
        const delim = this.next();
        if (this.nextNonSpace().typ === "define") {
          this.parseDefinition("define clause");
          continue;
        }
        this.backup2(delim);
      }
      const n = this.textOrAction();
      if (n === "end" || n === "else") this.fail(`unexpected {{${n}}}`);
      if (!EMPTY_KINDS.includes(n)) rootEmpty = false;
    }
    // Ollama parses with template.New(""): the main template is named ""
    this.addTree("", rootEmpty);
  }

  /** parse.Tree.add: a second non-empty definition of a name is an error. */
  private addTree(name: string, empty: boolean) {
    const existing = this.trees.get(name);
    if (existing === undefined || existing) this.trees.set(name, empty);
    else if (!empty) this.fail(`template: multiple definition of template ${JSON.stringify(name)}`);
  }

  /** A template name token's text (simple escapes only; names are plain in practice). */
  private templateName(t: Item): string {
    const body = t.val.slice(1, -1);
    return t.typ === "rawString" || !body.includes("\\") ? body : t.val;
  }

  private parseDefinition(context: string): void {
    const name = this.expectOneOf(["string", "rawString"], context);
    this.checkString(name);
    this.expect("rightDelim", context);
    const { end, empty } = this.parseBody();
    if (end !== "end") this.fail(`unexpected {{${end}}} in ${context}`);
    this.addTree(this.templateName(name), empty);
  }

  /** A define/block body is a template of its own: fresh variables, not inside any range. */
  private parseBody(): { end: "end" | "else"; empty: boolean } {
    const [vars, rangeDepth] = [this.vars, this.rangeDepth];
    this.vars = ["$"];
    this.rangeDepth = 0;
    const body = this.itemList();
    [this.vars, this.rangeDepth] = [vars, rangeDepth];
    return body;
  }

  private expectOneOf(types: ItemType[], context: string): Item {
    const t = this.nextNonSpace();
    if (!types.includes(t.typ)) this.unexpected(t, context);
    return t;
  }

  /** Parses items up to {{end}} or {{else}}; returns which one ended the list and whether the list is empty. */
  private itemList(): { end: "end" | "else"; empty: boolean } {
    let empty = true;
    while (this.peekNonSpace().typ !== "eof") {
      const n = this.textOrAction();
      if (n === "end" || n === "else") return { end: n, empty };
      if (!EMPTY_KINDS.includes(n)) empty = false;
    }
    this.fail("unexpected EOF");
  }

  private textOrAction(): NodeKind {
    const t = this.nextNonSpace();
    switch (t.typ) {
      case "text":
        return /^[\s\u0085]*$/u.test(t.val) ? "blank" : "text";
      case "leftDelim":
        return this.action();
      case "comment":
        return "comment";
      default:
        this.unexpected(t, "input");
    }
  }

  private action(): NodeKind {
    const t = this.nextNonSpace();
    switch (t.typ) {
      case "block":
        return this.blockControl();
      case "break":
      case "continue": {
        const after = this.nextNonSpace();
        if (after.typ !== "rightDelim") this.unexpected(after, `{{${t.typ}}}`);
        if (this.rangeDepth === 0) this.fail(`{{${t.typ}}} outside {{range}}`, t.line);
        return t.typ;
      }
      case "else":
        return this.elseControl();
      case "end":
        this.expect("rightDelim", "end");
        return "end";
      case "if":
      case "range":
      case "with":
        this.parseControl(t.typ);
        return "control";
      case "template":
        return this.templateControl();
    }
    this.backup();
    // variables declared in a plain action persist until the enclosing end
    this.pipeline("command", "rightDelim");
    return "action";
  }

  private elseControl(): NodeKind {
    const p = this.peekNonSpace();
    // "else if" / "else with": the if/with token is left pending for parseControl
    if (p.typ === "if" || p.typ === "with") return "else";
    this.expect("rightDelim", "else");
    return "else";
  }

  private parseControl(context: "if" | "range" | "with"): void {
    const saved = this.vars.length;
    this.pipeline(context, "rightDelim");
    if (context === "range") this.rangeDepth++;
    let next = this.itemList().end;
    if (context === "range") this.rangeDepth--;
    if (next === "else") {
      const p = this.peek();
      if (context === "if" && p.typ === "if") {
        this.next();
        this.parseControl("if");
      } else if (context === "with" && p.typ === "with") {
        this.next();
        this.parseControl("with");
      } else {
        next = this.itemList().end;
        if (next !== "end") this.fail("expected end; found {{else}}");
      }
    }
    this.vars.length = saved;
  }

  private templateControl(): NodeKind {
    const context = "template clause";
    const name = this.expectOneOf(["string", "rawString"], context);
    this.checkString(name);
    if (this.nextNonSpace().typ !== "rightDelim") {
      this.backup();
      this.pipeline(context, "rightDelim");
    }
    return "template";
  }

  private blockControl(): NodeKind {
    const context = "block clause";
    const name = this.expectOneOf(["string", "rawString"], context);
    this.checkString(name);
    this.pipeline(context, "rightDelim");
    const { end, empty } = this.parseBody();
    if (end !== "end") this.fail(`unexpected {{${end}}} in ${context}`);
    this.addTree(this.templateName(name), empty);
    return "template";
  }

  private pipeline(context: string, end: ItemType): void {
    let decls = 0;
    let cmds = 0;
    // declarations: $x := / $x = / (range) $i, $x :=
    for (;;) {
      const v = this.peekNonSpace();
      if (v.typ !== "variable") break;
      this.next();
      const tokenAfterVariable = this.peek();
      const nxt = this.peekNonSpace();
      if (nxt.typ === "assign" || nxt.typ === "declare") {
        this.nextNonSpace();
        this.vars.push(v.val);
        decls++;
        break;
      }
      if (nxt.typ === "char" && nxt.val === ",") {
        this.nextNonSpace();
        this.vars.push(v.val);
        decls++;
        if (context === "range" && decls < 2) {
          const t = this.peekNonSpace().typ;
          if (t === "variable" || t === "rightDelim" || t === "rightParen") continue;
          this.fail("range can only initialize variables");
        }
        this.fail(`too many declarations in ${context}`);
      }
      if (tokenAfterVariable.typ === "space") this.backup3(v, tokenAfterVariable);
      else this.backup2(v);
      break;
    }
    const firstArgKinds: string[] = [];
    for (;;) {
      const t = this.nextNonSpace();
      if (t.typ === end) {
        if (cmds === 0) this.fail(`missing value for ${context}`, t.line);
        firstArgKinds.forEach((k, i) => {
          if (i > 0 && ["bool", "dot", "nil", "number", "string"].includes(k)) {
            this.fail(`non executable command in pipeline stage ${i + 1}`, t.line);
          }
        });
        return;
      }
      switch (t.typ) {
        case "bool":
        case "charConstant":
        case "complex":
        case "dot":
        case "field":
        case "identifier":
        case "number":
        case "nil":
        case "rawString":
        case "string":
        case "variable":
        case "leftParen":
          this.backup();
          firstArgKinds.push(this.command());
          cmds++;
          break;
        default:
          this.unexpected(t, context);
      }
    }
  }

  /** Parses one command; returns the kind of its first operand. */
  private command(): string {
    let first: string | undefined;
    for (;;) {
      this.peekNonSpace();
      const kind = this.operand();
      if (kind !== undefined) first ??= kind;
      const t = this.next();
      if (t.typ === "space") continue;
      if (t.typ === "rightDelim" || t.typ === "rightParen") this.backup();
      else if (t.typ !== "pipe") this.unexpected(t, "operand");
      break;
    }
    if (first === undefined) this.fail("empty command");
    return first;
  }

  private operand(): string | undefined {
    const kind = this.term();
    if (kind === undefined) return undefined;
    if (this.peek().typ === "field") {
      while (this.peek().typ === "field") this.recordField(this.next().val);
      if (["bool", "string", "number", "nil", "dot"].includes(kind)) this.fail("unexpected . after term");
      return "chain";
    }
    return kind;
  }

  private recordField(val: string) {
    for (const part of val.split(".")) if (part) this.fields.add(part);
  }

  private term(): string | undefined {
    const t = this.nextNonSpace();
    switch (t.typ) {
      case "identifier":
        if (!this.funcs.has(t.val)) this.fail(`function ${JSON.stringify(t.val)} not defined`, t.line);
        return "identifier";
      case "dot":
        return "dot";
      case "nil":
        return "nil";
      case "variable": {
        const name = t.val.split(".")[0];
        if (!this.vars.includes(name)) this.fail(`undefined variable ${JSON.stringify(name)}`, t.line);
        this.recordField(t.val.slice(name.length));
        return "variable";
      }
      case "field":
        this.recordField(t.val);
        return "field";
      case "bool":
        return "bool";
      case "charConstant": {
        const body = t.val.slice(1, -1);
        const single = /^(\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)|[^\\])$/su.test(body);
        if (!single || !validQuoted(body, "'")) this.fail(`malformed character constant: ${t.val}`, t.line);
        return "number";
      }
      case "complex":
      case "number":
        if (t.typ === "number" && !isGoNumber(t.val)) this.fail(`illegal number syntax: ${JSON.stringify(t.val)}`, t.line);
        return "number";
      case "leftParen":
        this.pipeline("parenthesized pipeline", "rightParen");
        return "pipeline";
      case "string":
      case "rawString":
        this.checkString(t);
        return "string";
    }
    this.backup();
    return undefined;
  }

  private checkString(t: Item) {
    if (t.typ === "string" && !validQuoted(t.val.slice(1, -1), '"')) this.fail("invalid syntax in quoted string", t.line);
  }
}

/**
 * Parses `text` as a Go text/template with Ollama's function set. Throws a GoTemplateError
 * (with the line) for anything Go's parser would reject.
 */
export function parseGoTemplate(text: string, funcs: ReadonlySet<string> = OLLAMA_TEMPLATE_FUNCS): GoTemplateInfo {
  const p = new Parser(text, funcs);
  p.parse();
  return { fields: p.fields };
}

/** The reason `text` is not a valid Ollama template, or undefined when it parses. */
export function goTemplateError(text: string): string | undefined {
  try {
    parseGoTemplate(text);
    return undefined;
  } catch (err) {
    if (err instanceof GoTemplateError) return err.message;
    throw err;
  }
}
