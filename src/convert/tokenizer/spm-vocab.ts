/**
 * SentencePiece vocabularies as llama.cpp's converter builds them: the pieces of tokenizer.model
 * (llama.cpp keeps only UNKNOWN, CONTROL, UNUSED and BYTE of the piece types; user-defined pieces
 * become NORMAL), then added_tokens.json and tokenizer_config.json's added_tokens_decoder on top,
 * in a list of exactly config.json's vocab_size where the ids nobody defines are `[PAD<id>]`
 * (score -10000, UNUSED).
 */
import { ToolError } from "../../formats/errors.ts";
import { SPM_SPACE, doesTokenLookSpecial, type TokenList } from "./bpe.ts";
import { isInt, isObject, type JsonObject } from "./files.ts";
import type { TokenizerJson } from "./tokenizer-json.ts";
import { TokenType } from "./keys.ts";
import type { SentencePieceModel } from "./sentencepiece.ts";

export interface ScoredTokenList extends TokenList {
  scores: Float32Array;
}

/** Where the tokens come from, for error messages and the overrides on top of tokenizer.model. */
export interface SentencePieceSources {
  model: SentencePieceModel;
  modelPath: string;
  /** parsed added_tokens.json (token -> id), if present */
  addedTokensJson?: JsonObject;
  addedTokensJsonPath: string;
  /** parsed tokenizer_config.json, if present */
  tokenizerConfig?: JsonObject;
  tokenizerConfigPath: string;
  /** tokenizer.json, whose added_tokens the Phi-3 rules also apply */
  tokenizerJson?: TokenizerJson;
}

const PAD_SCORE = -10000;
const ADDED_SCORE = -1000;

function paddedList(vocabSize: number): ScoredTokenList {
  const tokens: string[] = new Array(vocabSize);
  for (let i = 0; i < vocabSize; i++) tokens[i] = `[PAD${i}]`;
  return { tokens, scores: new Float32Array(vocabSize).fill(PAD_SCORE), types: new Int32Array(vocabSize).fill(TokenType.UNUSED) };
}

/** llama.cpp's mapping of SentencePieceProcessor's Is* checks, in its order of precedence. */
function pieceTokenType(type: TokenType): TokenType {
  switch (type) {
    case TokenType.UNKNOWN:
    case TokenType.CONTROL:
    case TokenType.UNUSED:
    case TokenType.BYTE:
      return type;
    default:
      return TokenType.NORMAL;
  }
}

function addedTokensJsonEntries(src: SentencePieceSources): [string, number][] {
  if (src.addedTokensJson === undefined) return [];
  return Object.entries(src.addedTokensJson).map(([token, id]) => {
    if (!isInt(id) || id < 0) throw new ToolError(src.addedTokensJsonPath, `token ${JSON.stringify(token)} has id ${JSON.stringify(id)}, not a non-negative integer`);
    return [token, id];
  });
}

interface DecoderEntry {
  id: number;
  content: string;
  special: boolean;
}

/** tokenizer_config.json's `added_tokens_decoder` ({"<id>": {"content", "special", ...}}). */
function addedTokensDecoder(src: SentencePieceSources): DecoderEntry[] {
  const decoder = src.tokenizerConfig?.added_tokens_decoder;
  if (decoder === undefined) return [];
  if (!isObject(decoder)) throw new ToolError(src.tokenizerConfigPath, "added_tokens_decoder is not an object");
  return Object.entries(decoder).map(([key, data]) => {
    const id = Number(key);
    if (!Number.isSafeInteger(id) || id < 0 || !isObject(data) || typeof data.content !== "string") {
      throw new ToolError(src.tokenizerConfigPath, `added_tokens_decoder[${JSON.stringify(key)}] needs an integer id and a string "content"`);
    }
    return { id, content: data.content, special: data.special === true };
  });
}

