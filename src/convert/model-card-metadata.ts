/**
 * What llama.cpp's converter takes from the model card (gguf-py `Metadata.apply_metadata_heuristic`,
 * model-card part) and how `Metadata.set_gguf_meta_model` writes it.
 *
 * gguf-py writes a string key only when the value is truthy (`add_string` skips "", 0, False ...)
 * and fails on any other non-string (a `version: 1.0` float, a date): such a value is reported
 * through `warn` and treated as absent, so the name parts fall back to config.json and the folder.
 */
import { GgufValueType, type GgufMetadata, type GgufValue } from "../formats/gguf/types.ts";
import { idToTitle, modelIdParts } from "./model-id.ts";
import type { CardMap, CardValue } from "./model-card.ts";

/** The model card's contribution; "" is a value gguf-py holds but does not write. */
export interface ModelCardMetadata {
  name?: string;
  author?: string;
  version?: string;
  organization?: string;
  description?: string;
  finetune?: string;
  basename?: string;
  sizeLabel?: string;
  license?: string;
  licenseName?: string;
  licenseLink?: string;
  sourceUrl?: string;
  sourceDoi?: string;
  sourceUuid?: string;
  sourceRepoUrl?: string;
  baseModels?: CardMap[];
  datasets?: CardMap[];
  tags?: CardValue[];
  languages?: CardValue[];
}

type Warn = (message: string) => void;

/** Python truthiness. */
function truthy(v: CardValue | undefined): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === "string" || Array.isArray(v)) return v.length > 0;
  if (typeof v === "bigint") return v !== 0n;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "boolean") return v;
  if (v instanceof Map) return v.size > 0;
  return true;
}

const show = (v: CardValue): string =>
  v instanceof Map ? "a mapping" : v instanceof Date ? "a date" : Array.isArray(v) ? "a list" : typeof v === "number" && Number.isInteger(v) ? v.toFixed(1) : String(v); // 1.0 as Python prints a float

/** A value gguf-py's `add_string` takes: the string, "" for one it skips, undefined for one it fails on. */
function ggufString(v: CardValue, what: string, warn: Warn): string | undefined {
  if (typeof v === "string") return v;
  if (!truthy(v)) return "";
  warn(`model card: ${what} is ${show(v)}, not a string; not written`);
  return undefined;
}

/** `use_model_card_metadata` over the card keys that feed one field, first present one first. */
function cardString(card: CardMap, keys: string[], warn: Warn): string | undefined {
  for (const key of keys) {
    const v = card.get(key);
    if (v === undefined || v === null) continue;
    const s = ggufString(v, key, warn);
    if (s !== undefined) return s;
  }
  return undefined;
}

/** The license: a list is joined with ",". */
function cardLicense(card: CardMap, warn: Warn): string | undefined {
  const v = card.get("license");
  if (!Array.isArray(v)) return v === undefined || v === null ? undefined : ggufString(v, "license", warn);
  if (v.every((x) => typeof x === "string")) return v.join(",");
  warn("model card: license is a list with non-string entries; not written");
  return undefined;
}

/** `use_array_model_card_metadata`: a string or the items of a list, appended over the keys. */
function cardList(card: CardMap, keys: string[]): CardValue[] | undefined {
  let out: CardValue[] | undefined;
  for (const key of keys) {
    const v = card.get(key);
    if (v === undefined || v === null) continue;
    out ??= [];
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) out.push(...v);
  }
  return out;
}

const HF_URL = /^https?:\/\/huggingface.co\/([^/]+\/[^/]+)$/;

/** A base model or dataset entry from a Hugging Face id or URL, as gguf-py derives it. */
function entryFromId(id: string, totalParams: number): CardMap {
  const entry: CardMap = new Map();
  const isUrl = ["http://", "https://", "ssh://"].some((p) => id.startsWith(p));
  if (isUrl) entry.set("repo_url", id);
  const hfId = isUrl ? (id.includes("huggingface.co") ? HF_URL.exec(id)?.[1] : undefined) : id;
  if (hfId === undefined) return entry;
  const parts = modelIdParts(hfId, totalParams);
  if (parts.fullName !== undefined) entry.set("name", idToTitle(parts.fullName));
  if (parts.organization !== undefined) entry.set("organization", idToTitle(parts.organization));
  if (parts.version !== undefined) entry.set("version", parts.version);
  if (!isUrl && parts.organization !== undefined && parts.fullName !== undefined) {
    entry.set("repo_url", `https://huggingface.co/${parts.organization}/${parts.fullName}`);
  }
  return entry;
}

/** Base models or datasets: present when any of `keys` is, even with no usable entry (count 0). */
function cardEntries(card: CardMap, keys: string[], what: string, totalParams: number, warn: Warn): CardMap[] | undefined {
  const key = keys.find((k) => card.has(k));
  if (key === undefined) return undefined;
  const value = card.get(key)!;
  const items = typeof value === "string" ? [value] : Array.isArray(value) ? value : [];
  return items.map((item) => {
    if (typeof item === "string") return entryFromId(item, totalParams);
    if (item instanceof Map) return item; // given as a mapping: used as it is
    if (item !== null) warn(`model card: ${what} entry ${show(item)} is neither an id nor a mapping; written empty`);
    else warn(`model card: ${what} entry is empty; written empty`);
    return new Map();
  });
}

