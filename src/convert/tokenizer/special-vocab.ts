/**
 * A port of gguf-py's SpecialVocab: special token ids (tokenizer_config.json's `<kind>_token`
 * looked up in tokenizer.json's added_tokens, then config.json's `<kind>_token_id`), the
 * add_bos/add_eos/add_sep flags (guessed from tokenizer.json's post-processor, then
 * tokenizer_config.json's `add_<kind>_token`), the chat template (tokenizer_config.json, else
 * chat_template.jinja / chat_template.json) and the BPE merges, written in SpecialVocab's order.
 * generation_config.json is not read, as gguf-py does not read it.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { ToolError } from "../../formats/errors.ts";
import { parseMergesTxt } from "./bpe.ts";
import { isInt, isObject, readFileIfExists, readJsonObjectIfExists, type JsonObject } from "./files.ts";
import type { TokenizerJson } from "./tokenizer-json.ts";
import { ADD_SPECIAL_TOKEN_KEYS, SPECIAL_TOKEN_ID_KEYS, TokenizerKey, chatTemplateKey, type TokenizerMetadataWriter } from "./keys.ts";

export interface NamedChatTemplate {
  name: string;
  template: string;
}

export interface SpecialVocab {
  merges: string[];
  /** kind (bos, eos, ...) -> id, in the order they were found (the order they are written) */
  specialTokenIds: Map<string, number>;
  /** kind -> add_<kind>_token, in the order they were found */
  addSpecialToken: Map<string, boolean>;
  chatTemplate: string | NamedChatTemplate[] | undefined;
  normalizerLowercase: boolean;
  /** the kinds looked for; the post-processor may add eot/eom */
  specialTokenTypes: string[];
  /** ids must be below this (undefined: no check) */
  nVocab: number | undefined;
}

export interface SpecialVocabInputs {
  dir: string;
  tokenizerJson: TokenizerJson | undefined;
  tokenizerConfig: JsonObject | undefined;
  /** parsed config.json */
  config: JsonObject;
  warn: (msg: string) => void;
}

export interface SpecialVocabOptions {
  loadMerges?: boolean;
  nVocab?: number;
  specialTokenTypes?: string[];
}

const DEFAULT_SPECIAL_TOKEN_TYPES = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"];

/** Python truthiness of a JSON value. */
function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return Object.keys(v).length > 0;
  return true;
}

/** `x.get('SpecialToken', {}).get('id')` of a template piece */
function templateSpecialId(piece: unknown): unknown {
  return isObject(piece) && isObject(piece.SpecialToken) ? piece.SpecialToken.id : undefined;
}

function templateSequenceId(piece: unknown): unknown {
  return isObject(piece) && isObject(piece.Sequence) ? piece.Sequence.id : undefined;
}

/** Python's `a in (b, c)` for JSON values (strings compare by value, objects never equal). */
const oneOf = (a: unknown, ...bs: unknown[]) => bs.some((b) => a === b);

/** SpecialVocab._set_special_token */
export function setSpecialToken(sv: SpecialVocab, kind: string, id: unknown, file: string, warn: (msg: string) => void): void {
  if (!isInt(id)) return;
  if (id < 0) throw new ToolError(file, `invalid ${kind} token id ${id}`);
  if (sv.nVocab !== undefined && id >= sv.nVocab) {
    warn(`${file}: ${kind} token id ${id} is out of range (vocabulary of ${sv.nVocab}); not written`);
    return;
  }
  if (!sv.specialTokenIds.has(kind)) sv.specialTokenIds.set(kind, id);
}

export async function loadSpecialVocab(inputs: SpecialVocabInputs, options: SpecialVocabOptions = {}): Promise<SpecialVocab> {
  const sv: SpecialVocab = {
    merges: [],
    specialTokenIds: new Map(),
    addSpecialToken: new Map(),
    chatTemplate: undefined,
    normalizerLowercase: false,
    specialTokenTypes: [...(options.specialTokenTypes ?? DEFAULT_SPECIAL_TOKEN_TYPES)],
    nVocab: options.nVocab,
  };
  await loadFromTokenizerFiles(sv, inputs, options.loadMerges === true);
  loadFromConfig(sv, inputs);
  if (options.loadMerges && sv.merges.length === 0) {
    const path = join(inputs.dir, "merges.txt");
    const text = await readFileIfExists(path, 256 * 1024 * 1024);
    if (text !== undefined) sv.merges = parseMergesTxt(text.toString("utf8"));
  }
  return sv;
}

function parseNormalizer(sv: SpecialVocab, normalizer: unknown): void {
  if (!isObject(normalizer)) return;
  if (normalizer.type === "Lowercase") sv.normalizerLowercase = true;
  else if (normalizer.type === "BertNormalizer") {
    if (normalizer.lowercase === undefined || truthy(normalizer.lowercase)) sv.normalizerLowercase = true;
  } else if (normalizer.type === "Sequence" && Array.isArray(normalizer.normalizers)) {
    for (const n of normalizer.normalizers) parseNormalizer(sv, n);
  }
}

