import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { goTemplateError, parseGoTemplate } from "../src/ollama/go-template.ts";
import { chooseChatTemplate } from "../src/ollama/templates/choose.ts";
import { fingerprintChatTemplate } from "../src/ollama/templates/fingerprint.ts";
import { LIBRARY_TEMPLATES } from "../src/ollama/templates/library.ts";
import { SHARED } from "./helpers/cli.ts";
import { FIXTURE_TEMPLATE_FAMILY } from "./helpers/fixture-families.ts";

interface GoldenCase {
  template: string;
  ok: boolean;
  error?: string;
}

/**
 * Go 1.19's text/template verdict (with Ollama's function names) on 1347 templates: hand-written
 * edge cases, seeded random action soup, spliced valid fragments, and every library template with
 * one character deleted (test/data/go-template/gen.go made the file).
 */
const golden: GoldenCase[] = JSON.parse(
  readFileSync(new URL("./data/go-template/golden.json", import.meta.url), "utf8"),
);

function fixtureChatTemplate(name: string): { chat_template: string; bos_token?: string; eos_token?: string } {
  return JSON.parse(readFileSync(join(SHARED, "fixtures/hf", name, "tokenizer_config.json"), "utf8"));
}

describe("Go text/template checker", () => {
  it("agrees with Go's parser on every golden case", () => {
    expect(golden.length).toBe(1347);
    expect(golden.filter((c) => c.ok).length).toBe(494);
    const disagreements = golden
      .map((c) => ({ template: c.template, go: c.ok ? "ok" : c.error, ours: goTemplateError(c.template) ?? "ok" }))
      .filter((d) => (d.go === "ok") !== (d.ours === "ok"));
    expect(disagreements).toEqual([]);
  });

  it("names the line of the error", () => {
    expect(goTemplateError("line one\n{{ .A }}\n{{ nope .B }}")).toBe('template: line 3: function "nope" not defined');
    expect(goTemplateError("{{ if .A }}\n\nx")).toMatch(/unexpected EOF/);
  });

  it("collects the fields a template uses (for capabilities)", () => {
    const { fields } = parseGoTemplate("{{ range .Messages }}{{ .Content }}{{ end }}{{ if .Tools }}{{ $.Think }}{{ end }}");
    expect([...fields].sort()).toEqual(["Content", "Messages", "Think", "Tools"]);
  });
});

describe("curated chat templates", () => {
  it("every library template parses as a Go template and has a source", () => {
    expect(LIBRARY_TEMPLATES.length).toBe(11);
    for (const t of LIBRARY_TEMPLATES) {
      expect(goTemplateError(t.template), t.id).toBeUndefined();
      expect(t.source).toMatch(/^library\//);
    }
  });

  // the family each fixture's Jinja template belongs to
  const expected = FIXTURE_TEMPLATE_FAMILY;
  for (const [fixture, id] of Object.entries(expected)) {
    it(`picks ${id} for ${fixture}'s chat template, and it parses`, async () => {
      const cfg = fixtureChatTemplate(fixture);
      const choice = await chooseChatTemplate({ chatTemplate: cfg.chat_template, bosToken: cfg.bos_token, eosToken: cfg.eos_token });
      expect(choice.source).toBe("curated");
      expect(choice.description.startsWith(`${id} (Ollama library/`)).toBe(true);
      const entry = LIBRARY_TEMPLATES.find((t) => t.id === id)!;
      expect(choice.template).toBe(entry.template);
      expect(choice.stop).toEqual(entry.stop);
      expect(goTemplateError(choice.template!)).toBeUndefined();
    });
  }

  it("tells Llama 3.1 and 3.2 from 3.0, Qwen2.5 from Qwen2, Gemma 3 from Gemma 2", async () => {
    const llama31 = "<|start_header_id|>system<|end_header_id|>Environment: ipython<|eot_id|>";
    const llama32 = `{{- strftime_now("%d %b %Y") }}${llama31}`;
    expect((await chooseChatTemplate({ chatTemplate: llama31 })).description).toMatch(/^llama3\.1 /);
    expect((await chooseChatTemplate({ chatTemplate: llama32 })).description).toMatch(/^llama3\.2 /);
    expect((await chooseChatTemplate({ chatTemplate: "<|im_start|>system <tools></tools><|im_end|>" })).description).toMatch(/^qwen2\.5 /);
    expect((await chooseChatTemplate({ chatTemplate: "{{ '<start_of_turn>' }}{{ '<start_of_image>' }}" })).description).toMatch(/^gemma3 /);
    // a ChatML template with Phi-4's <|im_sep|> is not Qwen's
    expect((await chooseChatTemplate({ chatTemplate: "<|im_start|>user<|im_sep|>hi<|im_end|>" })).source).not.toBe("curated");
  });

  it("fingerprints by family markers, independent of wording", () => {
    expect(fingerprintChatTemplate(fixtureChatTemplate("qwen3-realtok").chat_template)).toBe("chatml+think+tools");
    expect(fingerprintChatTemplate("{{ messages }}")).toBe("");
  });

  it("falls back to @huggingface/ollama-utils for unknown families, with a parsing template", async () => {
    const alpaca =
      "{% for message in messages %}{% if message['role'] == 'user' %}{{ '### Instruction:\\n' + message['content'] + '\\n\\n' }}" +
      "{% elif message['role'] == 'assistant' %}{{ '### Response:\\n' + message['content'] + eos_token }}{% endif %}{% endfor %}" +
      "{% if add_generation_prompt %}{{ '### Response:\\n' }}{% endif %}";
    const choice = await chooseChatTemplate({ chatTemplate: alpaca, eosToken: "</s>" });
    expect(choice.source).toBe("ollama-utils");
    expect(choice.description).toMatch(/ollama-utils/);
    expect(goTemplateError(choice.template!)).toBeUndefined();
    expect(choice.template).toContain("### Instruction:");
  });

  it("installs no template when there is no chat template or nothing usable", async () => {
    expect((await chooseChatTemplate({})).source).toBe("none");
    const unusable = await chooseChatTemplate({ chatTemplate: "{{ messages | some_unknown_filter }}" });
    expect(unusable.source).toBe("none");
    expect(unusable.template).toBeUndefined();
  });
});
