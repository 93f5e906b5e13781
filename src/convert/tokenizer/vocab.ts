/**
 * The tokenizer half of `convert`: a Hugging Face folder's tokenizer files to exactly the
 * `tokenizer.*` metadata llama.cpp's convert_hf_to_gguf.py writes, in its order. Which route a
 * model takes follows the converter's `set_vocab` of its architecture:
 *
 * - Llama / Mistral: tokenizer.model (SentencePiece), else a Llama-2-style tokenizer.json, else
 *   byte-level BPE; tokenizer_config.json's add_prefix_space comes first.
 * - Qwen2 / Qwen3: tokenizer.model if there is one, else byte-level BPE.
 * - Gemma, Gemma 2 (and Gemma 3 with a tokenizer.model): SentencePiece, add_space_prefix false.
 * - Phi-3: SentencePiece with its own added-token rules (byte-level BPE for GPT2Tokenizer, Phi-4).
 * - anything else: byte-level BPE, the converter's default.
 *
 * Where we differ from llama.cpp on purpose: a byte-level vocabulary its fingerprint table does
 * not know gets a pre-tokenizer recognised from its definition (llama.cpp refuses to convert it);
 * Mistral's tekken.json, the HybridDNA tokenizer and "slow" tokenizers without tokenizer.json
 * (vocab.json + merges.txt) are refused with an error instead of being loaded through transformers.
 */
import { join } from "node:path";
import { ToolError } from "../../formats/errors.ts";
import type { GgufMetadata } from "../../formats/gguf/types.ts";
import { bpeTokenList, isByteLevel } from "./bpe.ts";
import { fileExists, isInt, isObject, readFileIfExists, readJsonObjectIfExists, type JsonObject } from "./files.ts";
import { TokenizerKey, TokenizerMetadataWriter } from "./keys.ts";
import { isLlamaHfTokenizer, llamaHfTokenList } from "./llama-hf.ts";
import { describeMismatch, matchPreTokenizer, preTokenizerBehaviour, preTokenizerByFingerprint } from "./pre-tokenizer.ts";
import { parseSentencePieceModel } from "./sentencepiece.ts";
import { loadSpecialVocab, setSpecialToken, writeSpecialVocab, type SpecialVocabInputs } from "./special-vocab.ts";
import { readTokenizerJson, type TokenizerJson } from "./tokenizer-json.ts";
import { phi3TokenList, sentencePieceTokenList, type ScoredTokenList, type SentencePieceSources } from "./spm-vocab.ts";

export interface LoadVocabOptions {
  /** tokenizer.ggml.pre to write for a byte-level BPE tokenizer instead of the recognised one */
  preTokenizer?: string;
  /** told about guesses and skipped entries (one line each) */
  onWarning?: (msg: string) => void;
}

/** tokenizer.model is a protobuf of a few MB; anything near this is not one. */
const MAX_SPM_BYTES = 256 * 1024 * 1024;

const LLAMA_ARCHITECTURES = new Set(["LlamaForCausalLM", "LLaMAForCausalLM", "MistralForCausalLM", "MixtralForCausalLM", "LlamaModel"]);
const QWEN_ARCHITECTURES = new Set(["Qwen2ForCausalLM", "Qwen2Model", "Qwen3ForCausalLM", "Qwen3Model"]);

/** The files of one folder, read once and shared by every step. */
interface TokenizerFolder {
  dir: string;
  config: JsonObject;
  /** config.json with text_config merged over it, as the converter's hparams */
  hparams: JsonObject;
  vocabSize: number | undefined;
  tokenizerJson: TokenizerJson | undefined;
  tokenizerConfig: JsonObject | undefined;
  w: TokenizerMetadataWriter;
  options: LoadVocabOptions;
  warn: (msg: string) => void;
}

/**
 * The `tokenizer.*` metadata for the model in `dir`, given its parsed config.json, as an ordered
 * map to append after the architecture's keys.
 */