async function loadFromTokenizerFiles(sv: SpecialVocab, inputs: SpecialVocabInputs, loadMerges: boolean): Promise<void> {
  const tj = inputs.tokenizerJson;
  if (tj !== undefined) {
    if (loadMerges) sv.merges = tj.merges ?? [];
    if (truthy(tj.normalizer)) parseNormalizer(sv, tj.normalizer);
  }
  const addedTokens = tj?.addedTokens ?? [];
  // SpecialVocab edits its copy of tokenizer_config.json while reading the post-processor
  const tc: JsonObject | undefined = inputs.tokenizerConfig === undefined ? undefined : { ...inputs.tokenizerConfig };
  if (tj !== undefined) readPostProcessor(sv, tj, tc);
  if (tc === undefined || !truthy(tc)) return;

  sv.chatTemplate = await readChatTemplate(inputs, tc);

  const tcPath = join(inputs.dir, "tokenizer_config.json");
  for (const kind of sv.specialTokenTypes) {
    const add = tc[`add_${kind}_token`];
    if (typeof add === "boolean") sv.addSpecialToken.set(kind, add);
    const entry = tc[`${kind}_token`];
    let content: string;
    if (typeof entry === "string") content = entry;
    else if (isObject(entry) && typeof entry.content === "string") content = entry.content;
    else continue;
    const found = addedTokens.find((t) => t.content === content);
    setSpecialToken(sv, kind, found?.id, tcPath, inputs.warn);
  }
}

/**
 * SpecialVocab's "crude parsing" of tokenizer.json's post-processor: RobertaProcessing adds
 * bos/eos/sep; a TemplateProcessing `single` that starts (ends) with a special token adds bos (eos),
 * and a special token between A and B in `pair` adds sep. An eos at the end of the template that
 * differs from tokenizer_config's eos_token takes its place, the old one becoming eot (or eom).
 */
function readPostProcessor(sv: SpecialVocab, tj: TokenizerJson, tc: JsonObject | undefined): void {
  let specialBos = tc?.bos_token;
  let specialCls = tc?.cls_token;
  let specialEos = tc?.eos_token;
  let specialSep = tc?.sep_token;
  if (!truthy(specialBos) && truthy(specialCls) && tc !== undefined && truthy(tc)) tc.bos_token = specialBos = specialCls;
  if (!truthy(specialEos) && truthy(specialSep) && tc !== undefined && truthy(tc)) tc.eos_token = specialEos = specialSep;
  const pp = tj.postProcessor;
  if (!truthy(pp) || !isObject(pp)) return;
  const processors = Array.isArray(pp.processors) ? pp.processors : [pp];
  for (const processor of processors) {
    if (!isObject(processor)) continue;
    if (processor.type === "RobertaProcessing") {
      sv.addSpecialToken.set("bos", true);
      sv.addSpecialToken.set("eos", true);
      sv.addSpecialToken.set("sep", true);
      if (!truthy(specialCls) && tc !== undefined && truthy(tc)) {
        specialCls = Array.isArray(processor.cls) ? processor.cls[0] : specialBos;
        tc.cls_token = specialCls;
      }
      if (!truthy(specialSep) && tc !== undefined && truthy(tc)) {
        specialSep = Array.isArray(processor.sep) ? processor.sep[0] : specialEos;
        tc.sep_token = specialSep;
      }
      continue;
    }
    if (processor.type !== "TemplateProcessing") continue;
    const single = Array.isArray(processor.single) ? processor.single : [];
    let pair = Array.isArray(processor.pair) ? processor.pair : [];
    let specialFirst: unknown;
    let specialLast: unknown;
    if (single.length > 1) {
      specialFirst = templateSpecialId(single[0]);
      if (truthy(specialFirst)) {
        if (tc === undefined || !truthy(tc)) specialBos = specialFirst;
        sv.addSpecialToken.set("bos", oneOf(specialFirst, specialBos, specialCls));
      }
      specialLast = templateSpecialId(single[single.length - 1]);
      if (truthy(specialLast)) {
        if (tc === undefined || !truthy(tc)) specialEos = specialLast;
        else if (specialLast !== specialEos) {
          if (!sv.specialTokenTypes.includes("eot")) {
            sv.specialTokenTypes.push("eot");
            tc.eot_token = specialEos;
          } else if (!sv.specialTokenTypes.includes("eom")) {
            sv.specialTokenTypes.push("eom");
            tc.eom_token = specialEos;
          }
          tc.eos_token = specialEos = specialLast;
        }
        sv.addSpecialToken.set("eos", specialLast === specialEos);
      }
    }
    if (pair.length > 0) {
      const start = truthy(specialFirst) && templateSpecialId(pair[0]) === specialFirst ? 1 : 0;
      const stop = truthy(specialLast) && templateSpecialId(pair[pair.length - 1]) === specialLast ? pair.length - 1 : pair.length;
      pair = pair.slice(start, stop);
      if (pair.length > 0 && templateSequenceId(pair[0]) === "A" && templateSequenceId(pair[pair.length - 1]) === "B" && pair.length > 2) {
        const middle = pair.slice(1, -1);
        let addSep = false;
        const first = templateSpecialId(middle[0]);
        if (truthy(first) && oneOf(first, specialSep, specialEos) && !truthy(specialLast)) addSep = true;
        if (middle.length === 2) {
          const second = templateSpecialId(middle[1]);
          if (truthy(second) && oneOf(second, specialSep, specialEos)) addSep = true;
        }
        sv.addSpecialToken.set("sep", addSep);
        if (addSep && !truthy(specialSep) && tc !== undefined && truthy(tc)) tc.sep_token = specialEos;
      }
    }
  }
}

