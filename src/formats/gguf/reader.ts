/**
 * Streaming GGUF header reader (quantization-and-gguf.md §8): one pass over a sliding 1 MiB
 * window of positioned reads (header-parser.ts), never the tensor data beyond the last window.
 * Large arrays (tokens, merges, scores) stay lazy by default: strings are skipped by their
 * length prefixes and fixed-size arrays not read at all, so a 150k-token vocabulary costs a few
 * milliseconds; readGgufArrayItems decodes one on demand.
 */
import { ToolError } from "../errors.ts";
import { withRegularFile } from "../file.ts";
import { printable } from "../printable.ts";
import { GgufHeaderParser } from "./header-parser.ts";
import {
  GGML_TYPE_TRAITS,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPE_NAMES,
  GgmlType,
  GgufValueType,
  type GgufArrayItems,
  type GgufArrayValue,
  type GgufHeader,
  type GgufMetadata,
  type GgufTensorInfo,
} from "./types.ts";

export interface ReadGgufOptions {
  /** arrays longer than this stay lazy (decode them with readGgufArrayItems); default 1024 */
  lazyArrayThreshold?: number;
  /** decode every array, whatever its length */
  eagerArrays?: boolean;
}

export const DEFAULT_LAZY_ARRAY_THRESHOLD = 1024;
/**
 * Real models have a few thousand tensors and a few hundred keys; the caps keep a corrupt count
 * in a huge file from allocating an array of a billion entries.
 */
const MAX_TENSORS = 1 << 20;
const MAX_METADATA_KEYS = 1 << 20;
/** ggml's GGML_MAX_DIMS */
const MAX_TENSOR_DIMS = 4;

export async function readGgufHeader(path: string, options: ReadGgufOptions = {}): Promise<GgufHeader> {
  const lazyArrayThreshold = options.eagerArrays ? Infinity : (options.lazyArrayThreshold ?? DEFAULT_LAZY_ARRAY_THRESHOLD);
  return withRegularFile(path, async ({ handle, size }) => parseGgufHeader(path, handle.fd, size, lazyArrayThreshold));
}

/** Decodes a lazy array: string[] for strings, typed arrays for numbers, arrays for nested arrays. */
export async function readGgufArrayItems(path: string, value: GgufArrayValue): Promise<GgufArrayItems> {
  if (value.items !== undefined) return value.items;
  const { fileOffset, byteLength } = value;
  if (fileOffset === undefined || byteLength === undefined) {
    throw new Error("readGgufArrayItems: a lazy array needs its fileOffset and byteLength");
  }
  return withRegularFile(path, async ({ handle, size }) => {
    if (fileOffset + byteLength > size) {
      throw new ToolError(path, `array at byte ${fileOffset} is past the end of the file (${size} bytes); was the file changed?`);
    }
    const parser = new GgufHeaderParser(path, handle.fd, size, { lazyArrayThreshold: Infinity, sizeBytes: 8 }, fileOffset);
    return parser.items(value.itemType, value.length, "array", 0);
  });
}

/**
 * Picks a few strings out of a string array (e.g. the BOS and EOS tokens of a lazy vocabulary)
 * by walking the length prefixes, without decoding the others.
 */
export async function readGgufStringsAt(path: string, value: GgufArrayValue, indices: number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  if (value.itemType !== GgufValueType.STRING) throw new Error("readGgufStringsAt: not a string array");
  const wanted = indices.filter((i) => Number.isInteger(i) && i >= 0 && i < value.length);
  if (value.items !== undefined) {
    for (const i of wanted) out.set(i, (value.items as string[])[i]);
    return out;
  }
  if (wanted.length === 0) return out;
  const { fileOffset, byteLength } = value;
  if (fileOffset === undefined || byteLength === undefined) throw new Error("readGgufStringsAt: a lazy array needs its fileOffset and byteLength");
  return withRegularFile(path, async ({ handle, size }) => {
    if (fileOffset + byteLength > size) {
      throw new ToolError(path, `array at byte ${fileOffset} is past the end of the file (${size} bytes); was the file changed?`);
    }
    // start from the nearest remembered offset at or before each item (a stride beyond the array: its start)
    const { stride, offsets } = value.itemOffsets ?? { stride: value.length + 1, offsets: [fileOffset] };
    for (const i of [...new Set(wanted)].sort((a, b) => a - b)) {
      const k = Math.min(Math.floor(i / stride), offsets.length - 1);
      if (!(offsets[k] >= fileOffset && offsets[k] < fileOffset + byteLength)) throw new Error("readGgufStringsAt: itemOffsets outside the array");
      const p = new GgufHeaderParser(path, handle.fd, size, { lazyArrayThreshold: Infinity, sizeBytes: 8, windowBytes: 64 * 1024 }, offsets[k]);
      p.skipStrings("array", i - k * stride, k * stride);
      out.set(i, p.string("array", i));
    }
    return out;
  });
}

