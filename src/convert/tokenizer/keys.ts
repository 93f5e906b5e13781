/**
 * Tokenizer metadata keys and token types, as gguf-py's `Keys.Tokenizer` and `TokenType` name them,
 * plus a small writer with GGUFWriter's rules for them (empty strings and arrays are not written,
 * writing a key twice keeps its first position and the last value).
 */
import { GgufValueType, type GgufMetadata } from "../../formats/gguf/types.ts";

export const TokenizerKey = {
  MODEL: "tokenizer.ggml.model",
  PRE: "tokenizer.ggml.pre",
  LIST: "tokenizer.ggml.tokens",
  TOKEN_TYPE: "tokenizer.ggml.token_type",
  SCORES: "tokenizer.ggml.scores",
  MERGES: "tokenizer.ggml.merges",
  ADD_PREFIX: "tokenizer.ggml.add_space_prefix",
  CHAT_TEMPLATE: "tokenizer.chat_template",
  CHAT_TEMPLATES: "tokenizer.chat_templates",
  NORMALIZER_LOWERCASE: "tokenizer.ggml.normalizer.lowercase",
} as const;

/** `tokenizer.chat_template.<name>` for a named template (name reduced to [A-Za-z0-9_]). */
export const chatTemplateKey = (name: string) => `tokenizer.chat_template.${name}`;

/** gguf-py's TokenType (llama.cpp's llama_token_type); SentencePiece piece types use the same numbers. */
export enum TokenType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

/**
 * The special-token kinds gguf-py's GGUFWriter has an `add_<kind>_token_id` handler for, and their
 * keys. SpecialVocab silently skips other kinds (cls, prefix, suffix, middle, fsep).
 */
export const SPECIAL_TOKEN_ID_KEYS: Readonly<Record<string, string>> = {
  bos: "tokenizer.ggml.bos_token_id",
  eos: "tokenizer.ggml.eos_token_id",
  unk: "tokenizer.ggml.unknown_token_id",
  sep: "tokenizer.ggml.seperator_token_id", // sic: gguf-py's spelling
  pad: "tokenizer.ggml.padding_token_id",
  mask: "tokenizer.ggml.mask_token_id",
  eot: "tokenizer.ggml.eot_token_id",
  eom: "tokenizer.ggml.eom_token_id",
};

/** The `add_<kind>_token` flags GGUFWriter can write; others are skipped. */
export const ADD_SPECIAL_TOKEN_KEYS: Readonly<Record<string, string>> = {
  bos: "tokenizer.ggml.add_bos_token",
  eos: "tokenizer.ggml.add_eos_token",
  sep: "tokenizer.ggml.add_sep_token",
};

/** Appends tokenizer entries to metadata with GGUFWriter's `add_*` semantics. */
export class TokenizerMetadataWriter {
  constructor(readonly md: GgufMetadata) {}

  string(key: string, value: string): void {
    if (value.length > 0) this.md.set(key, { type: GgufValueType.STRING, value });
  }

  uint32(key: string, value: number): void {
    this.md.set(key, { type: GgufValueType.UINT32, value });
  }

  bool(key: string, value: boolean): void {
    this.md.set(key, { type: GgufValueType.BOOL, value });
  }

  strings(key: string, items: string[]): void {
    if (items.length === 0) return;
    this.md.set(key, { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.STRING, length: items.length, items } });
  }

  /** gguf-py writes Python floats of a list as FLOAT32 */
  float32s(key: string, items: Float32Array): void {
    if (items.length === 0) return;
    this.md.set(key, { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.FLOAT32, length: items.length, items } });
  }

  /** gguf-py writes Python ints (token types) of a list as INT32 */
  int32s(key: string, items: Int32Array): void {
    if (items.length === 0) return;
    this.md.set(key, { type: GgufValueType.ARRAY, value: { itemType: GgufValueType.INT32, length: items.length, items } });
  }
}
