import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ToolError } from "../src/formats/errors.ts";
import { goFormatFixed, goJsonFloat32 } from "../src/ollama/go-format.ts";
import {
  decodeModelfileBytes,
  lexModelfile,
  parseModelfile,
  printModelfile,
  quoteModelfileValue,
  type ParsedModelfile,
} from "../src/ollama/modelfile.ts";
import { decodeParamsJson, encodeParamsJson, parseParamValue } from "../src/ollama/params.ts";
import { TINY_FULL_MODELFILE } from "./helpers/ollama-observed-store.ts";

const parse = (text: string, requireFrom = true) => parseModelfile(text, { source: "Modelfile", requireFrom });

function errorOf(text: string): string {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ToolError);
    return (err as ToolError).message;
  }
  throw new Error("expected an error");
}


describe("Modelfile parsing (ollama-store.md §6)", () => {
  it("reads the observed tiny-full Modelfile", () => {
    const m = parse(TINY_FULL_MODELFILE);
    expect(m.from).toEqual(["./tiny-f32.gguf"]);
    expect(m.template).toBe(
      "{{ if .System }}<|system|>{{ .System }}<|end|>{{ end }}{{ if .Prompt }}<|user|>{{ .Prompt }}<|end|>{{ end }}<|assistant|>{{ .Response }}",
    );
    expect(m.system).toBe("You are a tiny test model.");
    expect(m.licenses).toEqual(["Test license text."]);
    expect(m.messages).toEqual([
      { role: "user", content: "hello" },
      { role: "assistant", content: "hi there" },
    ]);
    expect(m.params.get("num_predict")).toBe(8n);
    expect(m.params.get("stop")).toEqual(["<|end|>", "<|user|>"]);
    // the params blob Ollama wrote for it, byte for byte (sha256-dd4a4b…, 110 bytes)
    const blob = encodeParamsJson(m.params);
    expect(blob).toBe('{"num_ctx":256,"num_predict":8,"seed":42,"stop":["\\u003c|end|\\u003e","\\u003c|user|\\u003e"],"temperature":0.5}\n');
    expect(Buffer.byteLength(blob)).toBe(110);
    expect(encodeParamsJson(parse("FROM x\nPARAMETER num_predict 8").params)).toBe('{"num_predict":8}\n');
  });

  it("reads a Gemma 3 style Modelfile: two FROM lines, a multi-line TEMPLATE, several stop lines", () => {
    const text = [
      "# Gemma 3 with its vision projector",
      "FROM ./gemma-3-4b-it-Q4_K_M.gguf",
      "FROM ./mmproj-gemma-3-4b-it-f16.gguf",
      'TEMPLATE """{{- range $i, $_ := .Messages }}',
      "{{- $last := eq (len (slice $.Messages $i)) 1 }}",
      '{{- if or (eq .Role "user") (eq .Role "system") }}<start_of_turn>user',
      "{{ .Content }}<end_of_turn>",
      "{{ if $last }}<start_of_turn>model",
      "{{ end }}",
      '{{- else if eq .Role "assistant" }}<start_of_turn>model',
      "{{ .Content }}{{ if not $last }}<end_of_turn>",
      "{{ end }}",
      "{{- end }}",
      '{{- end }}"""',
      "PARAMETER stop <end_of_turn>",
      'PARAMETER stop "<start_of_turn>"',
      "PARAMETER stop <eos>",
      "PARAMETER temperature 1",
      "PARAMETER top_k 64",
      "PARAMETER top_p 0.95",
      "",
    ].join("\n");
    const m = parse(text);
    expect(m.from).toEqual(["./gemma-3-4b-it-Q4_K_M.gguf", "./mmproj-gemma-3-4b-it-f16.gguf"]);
    expect(m.template!.split("\n")).toHaveLength(11);
    expect(m.template!.startsWith("{{- range $i, $_ := .Messages }}\n")).toBe(true);
    expect(m.template!.endsWith("{{- end }}\n{{- end }}")).toBe(true);
    expect(m.params.get("stop")).toEqual(["<end_of_turn>", "<start_of_turn>", "<eos>"]);
    expect(encodeParamsJson(m.params)).toBe(
      '{"stop":["\\u003cend_of_turn\\u003e","\\u003cstart_of_turn\\u003e","\\u003ceos\\u003e"],"temperature":1,"top_k":64,"top_p":0.95}\n',
    );
  });

  it("takes commands in any case, comments only at line starts, and trims unquoted values", () => {
    const m = parse("  # a comment\nfRoM   llama3  \n\tsystem   be # not a comment  \nTemplate {{ .Prompt }}\r\n");
    expect(m.from).toEqual(["llama3"]);
    expect(m.system).toBe("be # not a comment");
    expect(m.template).toBe("{{ .Prompt }}");
  });

  it("keeps quoted text exactly, newlines included; the last TEMPLATE/SYSTEM wins, LICENSEs add up", () => {
    const m = parse('FROM m\nSYSTEM "  padded  "\nSYSTEM """line 1\n  line "2"\n"""\nLICENSE a\nLICENSE "b\nc"\n');
    expect(m.system).toBe('line 1\n  line "2"\n');
    expect(m.licenses).toEqual(["a", "b\nc"]);
    // text after a closing quote keeps the value open, as in Ollama (it ends at a balanced line)
    const open = parse('FROM m\nSYSTEM "a" b\nmore"\n');
    expect(open.system).toBe('a" b\nmore');
  });

  it("types parameters as Ollama does and keeps the last of a repeated scalar", () => {
    const m = parse("FROM m\nPARAMETER num_ctx 4096\nPARAMETER num_ctx 8192\nPARAMETER temperature .7\nPARAMETER use_mmap F\nPARAMETER seed -1\n");
    expect(m.params.get("num_ctx")).toBe(8192n);
    expect(m.params.get("use_mmap")).toBe(false);
    expect(encodeParamsJson(m.params)).toBe('{"num_ctx":8192,"seed":-1,"temperature":0.7,"use_mmap":false}\n');
  });

  it("drops deprecated parameters with a warning", () => {
    const m = parse("FROM m\nPARAMETER mirostat 2\nPARAMETER num_ctx 1\n");
    expect(m.params.has("mirostat")).toBe(false);
    expect(m.warnings).toEqual(["line 2: parameter mirostat is deprecated and was ignored"]);
  });

  it("errors name the file and the line", () => {
    expect(errorOf("FROM m\n\nPARAMETER nope 1\n")).toBe("Modelfile: line 3: unknown parameter 'nope'");
    expect(errorOf("FROM m\nPARAMETER num_ctx 1e6\n")).toMatch(/^Modelfile: line 2: invalid int value "1e6" for num_ctx/);
    expect(errorOf("FROM m\nPARAMETER temperature hot\n")).toMatch(/^Modelfile: line 2: invalid float value/);
    expect(errorOf("FROM m\nPARAMETER use_mmap yes\n")).toMatch(/^Modelfile: line 2: invalid bool value/);
    expect(errorOf("FROM m\nPARAMETER num_ctx 99999999999999999999\n")).toMatch(/out of range/);
    expect(errorOf("FROM m\nPARAMETER Num_ctx 1\n")).toMatch(/unknown parameter 'Num_ctx'/); // keys are case-sensitive
    expect(errorOf("FROM m\nFROB x\n")).toMatch(/^Modelfile: line 2: command must be one of "from"/);
    expect(errorOf("FROM m\nMESSAGE User hi\n")).toMatch(/^Modelfile: line 2: message role must be one of/);
    expect(errorOf("FROM m\nSYSTEM\n")).toBe("Modelfile: line 2: SYSTEM has no value");
    expect(errorOf('FROM m\nTEMPLATE """{{ .Prompt }}\n\n')).toMatch(/^Modelfile: line 2: unexpected end of file/);
    expect(errorOf("SYSTEM hi\n")).toBe("Modelfile: no FROM line");
    expect(errorOf("FROM m\nREQUIRES latest\n")).toMatch(/line 2: REQUIRES "latest" is not a version/);
    expect(parse("FROM m\nREQUIRES v0.14.0\n").requires).toBe("0.14.0");
    expect(parse("SYSTEM hi", false).from).toEqual([]);
  });

  it("decodes a UTF-8 BOM and UTF-16 with a BOM", () => {
    const text = "FROM m\nSYSTEM héllo\n";
    expect(parse(decodeModelfileBytes(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]))).system).toBe("héllo");
    expect(parse(decodeModelfileBytes(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]))).system).toBe("héllo");
  });

  it("drops runes that are not printable outside quoted values' line structure, as Ollama does", () => {
    expect(lexModelfile("SYSTEM a\u0007b\n", "M")[0].args).toBe("ab");
  });
});

