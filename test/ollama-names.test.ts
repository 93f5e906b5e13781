import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { ToolError } from "../src/formats/errors.ts";
import { resolveModelsDir, requireModelsDir, trimOllamaEnvValue } from "../src/ollama/models-dir.ts";
import {
  canonicalNameCase,
  displayName,
  manifestPath,
  modelNameFromParts,
  parseModelName,
} from "../src/ollama/names.ts";

describe("parseModelName (ollama-store.md §3)", () => {
  const table: Array<[string, string]> = [
    ["llama3", "registry.ollama.ai/library/llama3/latest"],
    ["llama3:8b", "registry.ollama.ai/library/llama3/8b"],
    ["alice/mymodel:v1", "registry.ollama.ai/alice/mymodel/v1"],
    ["example.com/alice/mymodel:v1", "example.com/alice/mymodel/v1"],
    ["127.0.0.1:5000/alice/m", "127.0.0.1:5000/alice/m/latest"],
    ["https://example.com/alice/m:t", "example.com/alice/m/t"],
    ["Qwen2.5_7B-instruct:Q4_K_M", "registry.ollama.ai/library/Qwen2.5_7B-instruct/Q4_K_M"],
    ["_a/_b:_c", "registry.ollama.ai/_a/_b/_c"],
    // Ollama's ParseNameBare leaves an empty namespace before a leading "/", and Merge fills it in
    ["/m", "registry.ollama.ai/library/m/latest"],
  ];
  for (const [input, path] of table) {
    it(`${input} -> manifests/${path}`, () => {
      const n = parseModelName(input);
      expect(manifestPath("/m", n)).toBe(join("/m", "manifests", ...path.split("/")));
    });
  }

  const rejected = [
    "../x",
    "a/b/c/d",
    "",
    "m:",
    ":tag",
    "ns/",
    "a//m",
    "x".repeat(81),
    `${"x".repeat(81)}:t`,
    `m:${"t".repeat(81)}`,
    `${"n".repeat(81)}/m`,
    `${"h".repeat(351)}/n/m`,
    "m@sha256:abc",
    "llama3@latest",
    "-m",
    ".m",
    "m:.t",
    "a.b/m",
    "m:t:u/x",
    "mödel",
    "m t",
    "m\\x",
    "h/n/m:t/x",
  ];
  for (const input of rejected) {
    it(`rejects ${JSON.stringify(input.length > 40 ? `${input.slice(0, 20)}…(${input.length})` : input)}`, () => {
      expect(() => parseModelName(input)).toThrow(ToolError);
    });
  }

  it("accepts 80-character parts and a 350-character host", () => {
    const p80 = "x".repeat(80);
    const n = parseModelName(`${"h".repeat(350)}/${p80}/${p80}:${p80}`);
    expect(n.model).toBe(p80);
    expect(n.host.length).toBe(350);
  });

  it("names the bad part in the error", () => {
    expect(() => parseModelName("a/b/c/d")).toThrow(/host "a\/b" is not valid/);
    expect(() => parseModelName("m:")).toThrow(/tag is empty/);
  });
});

describe("displayName (DisplayShortest)", () => {
  const cases: Array<[string, string]> = [
    ["llama3", "llama3:latest"],
    ["alice/m:v1", "alice/m:v1"],
    ["example.com/alice/m:v1", "example.com/alice/m:v1"],
    ["example.com/library/m", "example.com/library/m:latest"],
    ["Registry.Ollama.AI/Library/m:t", "m:t"],
    ["myns/copied:t1", "myns/copied:t1"],
  ];
  for (const [input, shown] of cases) it(`${input} -> ${shown}`, () => expect(displayName(parseModelName(input))).toBe(shown));
});

describe("case handling", () => {
  it("takes each part's casing from existing names, preferring an exact match", () => {
    const existing = [parseModelName("Alice/Model:V1"), parseModelName("bob/other:x")];
    expect(canonicalNameCase(parseModelName("ALICE/model:v1"), existing)).toEqual(parseModelName("Alice/Model:V1"));
    expect(canonicalNameCase(parseModelName("alice/MODEL:v2"), existing)).toEqual(parseModelName("Alice/Model:v2"));
    const both = [parseModelName("Alice/m"), parseModelName("alice/x")];
    expect(canonicalNameCase(parseModelName("alice/M"), both).namespace).toBe("alice");
  });

  it("parses manifest path parts only when all four are valid", () => {
    expect(modelNameFromParts({ host: "registry.ollama.ai", namespace: "library", model: "m", tag: "t" })).toBeDefined();
    expect(modelNameFromParts({ host: "registry.ollama.ai", namespace: "lib.rary", model: "m", tag: "t" })).toBeUndefined();
    expect(modelNameFromParts({ host: "h", namespace: "n", model: "m", tag: ".DS_Store" })).toBeUndefined();
  });
});

describe("resolveModelsDir", () => {
  it("prefers --models-dir, then OLLAMA_MODELS trimmed as Ollama trims it, then ~/.ollama/models", () => {
    expect(resolveModelsDir("/opt/x", { OLLAMA_MODELS: "/y" })).toBe("/opt/x");
    expect(resolveModelsDir(undefined, { OLLAMA_MODELS: "  '\"/data/models\"'  " })).toBe("/data/models");
    expect(resolveModelsDir(undefined, { OLLAMA_MODELS: " ' ' ", HOME: "/home/u" })).toBe(" ");
    expect(resolveModelsDir(undefined, { OLLAMA_MODELS: "  ", HOME: "/home/u" })).toBe(join("/home/u", ".ollama", "models"));
    expect(resolveModelsDir(undefined, { HOME: "/home/u" })).toBe(join("/home/u", ".ollama", "models"));
    expect(resolveModelsDir(undefined, { OLLAMA_MODELS: "~/models" })).toBe("~/models");
  });

  it("trims quotes after whitespace, not whitespace inside quotes", () => {
    expect(trimOllamaEnvValue(`"'x'"`)).toBe("x");
    expect(trimOllamaEnvValue(`" x "`)).toBe(" x ");
  });

  it("a missing models dir names the Linux service store", () => {
    expect(() => requireModelsDir("/nonexistent/models")).toThrow(/\/usr\/share\/ollama\/\.ollama\/models/);
  });
});