/** Parses the header of the open file `fd`. */
function parseGgufHeader(path: string, fd: number, fileSize: number, lazyArrayThreshold: number): GgufHeader {
  if (fileSize < 8) throw new ToolError(path, `not a GGUF file: only ${fileSize} bytes`);
  // magic and version first, with v3's layout; the version decides the size of lengths
  const start = new GgufHeaderParser(path, fd, fileSize, { lazyArrayThreshold, sizeBytes: 8 });
  if (start.u32("magic") !== GGUF_MAGIC) {
    throw new ToolError(path, `not a GGUF file: starts with ${JSON.stringify(start.latin1(0, 4))} instead of "GGUF"`);
  }
  const version = start.u32("version");
  if ((version & 0xffff) === 0 && version !== 0) {
    throw new ToolError(path, `big-endian GGUF (version ${version >>> 24}) is not supported; convert it to little-endian at byte 4`);
  }
  if (version < 1 || version > 3) throw new ToolError(path, `unsupported GGUF version ${version} at byte 4`);

  const sizeBytes = version === 1 ? 4 : 8;
  const p = version === 1 ? new GgufHeaderParser(path, fd, fileSize, { lazyArrayThreshold, sizeBytes }, 8) : start;
  // smallest tensor info: empty name, n_dims, type, offset; smallest pair: empty key, type, 1 byte
  const tensorCount = p.count("tensor count", sizeBytes + 4 + 4 + 8);
  if (tensorCount > MAX_TENSORS) p.fail(`tensor count ${tensorCount} is over the limit of ${MAX_TENSORS}`, 8);
  const kvCount = p.count("metadata key/value count", sizeBytes + 4 + 1);
  if (kvCount > MAX_METADATA_KEYS) p.fail(`metadata key/value count ${kvCount} is over the limit of ${MAX_METADATA_KEYS}`, 8 + sizeBytes);

  const metadata: GgufMetadata = new Map();
  let alignmentAt = 0;
  for (let i = 0; i < kvCount; i++) {
    const keyAt = p.pos;
    const key = p.string("metadata key");
    const shown = printable(key);
    if (metadata.has(key)) p.fail(`duplicate metadata key ${shown}`, keyAt);
    if (key === "general.alignment") alignmentAt = keyAt;
    const type = p.valueType(`value type of ${shown}`);
    metadata.set(key, p.value(type, shown));
  }
  const alignment = readAlignment(p, metadata, alignmentAt);

  const tensors: GgufTensorInfo[] = new Array(tensorCount);
  const offsetFieldAt: number[] = new Array(tensorCount);
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const infoAt = p.pos;
    const rawName = p.string(`name of tensor ${i}`);
    if (names.has(rawName)) p.fail(`duplicate tensor name ${printable(rawName)}`, infoAt);
    names.add(rawName);
    const name = printable(rawName);
    const dimsAt = p.pos;
    const nDims = p.u32(`dimension count of tensor ${name}`);
    if (nDims > MAX_TENSOR_DIMS) p.fail(`tensor ${name} has ${nDims} dimensions (at most ${MAX_TENSOR_DIMS})`, dimsAt);
    const shape = new Array<number>(nDims);
    let elements = 1;
    for (let d = 0; d < nDims; d++) {
      shape[d] = p.size(`dimension ${d} of tensor ${name}`);
      elements *= shape[d];
    }
    if (!Number.isSafeInteger(elements)) p.fail(`tensor ${name} has too many elements (${shape.join(" x ")})`, dimsAt);
    const typeAt = p.pos;
    const type = p.u32(`type of tensor ${name}`);
    if (GgmlType[type] === undefined) p.fail(`tensor ${name} has unknown ggml type ${type}`, typeAt);
    const traits = GGML_TYPE_TRAITS[type as GgmlType];
    if (traits && nDims > 0 && shape[0] % traits.blockSize !== 0) {
      p.fail(`tensor ${name}: row length ${shape[0]} is not a multiple of ${traits.name}'s block size ${traits.blockSize}`, dimsAt);
    }
    offsetFieldAt[i] = p.pos;
    const offset = p.u64(`data offset of tensor ${name}`);
    // a type we cannot size (newer than our table) gets its size from the layout below
    const size = traits ? (elements / traits.blockSize) * traits.typeSize : -1;
    tensors[i] = { name: rawName, shape, type: type as GgmlType, offset, size };
  }
  const dataOffset = Math.ceil(p.pos / alignment) * alignment;
  checkTensorLayout(p, tensors, offsetFieldAt, dataOffset, alignment);
  return { path, fileSize, version, metadata, tensors, alignment, dataOffset };
}

function readAlignment(p: GgufHeaderParser, metadata: GgufMetadata, at: number): number {
  const v = metadata.get("general.alignment");
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (v.type !== GgufValueType.UINT32) p.fail(`general.alignment has type ${GGUF_VALUE_TYPE_NAMES[v.type]}, must be UINT32`, at);
  const a = v.value as number;
  if (a === 0 || (a & (a - 1)) !== 0) p.fail(`general.alignment ${a} is not a power of two`, at);
  return a;
}

/** Every tensor aligned, inside the file, and not overlapping another (in offset order). */
function checkTensorLayout(p: GgufHeaderParser, tensors: GgufTensorInfo[], offsetFieldAt: number[], dataOffset: number, alignment: number): void {
  const dataBytes = p.fileSize - dataOffset;
  const order = tensors.map((_, i) => i).sort((a, b) => tensors[a].offset - tensors[b].offset);
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    const t = tensors[i];
    if (t.offset % alignment !== 0) {
      p.fail(`tensor ${printable(t.name)}: data offset ${t.offset} is not a multiple of the alignment ${alignment}`, offsetFieldAt[i]);
    }
    if (t.size < 0) {
      const next = k + 1 < order.length ? tensors[order[k + 1]].offset : dataBytes;
      t.size = Math.max(0, next - t.offset);
    }
    if (t.offset + t.size > dataBytes) {
      p.fail(
        `tensor ${printable(t.name)}: data from byte ${dataOffset + t.offset} to ${dataOffset + t.offset + t.size} runs past the end of the file (${p.fileSize} bytes)`,
        offsetFieldAt[i],
      );
    }
    if (k > 0) {
      const prev = tensors[order[k - 1]];
      if (prev.offset + prev.size > t.offset) {
        p.fail(`tensor ${printable(t.name)} overlaps tensor ${printable(prev.name)} (which ends at byte ${dataOffset + prev.offset + prev.size})`, dataOffset + t.offset);
      }
    }
  }
}