describe("agreement with Ollama's parser", () => {
  /**
   * 865 Modelfiles (hand-written edge cases plus seeded random ones) run through Ollama's own
   * `parser.ParseFile` state machine (ollama/ollama 00dc3af, BOM decoding left out): its commands
   * (FROM as "model", MESSAGE args as "role: text") or the fact that it failed.
   */
  const golden: Array<{ modelfile: string; commands?: Array<{ name: string; args: string }>; error?: string }> = JSON.parse(
    readFileSync(new URL("./data/modelfile/ollama-lexer-golden.json", import.meta.url), "utf8"),
  );

  it("gives the same commands, and fails where Ollama fails", () => {
    expect(golden.length).toBe(865);
    expect(golden.filter((c) => c.commands).length).toBeGreaterThan(300);
    const disagreements = [];
    for (const c of golden) {
      let ours: Array<{ name: string; args: string }> | "error";
      try {
        ours = lexModelfile(c.modelfile, "M").map((x) => ({ name: x.name === "from" ? "model" : x.name, args: x.role ? `${x.role}: ${x.args}` : x.args }));
        if (!ours.some((x) => x.name === "model")) ours = "error"; // Ollama's "no FROM line"
      } catch {
        ours = "error";
      }
      const theirs = c.error !== undefined ? "error" : c.commands;
      if (JSON.stringify(ours) !== JSON.stringify(theirs)) disagreements.push({ modelfile: c.modelfile, theirs, ours });
    }
    expect(disagreements).toEqual([]);
  });
});