export async function loadVocab(dir: string, config: Record<string, unknown>, options: LoadVocabOptions = {}): Promise<GgufMetadata> {
  if (options.preTokenizer !== undefined && options.preTokenizer.trim().length === 0) throw new ToolError(dir, "the pre-tokenizer name given is empty");
  const md: GgufMetadata = new Map();
  const textConfig = isObject(config.text_config) ? config.text_config : {};
  const hparams = { ...config, ...textConfig };
  const f: TokenizerFolder = {
    dir,
    config,
    hparams,
    vocabSize: isInt(hparams.vocab_size) ? hparams.vocab_size : undefined,
    tokenizerJson: await readTokenizerJson(join(dir, "tokenizer.json")),
    tokenizerConfig: await readJsonObjectIfExists(join(dir, "tokenizer_config.json")),
    w: new TokenizerMetadataWriter(md),
    options,
    warn: options.onWarning ?? (() => {}),
  };
  const architecture = Array.isArray(config.architectures) && typeof config.architectures[0] === "string" ? config.architectures[0] : "";

  if (LLAMA_ARCHITECTURES.has(architecture)) await setLlamaVocab(f);
  else if (QWEN_ARCHITECTURES.has(architecture)) {
    if (await hasSentencePieceModel(f)) await setSentencePieceVocab(f);
    else await setBpeVocab(f);
  } else if (architecture === "GemmaForCausalLM") await setGemmaVocab(f);
  else if (architecture === "Gemma2ForCausalLM") {
    await setSentencePieceVocab(f);
    f.w.bool(TokenizerKey.ADD_PREFIX, false);
  } else if (architecture === "Gemma3ForCausalLM" || architecture === "Gemma3ForConditionalGeneration") {
    if (await hasSentencePieceModel(f)) {
      await setSentencePieceVocab(f);
      f.w.bool(TokenizerKey.ADD_PREFIX, false);
    } else await setBpeVocab(f);
  } else if (architecture === "Phi3ForCausalLM") await setPhi3Vocab(f);
  else await setBpeVocab(f);
  return md;
}

const hasSentencePieceModel = (f: TokenizerFolder) => fileExists(join(f.dir, "tokenizer.model"));

function specialVocabInputs(f: TokenizerFolder): SpecialVocabInputs {
  return { dir: f.dir, tokenizerJson: f.tokenizerJson, tokenizerConfig: f.tokenizerConfig, config: f.config, warn: f.warn };
}

/** `LlamaModel.set_vocab` */
async function setLlamaVocab(f: TokenizerFolder): Promise<void> {
  if (f.tokenizerJson === undefined && (await fileExists(join(f.dir, "tekken.json")))) {
    throw new ToolError(join(f.dir, "tekken.json"), "Mistral's tekken tokenizer format is not supported; use a folder with tokenizer.json");
  }
  const addPrefixSpace = f.tokenizerConfig?.add_prefix_space;
  if (typeof addPrefixSpace === "boolean") f.w.bool(TokenizerKey.ADD_PREFIX, addPrefixSpace);
  if (f.tokenizerConfig?.tokenizer_class === "HybridDNATokenizer") {
    throw new ToolError(join(f.dir, "tokenizer_config.json"), "the HybridDNATokenizer is not supported");
  }

  if (await hasSentencePieceModel(f)) await setSentencePieceVocab(f);
  else if (f.tokenizerJson !== undefined && isLlamaHfTokenizer(f.tokenizerJson)) await setLlamaHfVocab(f, f.tokenizerJson);
  else await setBpeVocab(f);

  if (f.vocabSize === 32016) {
    // CodeLlama's infill tokens: of these gguf-py writes only eot
    const sv = await loadSpecialVocab(specialVocabInputs(f), { specialTokenTypes: ["prefix", "suffix", "middle", "eot"] });
    const file = join(f.dir, "config.json");
    for (const [kind, id] of [["prefix", 32007], ["suffix", 32008], ["middle", 32009], ["eot", 32010]] as const) setSpecialToken(sv, kind, id, file, f.warn);
    writeSpecialVocab(sv, f.w);
  }
  // Granite small models
  if (f.vocabSize === 49152) f.w.bool("tokenizer.ggml.add_bos_token", false);
}

/** `GemmaModel.set_vocab`: SentencePiece plus CodeGemma's infill tokens (of which only eot is written). */
async function setGemmaVocab(f: TokenizerFolder): Promise<void> {
  await setSentencePieceVocab(f);
  const sv = await loadSpecialVocab(specialVocabInputs(f), { specialTokenTypes: ["prefix", "suffix", "middle", "fsep", "eot"] });
  const file = join(f.dir, "config.json");
  for (const [kind, id] of [["prefix", 67], ["suffix", 69], ["middle", 68], ["fsep", 70], ["eot", 107]] as const) setSpecialToken(sv, kind, id, file, f.warn);
  sv.chatTemplate = undefined; // already written
  writeSpecialVocab(sv, f.w);
  f.w.bool(TokenizerKey.ADD_PREFIX, false);
}