/** The model card's metadata, as gguf-py's heuristics take it (before config.json and the folder name). */
export function modelCardMetadata(card: CardMap, totalParams: number, warn: Warn): ModelCardMetadata {
  const s = (...keys: string[]) => cardString(card, keys, warn);
  return {
    name: s("name", "model_name"),
    author: s("author", "model_author", "model_creator"),
    version: s("version", "model_version"),
    organization: s("organization", "model_organization"),
    description: s("description", "model_description"),
    finetune: s("finetune", "model_finetune"),
    basename: s("basename", "model_basename", "model_type"),
    sizeLabel: s("size_label", "model_size_label"),
    sourceUrl: s("url", "model_url"),
    sourceDoi: s("doi", "model_doi"),
    sourceUuid: s("uuid", "model_uuid"),
    sourceRepoUrl: s("repo_url", "model_repo_url"),
    baseModels: cardEntries(card, ["base_model", "base_models", "base_model_sources"], "base_model", totalParams, warn),
    datasets: cardEntries(card, ["datasets", "dataset", "dataset_sources"], "dataset", totalParams, warn),
    license: cardLicense(card, warn),
    licenseName: s("license_name"),
    licenseLink: s("license_link"),
    tags: cardList(card, ["tags", "pipeline_tag"]),
    languages: cardList(card, ["languages", "language"]),
  };
}

/** Sets a string key as gguf-py's `add_string`: an empty value is not written. */
export function setGgufString(md: GgufMetadata, key: string, value: string | undefined): void {
  if (value !== undefined && value !== "") md.set(key, { type: GgufValueType.STRING, value });
}

const ENTRY_FIELDS = ["name", "author", "version", "organization", "description", "url", "doi", "uuid", "repo_url"];

function setEntries(md: GgufMetadata, prefix: string, entries: CardMap[] | undefined, warn: Warn): void {
  if (entries === undefined) return;
  md.set(`general.${prefix}.count`, { type: GgufValueType.UINT32, value: entries.length });
  entries.forEach((entry, i) => {
    for (const field of ENTRY_FIELDS) {
      if (!entry.has(field)) continue;
      setGgufString(md, `general.${prefix}.${i}.${field}`, ggufString(entry.get(field)!, `${prefix} ${i} ${field}`, warn));
    }
  });
}

/** A tags/languages array as gguf-py types it: every item the same Python type. */
function ggufArray(items: CardValue[], what: string, warn: Warn): GgufValue | undefined {
  if (items.length === 0) return undefined; // add_array skips an empty list
  const kinds = new Set(items.map((x) => (Array.isArray(x) ? "list" : x instanceof Map ? "mapping" : x === null ? "empty" : typeof x)));
  const kind = kinds.size === 1 ? [...kinds][0] : "mixed";
  const arr = (itemType: GgufValueType, values: string[] | number[] | boolean[]): GgufValue => ({
    type: GgufValueType.ARRAY,
    value: { itemType, length: values.length, items: values },
  });
  if (kind === "string") return arr(GgufValueType.STRING, items as string[]);
  if (kind === "number") return arr(GgufValueType.FLOAT32, items as number[]);
  if (kind === "boolean") return arr(GgufValueType.BOOL, items as boolean[]);
  if (kind === "bigint" && (items as bigint[]).every((x) => x >= -(2n ** 31n) && x < 2n ** 31n)) {
    return arr(GgufValueType.INT32, (items as bigint[]).map(Number));
  }
  warn(`model card: ${what} mixes types or holds values a GGUF array cannot (${[...kinds].join(", ")}); not written`);
  return undefined;
}

/** Writes the model card's keys after general.size_label, in `set_gguf_meta_model`'s order. */
export function addModelCardKeys(md: GgufMetadata, meta: ModelCardMetadata, warn: Warn): void {
  setGgufString(md, "general.license", meta.license);
  setGgufString(md, "general.license.name", meta.licenseName);
  setGgufString(md, "general.license.link", meta.licenseLink);
  setGgufString(md, "general.source.url", meta.sourceUrl);
  setGgufString(md, "general.source.doi", meta.sourceDoi);
  setGgufString(md, "general.source.uuid", meta.sourceUuid);
  setGgufString(md, "general.source.repo_url", meta.sourceRepoUrl);
  setEntries(md, "base_model", meta.baseModels, warn);
  setEntries(md, "dataset", meta.datasets, warn);
  for (const [key, items] of [["general.tags", meta.tags], ["general.languages", meta.languages]] as const) {
    const value = items && ggufArray(items, key.slice("general.".length), warn);
    if (value) md.set(key, value);
  }
}
