/**
 * Typed access to GGUF metadata. Missing keys give undefined; a key of the wrong type is a
 * ToolError naming the key (a file whose `llama.context_length` is a string is broken).
 */
import { ToolError } from "../errors.ts";
import { GGUF_VALUE_TYPE_NAMES, GgufValueType, type GgufArrayValue, type GgufMetadata, type GgufValue } from "./types.ts";

function wrongType(key: string, v: GgufValue, expected: string): never {
  throw new ToolError(key, `metadata value has type ${GGUF_VALUE_TYPE_NAMES[v.type]}, expected ${expected}`);
}

export function getString(md: GgufMetadata, key: string): string | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (v.type !== GgufValueType.STRING) wrongType(key, v, "a string");
  return v.value;
}

/** Any numeric type as a number; 64-bit integers must be safe integers. */
export function getNumber(md: GgufMetadata, key: string): number | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  switch (v.type) {
    case GgufValueType.UINT64:
    case GgufValueType.INT64: {
      const n = Number(v.value);
      if (!Number.isSafeInteger(n)) throw new ToolError(key, `metadata value ${v.value} is too large for a number`);
      return n;
    }
    case GgufValueType.STRING:
    case GgufValueType.ARRAY:
    case GgufValueType.BOOL:
      return wrongType(key, v, "a number");
    default:
      return v.value;
  }
}

/** An integer of any width as a bigint. */
export function getBigInt(md: GgufMetadata, key: string): bigint | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (v.type === GgufValueType.UINT64 || v.type === GgufValueType.INT64) return v.value;
  if (v.type === GgufValueType.FLOAT32 || v.type === GgufValueType.FLOAT64) wrongType(key, v, "an integer");
  const n = getNumber(md, key)!;
  return BigInt(n);
}

export function getBoolean(md: GgufMetadata, key: string): boolean | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (v.type !== GgufValueType.BOOL) wrongType(key, v, "a bool");
  return v.value;
}

/** An array value (possibly lazy: decode with readGgufArrayItems). */
export function getArray(md: GgufMetadata, key: string): GgufArrayValue | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (v.type !== GgufValueType.ARRAY) wrongType(key, v, "an array");
  return v.value;
}

/** `general.architecture`, the prefix of the model's own keys (`llama`, `qwen3`, ...). */
export function getArchitecture(md: GgufMetadata): string | undefined {
  return getString(md, "general.architecture");
}

/** A number under the architecture's prefix, e.g. getArchNumber(md, "context_length"). */
export function getArchNumber(md: GgufMetadata, suffix: string): number | undefined {
  const arch = getArchitecture(md);
  return arch === undefined ? undefined : getNumber(md, `${arch}.${suffix}`);
}

/** A string under the architecture's prefix, e.g. getArchString(md, "rope.scaling.type"). */
export function getArchString(md: GgufMetadata, suffix: string): string | undefined {
  const arch = getArchitecture(md);
  return arch === undefined ? undefined : getString(md, `${arch}.${suffix}`);
}
