/**
 * Every on-disk structure of GGUF, in one place (as huggingface.js's gguf `types.ts`).
 * Numbers follow ggml: `GgmlType` ids are the `ggml_type` enum, value types the `gguf_type` enum.
 */

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
export const GGUF_DEFAULT_ALIGNMENT = 32;

export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** Byte size of a fixed-size value type; undefined for STRING and ARRAY. */
export const GGUF_VALUE_SIZE: Partial<Record<GgufValueType, number>> = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
  [GgufValueType.FLOAT64]: 8,
};

/** gguf-py's (GGUFValueType) names of the value types, as `inspect --json` prints `itemType`. */
export const GGUF_VALUE_TYPE_NAMES: Record<GgufValueType, string> = {
  [GgufValueType.UINT8]: "UINT8",
  [GgufValueType.INT8]: "INT8",
  [GgufValueType.UINT16]: "UINT16",
  [GgufValueType.INT16]: "INT16",
  [GgufValueType.UINT32]: "UINT32",
  [GgufValueType.INT32]: "INT32",
  [GgufValueType.FLOAT32]: "FLOAT32",
  [GgufValueType.BOOL]: "BOOL",
  [GgufValueType.STRING]: "STRING",
  [GgufValueType.ARRAY]: "ARRAY",
  [GgufValueType.UINT64]: "UINT64",
  [GgufValueType.INT64]: "INT64",
  [GgufValueType.FLOAT64]: "FLOAT64",
};

export function isGgufValueType(t: number): t is GgufValueType {
  return Number.isInteger(t) && t >= 0 && t <= GgufValueType.FLOAT64;
}

export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
  Q2_0 = 42,
}

export interface GgmlTypeTraits {
  /** ggml's name, as printed by gguf-dump and llama.cpp ("Q4_K", "F16", ...) */
  name: string;
  /** values per block */
  blockSize: number;
  /** bytes per block */
  typeSize: number;
}

/**
 * Block geometry of every ggml type we can size (from ggml.c's type_traits).
 * A type missing here can still be listed by `inspect`, but not sized or converted.
 */
export const GGML_TYPE_TRAITS: Partial<Record<GgmlType, GgmlTypeTraits>> = {
  [GgmlType.F32]: { name: "F32", blockSize: 1, typeSize: 4 },
  [GgmlType.F16]: { name: "F16", blockSize: 1, typeSize: 2 },
  [GgmlType.BF16]: { name: "BF16", blockSize: 1, typeSize: 2 },
  [GgmlType.F64]: { name: "F64", blockSize: 1, typeSize: 8 },
  [GgmlType.I8]: { name: "I8", blockSize: 1, typeSize: 1 },
  [GgmlType.I16]: { name: "I16", blockSize: 1, typeSize: 2 },
  [GgmlType.I32]: { name: "I32", blockSize: 1, typeSize: 4 },
  [GgmlType.I64]: { name: "I64", blockSize: 1, typeSize: 8 },
  [GgmlType.Q4_0]: { name: "Q4_0", blockSize: 32, typeSize: 18 },
  [GgmlType.Q4_1]: { name: "Q4_1", blockSize: 32, typeSize: 20 },
  [GgmlType.Q5_0]: { name: "Q5_0", blockSize: 32, typeSize: 22 },
  [GgmlType.Q5_1]: { name: "Q5_1", blockSize: 32, typeSize: 24 },
  [GgmlType.Q8_0]: { name: "Q8_0", blockSize: 32, typeSize: 34 },
  [GgmlType.Q8_1]: { name: "Q8_1", blockSize: 32, typeSize: 36 },
  [GgmlType.Q2_K]: { name: "Q2_K", blockSize: 256, typeSize: 84 },
  [GgmlType.Q3_K]: { name: "Q3_K", blockSize: 256, typeSize: 110 },
  [GgmlType.Q4_K]: { name: "Q4_K", blockSize: 256, typeSize: 144 },
  [GgmlType.Q5_K]: { name: "Q5_K", blockSize: 256, typeSize: 176 },
  [GgmlType.Q6_K]: { name: "Q6_K", blockSize: 256, typeSize: 210 },
  [GgmlType.Q8_K]: { name: "Q8_K", blockSize: 256, typeSize: 292 },
  [GgmlType.IQ2_XXS]: { name: "IQ2_XXS", blockSize: 256, typeSize: 66 },
  [GgmlType.IQ2_XS]: { name: "IQ2_XS", blockSize: 256, typeSize: 74 },
  [GgmlType.IQ3_XXS]: { name: "IQ3_XXS", blockSize: 256, typeSize: 98 },
  [GgmlType.IQ1_S]: { name: "IQ1_S", blockSize: 256, typeSize: 50 },
  [GgmlType.IQ4_NL]: { name: "IQ4_NL", blockSize: 32, typeSize: 18 },
  [GgmlType.IQ3_S]: { name: "IQ3_S", blockSize: 256, typeSize: 110 },
  [GgmlType.IQ2_S]: { name: "IQ2_S", blockSize: 256, typeSize: 82 },
  [GgmlType.IQ4_XS]: { name: "IQ4_XS", blockSize: 256, typeSize: 136 },
  [GgmlType.IQ1_M]: { name: "IQ1_M", blockSize: 256, typeSize: 56 },
  [GgmlType.TQ1_0]: { name: "TQ1_0", blockSize: 256, typeSize: 54 },
  [GgmlType.TQ2_0]: { name: "TQ2_0", blockSize: 256, typeSize: 66 },
  [GgmlType.MXFP4]: { name: "MXFP4", blockSize: 32, typeSize: 17 },
};