describe("Modelfile printing", () => {
  const roundTrip = (m: ParsedModelfile) => {
    const { text, inexact } = printModelfile({
      model: m.from[0],
      projectors: m.from.slice(1),
      adapters: m.adapters,
      template: m.template,
      system: m.system,
      params: m.params,
      licenses: m.licenses,
      messages: m.messages,
    });
    expect(inexact).toEqual([]);
    return { text, again: parse(text) };
  };

  it("round-trips every value, integers never as 1e+06", () => {
    const m = parse(
      [
        "FROM /models/blobs/sha256-abc",
        "FROM /models/blobs/sha256-def",
        'TEMPLATE """{{ if .System }}"{{ .System }}"{{ end }}\n{{ .Prompt }} """',
        'SYSTEM " starts with a space"',
        "PARAMETER num_ctx 1000000",
        "PARAMETER seed 9007199254740993",
        "PARAMETER temperature 0.7",
        "PARAMETER top_p 1e-7",
        'PARAMETER stop "\n\n"',
        "PARAMETER stop <|im_end|>",
        'PARAMETER stop """"quoted""""',
        "MESSAGE user hi",
        'MESSAGE assistant """multi\nline"""',
        "LICENSE MIT",
        "",
      ].join("\n"),
    );
    const { text, again } = roundTrip(m);
    expect(text).toContain("PARAMETER num_ctx 1000000\n");
    expect(text).toContain("PARAMETER seed 9007199254740993\n");
    expect(text).not.toMatch(/e\+/);
    expect(again).toEqual(m);
    expect(encodeParamsJson(again.params)).toBe(encodeParamsJson(m.params));
  });

  it("prints in Ollama's order with parameters sorted", () => {
    const m = parse(TINY_FULL_MODELFILE);
    const { text } = printModelfile({ model: "/b/sha256-1", template: m.template, system: m.system, params: m.params, licenses: m.licenses, messages: m.messages });
    expect(text.split("\n").map((l) => l.split(" ").slice(0, 2).join(" "))).toEqual([
      "FROM /b/sha256-1",
      "TEMPLATE {{",
      "SYSTEM You",
      "PARAMETER num_ctx",
      "PARAMETER num_predict",
      "PARAMETER seed",
      "PARAMETER stop",
      "PARAMETER stop",
      "PARAMETER temperature",
      "LICENSE Test",
      "MESSAGE user",
      "MESSAGE assistant",
      "",
    ]);
  });

  it("quotes only when needed, and reports values no quoting can carry", () => {
    expect(quoteModelfileValue("plain")).toEqual({ text: "plain", exact: true });
    expect(quoteModelfileValue("")).toEqual({ text: '""', exact: true });
    expect(quoteModelfileValue("a\nb")).toEqual({ text: '"a\nb"', exact: true });
    expect(quoteModelfileValue('say "x"\n')).toEqual({ text: '"""say "x"\n"""', exact: true });
    expect(quoteModelfileValue('"quoted"')).toEqual({ text: '""""quoted""""', exact: true });
    // a line ending in `"""` closes a """ value early, one ending in `"` a " value: neither works
    expect(quoteModelfileValue('a"""\nb"\nc').exact).toBe(false);
    const tool = printModelfile({ model: "m", messages: [{ role: "tool" as "user", content: "42" }] });
    expect(tool.inexact).toEqual(["MESSAGE tool"]);
  });
});

