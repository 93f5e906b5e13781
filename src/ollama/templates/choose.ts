/**
 * Picks the Ollama chat template (Go text/template) and stop tokens for a GGUF's Jinja
 * `tokenizer.chat_template`: our curated table first, then @huggingface/ollama-utils' guess
 * (its registry snapshot, special-token matching, heuristics, Jinja rendering) for the long tail.
 * Whatever is chosen must parse as a Go template; a guess that does not is discarded.
 */
import { goTemplateError } from "../go-template.ts";
import { fingerprintChatTemplate, templateFeatures } from "./fingerprint.ts";
import { LIBRARY_TEMPLATES } from "./library.ts";

export interface ChatTemplateChoice {
  /** curated: our table; ollama-utils: the fallback's guess; none: no template layer */
  source: "curated" | "ollama-utils" | "none";
  /** one line for the user, e.g. `qwen3 (Ollama library/qwen3:8b; fingerprint chatml+think+tools)` */
  description: string;
  /** the Go template to install, absent for "none" */
  template?: string;
  stop: string[];
  /** the Jinja template's fingerprint ("" when there is none) */
  fingerprint: string;
}

export interface ChatTemplateInput {
  /** the GGUF's `tokenizer.chat_template` */
  chatTemplate?: string;
  /** BOS/EOS token texts, which help the fallback render the Jinja */
  bosToken?: string;
  eosToken?: string;
}

/** The curated entry for a Jinja template, if one applies. */
export function matchLibraryTemplate(chatTemplate: string) {
  const features = new Set(templateFeatures(chatTemplate));
  return LIBRARY_TEMPLATES.find((t) => t.requires.every((f) => features.has(f)) && !t.excludes.some((f) => features.has(f)));
}

/**
 * The template for a GGUF's Jinja chat template. Async because the fallback's 360 KB table and
 * Jinja engine are loaded only when the curated table has no match (not on every CLI start).
 */
export async function chooseChatTemplate(input: ChatTemplateInput): Promise<ChatTemplateChoice> {
  const jinja = input.chatTemplate;
  if (!jinja) {
    return {
      source: "none",
      description: "none: the GGUF has no tokenizer.chat_template (Ollama will use {{ .Prompt }})",
      stop: [],
      fingerprint: "",
    };
  }
  const fingerprint = fingerprintChatTemplate(jinja);
  const entry = matchLibraryTemplate(jinja);
  if (entry) {
    return {
      source: "curated",
      description: `${entry.id} (Ollama ${entry.source}; fingerprint ${fingerprint})`,
      template: entry.template,
      stop: [...entry.stop],
      fingerprint,
    };
  }

  const { convertGGUFTemplateToOllama } = await import("@huggingface/ollama-utils");
  let guess: ReturnType<typeof convertGGUFTemplateToOllama>;
  try {
    guess = convertGGUFTemplateToOllama({ chat_template: jinja, bos_token: input.bosToken, eos_token: input.eosToken });
  } catch {
    guess = undefined; // it throws for templates it refuses (e.g. TTS models)
  }
  const none = (why: string): ChatTemplateChoice => ({
    source: "none",
    description: `none: ${why}; llama.cpp-based Ollama (v0.30+) still renders the GGUF's Jinja template`,
    stop: [],
    fingerprint,
  });
  if (!guess) return none("no known template matches the GGUF's chat template");
  const parseError = goTemplateError(guess.ollama.template);
  if (parseError) return none(`the ollama-utils guess (${guess.model}) is not a valid Go template (${parseError})`);
  const stop = (guess.ollama.params?.stop ?? []).filter((s): s is string => typeof s === "string");
  return {
    source: "ollama-utils",
    description: `guessed by @huggingface/ollama-utils (${guess.model}); fingerprint ${fingerprint || "(no known markers)"}`,
    template: guess.ollama.template,
    stop,
    fingerprint,
  };
}