/** Chat templates are a few KB; this only keeps a wrong file from being read whole. */
const MAX_TEMPLATE_BYTES = 64 * 1024 * 1024;

async function readChatTemplate(inputs: SpecialVocabInputs, tc: JsonObject): Promise<string | NamedChatTemplate[] | undefined> {
  let alt: string | NamedChatTemplate[] | undefined;
  const jinjaPath = join(inputs.dir, "chat_template.jinja");
  const jinja = await readFileIfExists(jinjaPath, MAX_TEMPLATE_BYTES);
  if (jinja !== undefined) {
    alt = jinja.toString("utf8");
    const extraDir = join(inputs.dir, "additional_chat_templates");
    // gguf-py takes them in directory order; sorted here so the output does not depend on the filesystem
    const extra = (await readdir(extraDir).catch(() => [] as string[])).filter((f) => f.endsWith(".jinja")).sort();
    if (extra.length > 0) {
      const list: NamedChatTemplate[] = [{ name: "default", template: alt }];
      for (const f of extra) {
        const template = await readFileIfExists(join(extraDir, f), MAX_TEMPLATE_BYTES);
        if (template !== undefined) list.push({ name: f.slice(0, -".jinja".length), template: template.toString("utf8") });
      }
      alt = list;
    }
  } else {
    const jsonPath = join(inputs.dir, "chat_template.json");
    const json = await readJsonObjectIfExists(jsonPath);
    if (json !== undefined) alt = chatTemplateValue(json.chat_template, jsonPath, inputs.warn);
  }
  const tcPath = join(inputs.dir, "tokenizer_config.json");
  return "chat_template" in tc ? chatTemplateValue(tc.chat_template, tcPath, inputs.warn) : alt;
}

/** A chat template as SpecialVocab accepts it: a string or a list of {name, template}. */
function chatTemplateValue(v: unknown, file: string, warn: (msg: string) => void): string | NamedChatTemplate[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (Array.isArray(v)) {
    return v.filter(isObject).map((t) => ({ name: typeof t.name === "string" ? t.name : "", template: typeof t.template === "string" ? t.template : "" }));
  }
  warn(`${file}: chat_template is neither a string nor a list of templates; ignored`);
  return undefined;
}

function loadFromConfig(sv: SpecialVocab, inputs: SpecialVocabInputs): void {
  const { config } = inputs;
  const textConfig = isObject(config.text_config) ? config.text_config : undefined;
  const file = join(inputs.dir, "config.json");
  for (const kind of sv.specialTokenTypes) {
    let id = config[`${kind}_token_id`];
    if ((id === undefined || id === null) && textConfig !== undefined) id = textConfig[`${kind}_token_id`];
    setSpecialToken(sv, kind, id, file, inputs.warn);
  }
}

/** SpecialVocab.add_to_gguf: merges, ids, add flags, chat template, lowercase flag. */
export function writeSpecialVocab(sv: SpecialVocab, w: TokenizerMetadataWriter): void {
  if (sv.merges.length > 0) w.strings(TokenizerKey.MERGES, sv.merges);
  for (const [kind, id] of sv.specialTokenIds) {
    const key = SPECIAL_TOKEN_ID_KEYS[kind];
    if (key !== undefined) w.uint32(key, id);
  }
  for (const [kind, add] of sv.addSpecialToken) {
    const key = ADD_SPECIAL_TOKEN_KEYS[kind];
    if (key !== undefined) w.bool(key, add);
  }
  if (sv.chatTemplate !== undefined) writeChatTemplate(w, sv.chatTemplate);
  if (sv.normalizerLowercase) w.bool(TokenizerKey.NORMALIZER_LOWERCASE, true);
}

/** GGUFWriter.add_chat_template: named templates get their own keys, "default" the main one. */
function writeChatTemplate(w: TokenizerMetadataWriter, template: string | NamedChatTemplate[]): void {
  if (typeof template === "string") {
    w.string(TokenizerKey.CHAT_TEMPLATE, template);
    return;
  }
  let defaultTemplate: string | undefined;
  const names: string[] = [];
  for (const t of template) {
    const name = t.name.replace(/[^A-Za-z0-9]/g, "_");
    if (name.length === 0) continue;
    if (name === "default") defaultTemplate = t.template;
    else {
      if (!names.includes(name)) names.push(name);
      w.string(chatTemplateKey(name), t.template);
    }
  }
  if (names.length > 0) w.strings(TokenizerKey.CHAT_TEMPLATES, names);
  if (defaultTemplate !== undefined) w.string(TokenizerKey.CHAT_TEMPLATE, defaultTemplate);
}