describe("Go number formatting", () => {
  it("goFormatFixed equals fmt's %.Nf, exact ties rounded half to even (318 golden cases)", () => {
    const golden: Array<{ value: number; prec: number; go: string }> = JSON.parse(
      readFileSync(new URL("./data/go-format/fixed-golden.json", import.meta.url), "utf8"),
    );
    expect(golden.length).toBe(318);
    expect(golden.filter((c) => goFormatFixed(c.value, c.prec) !== c.go)).toEqual([]);
    expect(goFormatFixed(1.25, 1)).toBe("1.2"); // toFixed would say 1.3
  });
});

describe("parameter values", () => {
  it("encodes float32 values as Go does", () => {
    expect(goJsonFloat32(0.7)).toBe("0.7");
    expect(goJsonFloat32(0.95)).toBe("0.95");
    expect(goJsonFloat32(1)).toBe("1");
    expect(goJsonFloat32(1e-7)).toBe("1e-7");
    expect(goJsonFloat32(1.5e-7)).toBe("1.5e-7");
    expect(goJsonFloat32(3e21)).toBe("3e+21");
    expect(goJsonFloat32(123456789)).toBe("123456790");
    expect(goJsonFloat32(-0.1)).toBe("-0.1");
  });

  it("reads a params blob back with exact integers and typed values", () => {
    const p = decodeParamsJson('{"num_ctx":256,"seed":9007199254740993,"stop":["\\u003c|end|\\u003e"],"temperature":0.5,"use_mmap":true}\n');
    expect(p.get("seed")).toBe(9007199254740993n);
    expect(p.get("num_ctx")).toBe(256n);
    expect(p.get("stop")).toEqual(["<|end|>"]);
    expect(encodeParamsJson(p)).toBe('{"num_ctx":256,"seed":9007199254740993,"stop":["\\u003c|end|\\u003e"],"temperature":0.5,"use_mmap":true}\n');
  });

  it("types and encodes values as Go's strconv + encoding/json do (482 golden cases)", () => {
    // test/data/params/gen.go: ParseInt(v, 10, 64) / ParseFloat(v, 32) / ParseBool, then json.Marshal
    const golden: Array<{ kind: "int" | "float" | "bool"; value: string; ok: boolean; json?: string }> = JSON.parse(
      readFileSync(new URL("./data/params/strconv-golden.json", import.meta.url), "utf8"),
    );
    const key = { int: "num_ctx", float: "temperature", bool: "use_mmap" };
    const disagreements = [];
    for (const c of golden) {
      let ours: string | undefined;
      try {
        const k = key[c.kind];
        ours = encodeParamsJson(new Map([[k, parseParamValue(k, c.value)]])).slice(k.length + 4, -2);
      } catch {
        ours = undefined;
      }
      if (ours !== (c.ok ? c.json : undefined)) disagreements.push({ ...c, ours });
    }
    expect(golden.length).toBe(482);
    expect(disagreements).toEqual([]);
  });

  it("rejects values of the wrong type", () => {
    expect(() => parseParamValue("top_k", "4.5")).toThrow(/invalid int/);
    expect(() => parseParamValue("temperature", "inf")).toThrow(/invalid float/);
    expect(() => parseParamValue("temperature", "1e39")).toThrow(/out of range/);
  });
});