/** ggml's name of a type id, or `TYPE_<id>` for an id we do not know. */
export function ggmlTypeName(type: number): string {
  return GGML_TYPE_TRAITS[type as GgmlType]?.name ?? `TYPE_${type}`;
}

/** Bytes taken by `count` values of `type` (count must be a multiple of the block size). */
export function ggmlByteSize(type: GgmlType, count: number): number {
  const t = GGML_TYPE_TRAITS[type];
  if (!t) throw new Error(`unknown ggml type ${type}`);
  return (count / t.blockSize) * t.typeSize;
}

/** A decoded array value. Large numeric arrays use typed arrays; strings are string[]. */
export type GgufArrayItems =
  | string[]
  | boolean[]
  | number[]
  | bigint[]
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array
  | GgufArrayValue[];

/** An array as the reader found it: items decoded, or left in the file (lazy) for big arrays. */
export interface GgufArrayValue {
  itemType: GgufValueType;
  length: number;
  /** decoded items; undefined while lazy */
  items?: GgufArrayItems;
  /** absolute file offset of the first element and the byte length of all elements (reader only) */
  fileOffset?: number;
  byteLength?: number;
  /**
   * Lazy string arrays (reader only): the file offset of items 0, stride, 2 x stride, ... so one
   * item (a BOS token) can be found without walking the whole array.
   */
  itemOffsets?: { stride: number; offsets: number[] };
}

/**
 * One metadata value with its on-disk type. UINT64/INT64 are always bigint, the other
 * numeric types number, so writing a value back gives the same bytes.
 */
export type GgufValue =
  | { type: GgufValueType.UINT8 | GgufValueType.INT8 | GgufValueType.UINT16 | GgufValueType.INT16 | GgufValueType.UINT32 | GgufValueType.INT32 | GgufValueType.FLOAT32 | GgufValueType.FLOAT64; value: number }
  | { type: GgufValueType.UINT64 | GgufValueType.INT64; value: bigint }
  | { type: GgufValueType.BOOL; value: boolean }
  | { type: GgufValueType.STRING; value: string }
  | { type: GgufValueType.ARRAY; value: GgufArrayValue };

/** Metadata in file order (a Map keeps insertion order, which the writer reproduces). */
export type GgufMetadata = Map<string, GgufValue>;

export interface GgufTensorInfo {
  name: string;
  /** dimensions in GGUF order (ne0, the row length, first) */
  shape: number[];
  type: GgmlType;
  /** byte offset relative to the start of the data section */
  offset: number;
  /** byte size of the tensor's data (without padding) */
  size: number;
}

export interface GgufHeader {
  path: string;
  fileSize: number;
  version: number;
  metadata: GgufMetadata;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** absolute file offset of the data section */
  dataOffset: number;
}
