/**
 * `inspect --json`: one object per target (issue 2, item 7). Integers beyond 2^53 become decimal
 * strings, non-finite floats the strings "NaN"/"Infinity"/"-Infinity", and arrays of more than 64
 * elements `{ type: "array", itemType, length, head }` unless `full`.
 */
import { readGgufArrayItems, readGgufStringsAt } from "../formats/gguf/reader.ts";
import { ggmlTypeName, GGUF_VALUE_TYPE_NAMES, GgufValueType, type GgufArrayItems, type GgufArrayValue, type GgufValue } from "../formats/gguf/types.ts";
import type { InspectSubject } from "./target.ts";

/** Longer arrays are abbreviated unless `full`. */
export const JSON_ARRAY_LIMIT = 64;
/** How many items an abbreviated array shows. */
export const JSON_ARRAY_HEAD = 8;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export async function inspectJson(subject: InspectSubject, options: { full: boolean }): Promise<Record<string, unknown>> {
  if (subject.kind === "safetensors") {
    const f = subject.file;
    return {
      format: "safetensors",
      path: subject.path,
      dataOffset: f.dataOffset,
      metadata: f.metadata,
      tensors: f.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, offset: t.fileOffset - f.dataOffset, size: t.byteLength })),
      summary: subject.summary,
    };
  }
  if (subject.kind === "hf-folder") {
    const m = subject.model;
    const dataOffsets = new Map(m.files.map((f) => [f.path, f.dataOffset]));
    return {
      format: "safetensors",
      path: subject.path,
      metadata: m.config,
      files: m.files.map((f) => ({ path: f.path, size: f.fileSize, dataOffset: f.dataOffset, metadata: f.metadata })),
      tensors: [...m.tensors.values()].map((t) => ({
        name: t.name,
        dtype: t.dtype,
        shape: t.shape,
        file: t.file,
        offset: t.fileOffset - dataOffsets.get(t.file)!,
        size: t.byteLength,
      })),
      summary: subject.summary,
    };
  }
  const { model } = subject;
  const first = model.shards[0];
  const metadata: Record<string, JsonValue> = {};
  for (const [key, value] of model.metadata) metadata[key] = await ggufValueJson(first.path, value, options.full);
  const split = model.shards.length > 1;
  const out: Record<string, unknown> = {
    format: "gguf",
    path: subject.path,
    version: first.version,
    alignment: first.alignment,
    dataOffset: first.dataOffset,
    metadata,
    tensors: model.tensors.map((t) => ({
      name: t.name,
      type: ggmlTypeName(t.type),
      shape: t.shape,
      offset: t.offset,
      size: t.size,
      ...(split ? { shard: t.shard } : {}),
    })),
    summary: subject.summary,
  };
  if (split) out.shards = model.shards.map((h) => ({ path: h.path, version: h.version, alignment: h.alignment, dataOffset: h.dataOffset, fileSize: h.fileSize }));
  if (subject.ollama) out.ollama = subject.ollama;
  return out;
}

export async function ggufValueJson(path: string, v: GgufValue, full: boolean): Promise<JsonValue> {
  switch (v.type) {
    case GgufValueType.ARRAY:
      return arrayJson(path, v.value, full);
    case GgufValueType.UINT64:
    case GgufValueType.INT64:
      return bigintJson(v.value);
    case GgufValueType.FLOAT32:
    case GgufValueType.FLOAT64:
      return numberJson(v.value);
    default:
      return v.value;
  }
}

async function arrayJson(path: string, a: GgufArrayValue, full: boolean): Promise<JsonValue> {
  if (full || a.length <= JSON_ARRAY_LIMIT) return itemsJson(path, await readGgufArrayItems(path, a), full);
  let head: JsonValue[];
  if (a.items !== undefined) {
    head = await itemsJson(path, sliceItems(a.items, JSON_ARRAY_HEAD), full);
  } else if (a.itemType === GgufValueType.STRING) {
    const picked = await readGgufStringsAt(path, a, Array.from({ length: JSON_ARRAY_HEAD }, (_, i) => i));
    head = [...picked.values()];
  } else {
    head = await itemsJson(path, sliceItems(await readGgufArrayItems(path, a), JSON_ARRAY_HEAD), full);
  }
  return { type: "array", itemType: GGUF_VALUE_TYPE_NAMES[a.itemType], length: a.length, head };
}

function sliceItems(items: GgufArrayItems, n: number): GgufArrayItems {
  return items.slice(0, n) as GgufArrayItems;
}

async function itemsJson(path: string, items: GgufArrayItems, full: boolean): Promise<JsonValue[]> {
  const out: JsonValue[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const x = items[i];
    if (typeof x === "object") out[i] = await arrayJson(path, x, full);
    else if (typeof x === "bigint") out[i] = bigintJson(x);
    else if (typeof x === "number") out[i] = numberJson(x);
    else out[i] = x;
  }
  return out;
}

function bigintJson(v: bigint): JsonValue {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
}

function numberJson(v: number): JsonValue {
  return Number.isFinite(v) ? v : String(v);
}