function outOfRange(warn: (msg: string) => void, file: string, token: string, id: number, vocabSize: number): void {
  warn(`${file}: token ${JSON.stringify(token)} has id ${id}, beyond the model's vocab_size ${vocabSize}; left out`);
}

/** added_tokens.json's tokens become USER_DEFINED at their ids (both SentencePiece routes do this alike). */
function applyAddedTokensJson(list: ScoredTokenList, src: SentencePieceSources, n: number, warn: (msg: string) => void): void {
  for (const [token, id] of addedTokensJsonEntries(src)) {
    if (id >= n) {
      outOfRange(warn, src.addedTokensJsonPath, token, id, n);
      continue;
    }
    list.tokens[id] = token;
    list.scores[id] = ADDED_SCORE;
    list.types[id] = TokenType.USER_DEFINED;
  }
}

/**
 * llama.cpp's `_create_vocab_sentencepiece` (Llama, Mistral, Gemma, Qwen2 with tokenizer.model).
 * `vocabSize` is config.json's vocab_size (undefined or 0: the model's piece count).
 */
export function sentencePieceTokenList(src: SentencePieceSources, vocabSize: number | undefined, warn: (msg: string) => void): ScoredTokenList {
  const n = vocabSize || src.model.pieces.length;
  const list = paddedList(n);
  const { pieces } = src.model;
  for (let id = 0; id < pieces.length; id++) {
    if (id >= n) {
      warn(`${src.modelPath}: ${pieces.length} pieces but vocab_size is ${n}; pieces from id ${id} on are left out`);
      break;
    }
    list.tokens[id] = pieces[id].piece;
    list.scores[id] = pieces[id].score;
    list.types[id] = pieceTokenType(pieces[id].type);
  }
  applyAddedTokensJson(list, src, n, warn);
  for (const { id, content, special } of addedTokensDecoder(src)) {
    if (id >= n) {
      outOfRange(warn, src.tokenizerConfigPath, content, id, n);
      continue;
    }
    if (special || doesTokenLookSpecial(content)) {
      list.tokens[id] = content;
      list.types[id] = TokenType.CONTROL;
    } else {
      list.tokens[id] = content.replaceAll(SPM_SPACE, " "); // pre-normalize user-defined spaces
      list.types[id] = TokenType.USER_DEFINED;
    }
    list.scores[id] = ADDED_SCORE;
  }
  return list;
}

/**
 * Phi-3's own variant (`Phi3MiniModel.set_vocab`): the same pieces and added_tokens.json, then
 * tokenizer_config.json's added_tokens_decoder and tokenizer.json's added_tokens, each USER_DEFINED
 * or CONTROL by its `special` flag alone, without renaming spaces.
 */
export function phi3TokenList(src: SentencePieceSources, vocabSize: number | undefined, warn: (msg: string) => void): ScoredTokenList {
  const n = vocabSize ?? src.model.pieces.length;
  const { pieces } = src.model;
  if (pieces.length > n) throw new ToolError(src.modelPath, `${pieces.length} pieces but config.json's vocab_size is ${n}`);
  const list = paddedList(n);
  for (let id = 0; id < pieces.length; id++) {
    list.tokens[id] = pieces[id].piece;
    list.scores[id] = pieces[id].score;
    list.types[id] = pieceTokenType(pieces[id].type);
  }
  applyAddedTokensJson(list, src, n, warn);
  const overrides: [string, DecoderEntry[]][] = [
    [src.tokenizerConfigPath, addedTokensDecoder(src)],
    [src.tokenizerJson?.path ?? "tokenizer.json", src.tokenizerJson?.addedTokens ?? []],
  ];
  for (const [file, entries] of overrides) {
    for (const { id, content, special } of entries) {
      if (id >= n) {
        outOfRange(warn, file, content, id, n);
        continue;
      }
      list.tokens[id] = content;
      list.scores[id] = ADDED_SCORE;
      list.types[id] = special ? TokenType.CONTROL : TokenType.USER_DEFINED;
    }
  }
  return list;
}
