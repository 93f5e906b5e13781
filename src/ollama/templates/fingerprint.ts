/**
 * The fingerprint of a Jinja chat template: which family markers it contains (special tokens
 * such as `<|im_start|>`, and constructs such as `strftime_now` that tell Llama 3.2 from 3.1).
 * Fine-tunes keep their family's markers while the Jinja text itself varies (whitespace, default
 * system prompts, tool wording), so markers identify a family where hashing the text would not.
 */

/** marker feature -> substrings, any of which gives the feature */
const MARKERS = {
  "llama3-header": ["<|start_header_id|>"],
  eot: ["<|eot_id|>"],
  ipython: ["ipython"],
  strftime: ["strftime_now"],
  chatml: ["<|im_start|>"],
  "im-sep": ["<|im_sep|>"],
  think: ["<think>"],
  tools: ["<tools>", "<tool_call>"],
  "gemma-turn": ["<start_of_turn>"],
  gemma3: ["<start_of_image>", "first_user_prefix"],
  "phi-user": ["<|user|>"],
  "phi-assistant": ["<|assistant|>"],
  "phi-end": ["<|end|>"],
  inst: ["[INST]"],
  sys: ["<<SYS>>"],
  "system-prompt": ["[SYSTEM_PROMPT]"],
} as const satisfies Record<string, readonly string[]>;

export type TemplateFeature = keyof typeof MARKERS;

/** The features present in `chatTemplate`, in a fixed order. */
export function templateFeatures(chatTemplate: string): TemplateFeature[] {
  return (Object.keys(MARKERS) as TemplateFeature[]).filter((f) => MARKERS[f].some((m) => chatTemplate.includes(m)));
}

/** The fingerprint as one printable key, e.g. `chatml+think+tools`; empty when no marker is known. */
export function fingerprintChatTemplate(chatTemplate: string): string {
  return templateFeatures(chatTemplate).sort().join("+");
}