async function readSentencePieceSources(f: TokenizerFolder): Promise<SentencePieceSources> {
  const modelPath = join(f.dir, "tokenizer.model");
  const bytes = await readFileIfExists(modelPath, MAX_SPM_BYTES);
  if (bytes === undefined) throw new ToolError(modelPath, "not found (this architecture needs a SentencePiece tokenizer.model)");
  const addedTokensJsonPath = join(f.dir, "added_tokens.json");
  return {
    model: parseSentencePieceModel(bytes, modelPath),
    modelPath,
    addedTokensJson: await readJsonObjectIfExists(addedTokensJsonPath),
    addedTokensJsonPath,
    tokenizerConfig: f.tokenizerConfig,
    tokenizerConfigPath: join(f.dir, "tokenizer_config.json"),
    tokenizerJson: f.tokenizerJson,
  };
}

/** The keys of every SentencePiece-style vocabulary: model "llama", pre "default", then SpecialVocab. */
async function writeScoredVocab(f: TokenizerFolder, list: ScoredTokenList): Promise<void> {
  if (f.options.preTokenizer !== undefined) {
    f.warn(`${f.dir}: the pre-tokenizer choice applies to byte-level BPE vocabularies only; this SentencePiece-style one is written with "default", as llama.cpp does`);
  }
  f.w.string(TokenizerKey.MODEL, "llama");
  f.w.string(TokenizerKey.PRE, "default");
  f.w.strings(TokenizerKey.LIST, list.tokens);
  f.w.float32s(TokenizerKey.SCORES, list.scores);
  f.w.int32s(TokenizerKey.TOKEN_TYPE, list.types);
  writeSpecialVocab(await loadSpecialVocab(specialVocabInputs(f), { nVocab: list.tokens.length }), f.w);
}

/** `_set_vocab_sentencepiece` */
async function setSentencePieceVocab(f: TokenizerFolder): Promise<void> {
  const src = await readSentencePieceSources(f);
  const vocabSize = isInt(f.hparams.vocab_size_per_layer_input) ? f.hparams.vocab_size_per_layer_input : f.vocabSize;
  await writeScoredVocab(f, sentencePieceTokenList(src, vocabSize, f.warn));
}

/** `_set_vocab_llama_hf` */
async function setLlamaHfVocab(f: TokenizerFolder, tj: TokenizerJson): Promise<void> {
  await writeScoredVocab(f, llamaHfTokenList(tj, f.tokenizerConfig));
}

/** `Phi3MiniModel.set_vocab` */
async function setPhi3Vocab(f: TokenizerFolder): Promise<void> {
  if (f.tokenizerConfig?.tokenizer_class === "GPT2Tokenizer") {
    await setBpeVocab(f);
    return;
  }
  const src = await readSentencePieceSources(f);
  await writeScoredVocab(f, phi3TokenList(src, f.vocabSize, f.warn));
}

/** `_set_vocab_gpt2`: byte-level BPE from tokenizer.json. */
async function setBpeVocab(f: TokenizerFolder): Promise<void> {
  const tj = f.tokenizerJson;
  if (tj === undefined) {
    throw new ToolError(f.dir, "no tokenizer: the folder has neither tokenizer.model nor tokenizer.json");
  }
  if (tj.model.type !== "BPE") throw new ToolError(tj.path, `model type ${JSON.stringify(tj.model.type)} is not supported (expected a BPE tokenizer)`);
  // llama.cpp's "gpt2" tokenizer works on byte-level text; anything else would convert into a GGUF that tokenizes wrongly
  if (!isByteLevel(tj)) throw new ToolError(tj.path, "not a byte-level BPE tokenizer (no ByteLevel pre-tokenizer or decoder), and this model has no tokenizer.model");
  const list = bpeTokenList(tj, f.vocabSize);
  f.w.string(TokenizerKey.MODEL, "gpt2");
  f.w.string(TokenizerKey.PRE, f.options.preTokenizer ?? recognisePreTokenizer(tj, f.warn));
  f.w.strings(TokenizerKey.LIST, list.tokens);
  f.w.int32s(TokenizerKey.TOKEN_TYPE, list.types);
  writeSpecialVocab(await loadSpecialVocab(specialVocabInputs(f), { loadMerges: true }), f.w);
}

function recognisePreTokenizer(tj: TokenizerJson, warn: (msg: string) => void): string {
  const known = preTokenizerByFingerprint(tj);
  if (known !== undefined) return known;
  const behaviour = preTokenizerBehaviour(tj);
  const match = matchPreTokenizer(behaviour);
  if (!match.exact) {
    warn(
      `${tj.path}: pre-tokenizer not recognised; using "${match.known.name}", the closest one llama.cpp knows ` +
        `(${describeMismatch(behaviour, match)}); text may be split differently than by the original tokenizer`,
    );
  }
  return match.known.name;
}
