/**
 * The `general.*` keys llama.cpp's converter writes before the architecture's own keys
 * (gguf-py `Metadata.load` + `set_gguf_meta_model`): recommended sampling from
 * generation_config.json; the name and its parts from the model card (README.md front matter),
 * else config.json's `_name_or_path`, else the folder name (`get_model_id_components`); the size
 * label; then the model card's license, sources, base models, datasets, tags and languages.
 */
import { GgufValueType, type GgufMetadata } from "../formats/gguf/types.ts";
import type { CardMap } from "./model-card.ts";
import { addModelCardKeys, modelCardMetadata, setGgufString } from "./model-card-metadata.ts";
import { idToTitle, modelIdParts, roundedParameterCount, type ModelIdParts } from "./model-id.ts";

type Json = Record<string, unknown>;

/** generation_config.json key -> general.sampling.* key and GGUF type, in gguf-py's order. */
const SAMPLING_KEYS: Array<[string, string, GgufValueType]> = [
  ["sequence", "general.sampling.sequence", GgufValueType.STRING],
  ["top_k", "general.sampling.top_k", GgufValueType.INT32],
  ["top_p", "general.sampling.top_p", GgufValueType.FLOAT32],
  ["min_p", "general.sampling.min_p", GgufValueType.FLOAT32],
  ["xtc_probability", "general.sampling.xtc_probability", GgufValueType.FLOAT32],
  ["xtc_threshold", "general.sampling.xtc_threshold", GgufValueType.FLOAT32],
  ["temperature", "general.sampling.temp", GgufValueType.FLOAT32],
  ["penalty_last_n", "general.sampling.penalty_last_n", GgufValueType.INT32],
  ["penalty_repeat", "general.sampling.penalty_repeat", GgufValueType.FLOAT32],
  ["mirostat", "general.sampling.mirostat", GgufValueType.INT32],
  ["mirostat_tau", "general.sampling.mirostat_tau", GgufValueType.FLOAT32],
  ["mirostat_eta", "general.sampling.mirostat_eta", GgufValueType.FLOAT32],
];

export interface GeneralMetadataInput {
  architecture: string;
  /** the model folder's name, the last fallback for the name */
  folderName: string;
  config: Json;
  /** generation_config.json, or {} */
  generationConfig: Json;
  totalParams: number;
  /** --name override */
  name?: string;
  /** README.md's front matter (readModelCard), or none */
  modelCard?: CardMap;
  /** model-card values llama.cpp could not write are reported here and left out */
  onWarning?: (message: string) => void;
}

/** Writes general.architecture, general.type, sampling, name parts and size label into `md`, in llama.cpp's order. */
export function addGeneralMetadata(md: GgufMetadata, input: GeneralMetadataInput): void {
  md.set("general.architecture", { type: GgufValueType.STRING, value: input.architecture });
  md.set("general.type", { type: GgufValueType.STRING, value: "model" });
  for (const [src, key, type] of SAMPLING_KEYS) {
    const v = input.generationConfig[src];
    if (v === undefined || v === null) continue;
    if (type === GgufValueType.STRING && typeof v === "string") md.set(key, { type, value: v });
    else if (typeof v === "number") md.set(key, { type: type as GgufValueType.INT32, value: v });
  }

  const warn = input.onWarning ?? (() => {});
  const card = modelCardMetadata(input.modelCard ?? new Map(), input.totalParams, warn);
  // the model card first; "" (a value gguf-py holds but does not write) also stops the fallbacks
  const parts: ModelIdParts = {
    fullName: card.name,
    organization: card.organization,
    basename: card.basename,
    finetune: card.finetune,
    version: card.version,
    sizeLabel: card.sizeLabel,
  };
  const fill = (p: ModelIdParts) => {
    if (parts.fullName === undefined && p.fullName !== undefined) parts.fullName = idToTitle(p.fullName);
    if (parts.organization === undefined && p.organization !== undefined) parts.organization = idToTitle(p.organization);
    parts.basename ??= p.basename;
    parts.finetune ??= p.finetune;
    parts.version ??= p.version;
    parts.sizeLabel ??= p.sizeLabel;
  };
  const nameOrPath = input.config._name_or_path;
  if (typeof nameOrPath === "string" && nameOrPath.split("/").length <= 2) fill(modelIdParts(nameOrPath, input.totalParams));
  fill(modelIdParts(input.folderName, input.totalParams));

  const str = (key: string, value: string | undefined) => setGgufString(md, key, value);
  str("general.name", input.name ?? parts.fullName ?? input.folderName);
  str("general.author", card.author);
  str("general.version", parts.version);
  str("general.organization", parts.organization);
  str("general.finetune", parts.finetune);
  str("general.basename", parts.basename);
  str("general.description", card.description);
  str("general.size_label", parts.sizeLabel ?? (input.totalParams > 0 ? roundedParameterCount(input.totalParams) : undefined));
  addModelCardKeys(md, card, warn);
}
