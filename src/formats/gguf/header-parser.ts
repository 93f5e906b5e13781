/**
 * GGUF header decoding over a sliding window of the file. Positions are absolute file offsets.
 * When a read needs bytes beyond the window, the window moves to the current position and is
 * refilled with one positioned read of at least `WINDOW_BYTES` (synchronous: the parse is one
 * pass with no restarts, and blocks only for a page-cache read). Bytes behind the position are
 * never needed again (strings are decoded at once, lazy arrays keep file offsets), so memory is
 * one window, and lazily skipped fixed-size arrays are never read at all. Anything that would
 * run past the END OF THE FILE is a ToolError naming the byte, checked before any allocation.
 */
import { readSync } from "node:fs";
import { ToolError } from "../errors.ts";
import { fsError } from "../file.ts";
import { GGUF_VALUE_SIZE, GgufValueType, isGgufValueType, type GgufArrayItems, type GgufArrayValue, type GgufValue } from "./types.ts";

/** Lazy string arrays remember the file offset of every this-many-th item (itemOffsets). */
export const STRING_OFFSET_STRIDE = 1024;

/** The least a refill reads: a few such reads cover a real header. */
export const WINDOW_BYTES = 1 << 20;

/** Arrays may nest (the format allows it, ggml does not); a bound keeps corrupt files off the stack. */
const MAX_ARRAY_DEPTH = 8;
/**
 * Far above any real header (the largest vocabularies have ~260k tokens, templates a few KB) and
 * far below what would exhaust memory, whatever the file size: a corrupt length in a 40 GB model
 * must not become a 40 GB allocation or a billion-step loop.
 */
export const MAX_ARRAY_ITEMS = 1 << 26;
export const MAX_STRING_BYTES = 1 << 26;

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** `what`, or `what[index]` for an array item; `length` follows for length prefixes. */
function label(what: string, index: number): string {
  return index < 0 ? what : `${what}[${index}]`;
}

export interface ParserOptions {
  /** arrays longer than this stay lazy (items undefined); Infinity decodes everything */
  lazyArrayThreshold: number;
  /** GGUF v1 stores lengths and counts as uint32, v2/v3 as uint64 */
  sizeBytes: 4 | 8;
  /** the least one refill reads (default WINDOW_BYTES; smaller for picking out one item) */
  windowBytes?: number;
}

export class GgufHeaderParser {
  pos: number;
  private buf: Buffer;
  private view: DataView;
  /** absolute file offsets of the window: [base, end) */
  private base: number;
  private end: number;

  constructor(
    readonly path: string,
    /** an open descriptor of the file, for refills */
    private readonly fd: number,
    readonly fileSize: number,
    readonly options: ParserOptions,
    start = 0,
  ) {
    this.pos = start;
    this.base = start;
    this.end = start;
    this.buf = Buffer.alloc(0);
    this.view = new DataView(this.buf.buffer);
  }

  /** Moves the window to the current position and fills it with at least `n` bytes. */
  private refill(n: number): void {
    const length = Math.min(Math.max(n, this.options.windowBytes ?? WINDOW_BYTES), this.fileSize - this.pos);
    // reuse the buffer when it is big enough (fewer large allocations, less GC), else grow it
    const next = length <= this.buf.length ? this.buf : Buffer.allocUnsafeSlow(length);
    // keep what we already have from pos on, read the rest
    let have = 0;
    if (this.pos < this.end) have = this.buf.copy(next, 0, this.pos - this.base, this.end - this.base);
    while (have < length) {
      let got: number;
      try {
        got = readSync(this.fd, next, have, length - have, this.pos + have);
      } catch (err) {
        throw fsError(this.path, err);
      }
      if (got === 0) throw new ToolError(this.path, `file ended at byte ${this.pos + have} while reading (was it changed?)`);
      have += got;
    }
    if (next !== this.buf) {
      this.buf = next;
      this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
    }
    this.base = this.pos;
    this.end = this.pos + length;
  }

  /** Bytes of the window as latin1 (for showing a wrong magic). */
  latin1(from: number, to: number): string {
    return this.buf.toString("latin1", from - this.base, to - this.base);
  }

  fail(detail: string, at: number = this.pos): never {
    throw new ToolError(this.path, `${detail} at byte ${at}`);
  }

  /** Makes sure `n` bytes from the current position are in the file and in the window. */
  need(n: number, what: string, index = -1): void {
    const end = this.pos + n;
    if (end > this.fileSize) {
      this.fail(`${label(what, index)} (${n} bytes) runs past the end of the file (${this.fileSize} bytes)`);
    }
    if (end > this.end) this.refill(n);
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos - this.base, true);
    this.pos += 4;
    return v;
  }

  /** A uint64 that must be a safe integer (offsets, dimensions); an error beyond 2^53. */
  u64(what: string, index = -1, suffix = ""): number {
    this.need(8, what, index);
    const at = this.pos - this.base;
    const lo = this.view.getUint32(at, true);
    const hi = this.view.getUint32(at + 4, true);
    if (hi >= 0x200000) this.fail(`${label(what, index)}${suffix} ${this.view.getBigUint64(at, true)} is too large`);
    this.pos += 8;
    return hi * 0x100000000 + lo;
  }

  /** A length or count: uint32 in v1, uint64 after. */
  size(what: string, index = -1, suffix = ""): number {
    return this.options.sizeBytes === 8 ? this.u64(what, index, suffix) : this.u32(label(what, index) + suffix);
  }

  /**
   * A count of items each at least `minItemBytes` long, checked against the bytes left in the
   * file before anyone allocates for it.
   */
  count(what: string, minItemBytes: number): number {
    const at = this.pos;
    const n = this.size(what);
    if (n * minItemBytes > this.fileSize - this.pos) {
      this.fail(`${what} ${n} needs at least ${n * minItemBytes} bytes but only ${this.fileSize - this.pos} remain`, at);
    }
    return n;
  }

  /**
   * A string; `index` >= 0 names an array item. Labels for messages are built only on failure:
   * a vocabulary has 150k strings, and a template string per item would dominate the parse.
   */
  string(what: string, index = -1): string {
    const n = this.stringLength(what, index);
    this.need(n, what, index);
    const start = this.pos - this.base;
    this.pos += n;
    return this.buf.toString("utf8", start, start + n);
  }

  /**
   * Skips `length` strings by their length prefixes (the hot loop of a lazy vocabulary: plain
   * reads, no calls, unless a prefix is outside the window or suspicious).
   */
  skipStrings(what: string, length: number, firstIndex = 0, offsets?: number[]): void {
    for (let i = firstIndex; i < firstIndex + length; i++) {
      if (offsets !== undefined && i % STRING_OFFSET_STRIDE === 0) offsets.push(this.pos);
      const at = this.pos - this.base;
      if (this.pos + 8 <= this.end && this.view.getUint32(at + 4, true) === 0) {
        const n = this.view.getUint32(at, true);
        if (n <= MAX_STRING_BYTES && this.pos + 8 + n <= this.fileSize) {
          this.pos += 8 + n;
          continue;
        }
      }
      // refill, or the error naming this string
      const n = this.stringLength(what, i);
      this.pos += n;
    }
  }

  private stringLength(what: string, index: number): number {
    const at = this.pos;
    const n = this.size(what, index, " length");
    if (n > this.fileSize - this.pos) {
      this.fail(`${label(what, index)} length ${n} runs past the end of the file (${this.fileSize} bytes)`, at);
    }
    if (n > MAX_STRING_BYTES) this.fail(`${label(what, index)} length ${n} is over the ${MAX_STRING_BYTES}-byte limit for a string`, at);
    return n;
  }

  valueType(what: string): GgufValueType {
    const at = this.pos;
    const t = this.u32(what);
    if (!isGgufValueType(t)) this.fail(`${what} ${t} is not a GGUF value type`, at);
    return t;
  }

  value(type: GgufValueType, what: string, depth = 0): GgufValue {
    switch (type) {
      case GgufValueType.STRING:
        return { type, value: this.string(what) };
      case GgufValueType.ARRAY:
        return { type, value: this.array(what, depth) };
      case GgufValueType.UINT64:
      case GgufValueType.INT64: {
        this.need(8, what);
        const at = this.pos - this.base;
        this.pos += 8;
        const value = type === GgufValueType.UINT64 ? this.view.getBigUint64(at, true) : this.view.getBigInt64(at, true);
        return { type, value };
      }
      case GgufValueType.BOOL: {
        this.need(1, what);
        return { type, value: this.buf[this.pos++ - this.base] !== 0 };
      }
      default: {
        const size = GGUF_VALUE_SIZE[type]!;
        this.need(size, what);
        const value = this.scalar(type, this.pos - this.base);
        this.pos += size;
        return { type, value } as GgufValue;
      }
    }
  }

  private scalar(type: GgufValueType, at: number): number {
    const v = this.view;
    switch (type) {
      case GgufValueType.UINT8: return v.getUint8(at);
      case GgufValueType.INT8: return v.getInt8(at);
      case GgufValueType.UINT16: return v.getUint16(at, true);
      case GgufValueType.INT16: return v.getInt16(at, true);
      case GgufValueType.UINT32: return v.getUint32(at, true);
      case GgufValueType.INT32: return v.getInt32(at, true);
      case GgufValueType.FLOAT32: return v.getFloat32(at, true);
      case GgufValueType.FLOAT64: return v.getFloat64(at, true);
      default: throw new Error(`not a scalar type ${type}`);
    }
  }

  array(what: string, depth: number): GgufArrayValue {
    if (depth >= MAX_ARRAY_DEPTH) this.fail(`${what}: arrays nested more than ${MAX_ARRAY_DEPTH} deep`);
    const itemType = this.valueType(`${what} item type`);
    const length = this.arrayLength(what, itemType);
    const fileOffset = this.pos;
    // v1 lengths inside lazy arrays would need the version later; v1 files are small, decode them
    const lazy = length > this.options.lazyArrayThreshold && this.options.sizeBytes === 8;
    if (lazy) {
      if (itemType === GgufValueType.STRING) {
        const offsets: number[] = [];
        this.skipStrings(what, length, 0, offsets);
        return { itemType, length, fileOffset, byteLength: this.pos - fileOffset, itemOffsets: { stride: STRING_OFFSET_STRIDE, offsets } };
      }
      this.skipItems(itemType, length, what, depth);
      return { itemType, length, fileOffset, byteLength: this.pos - fileOffset };
    }
    const items = this.items(itemType, length, what, depth);
    return { itemType, length, items, fileOffset, byteLength: this.pos - fileOffset };
  }

  private skipItems(itemType: GgufValueType, length: number, what: string, depth: number): void {
    const itemSize = GGUF_VALUE_SIZE[itemType];
    if (itemSize !== undefined) {
      // checked by count(): the bytes are in the file; they need not be in the window
      this.pos += length * itemSize;
    } else if (itemType === GgufValueType.STRING) {
      this.skipStrings(what, length);
    } else {
      for (let i = 0; i < length; i++) this.skipArray(`${what}[${i}]`, depth + 1);
    }
  }

  private skipArray(what: string, depth: number): void {
    if (depth >= MAX_ARRAY_DEPTH) this.fail(`${what}: arrays nested more than ${MAX_ARRAY_DEPTH} deep`);
    const itemType = this.valueType(`${what} item type`);
    const length = this.arrayLength(what, itemType);
    this.skipItems(itemType, length, what, depth);
  }

  /** An array's length: within the file and within MAX_ARRAY_ITEMS. */
  private arrayLength(what: string, itemType: GgufValueType): number {
    const at = this.pos;
    const length = this.count(`${what} length`, this.minItemBytes(itemType));
    if (length > MAX_ARRAY_ITEMS) this.fail(`${what} length ${length} is over the limit of ${MAX_ARRAY_ITEMS} items`, at);
    return length;
  }

  /** The smallest an item can be on disk: its fixed size, an empty string, an empty array. */
  private minItemBytes(itemType: GgufValueType): number {
    const s = this.options.sizeBytes;
    return GGUF_VALUE_SIZE[itemType] ?? (itemType === GgufValueType.STRING ? s : 4 + s);
  }

  /** Decodes `length` items: string[] for strings, typed arrays for numbers. */
  items(itemType: GgufValueType, length: number, what: string, depth: number): GgufArrayItems {
    const itemSize = GGUF_VALUE_SIZE[itemType];
    if (itemSize !== undefined) {
      this.need(length * itemSize, what);
      const start = this.pos - this.base;
      this.pos += length * itemSize;
      return this.fixedItems(itemType, start, length);
    }
    if (itemType === GgufValueType.STRING) {
      const out = new Array<string>(length);
      for (let i = 0; i < length; i++) out[i] = this.string(what, i);
      return out;
    }
    const out = new Array<GgufArrayValue>(length);
    for (let i = 0; i < length; i++) out[i] = this.array(`${what}[${i}]`, depth + 1);
    return out;
  }

  private fixedItems(itemType: GgufValueType, start: number, length: number): GgufArrayItems {
    if (itemType === GgufValueType.BOOL) {
      const out = new Array<boolean>(length);
      for (let i = 0; i < length; i++) out[i] = this.buf[start + i] !== 0;
      return out;
    }
    const bytes = length * GGUF_VALUE_SIZE[itemType]!;
    // one copy into a fresh (aligned) ArrayBuffer; GGUF is little-endian like every host Node runs on
    const copy = HOST_LITTLE_ENDIAN ? this.buf.buffer.slice(this.buf.byteOffset + start, this.buf.byteOffset + start + bytes) : undefined;
    switch (itemType) {
      case GgufValueType.UINT8: return new Uint8Array(copy ?? this.swapped(start, bytes, 1));
      case GgufValueType.INT8: return new Int8Array(copy ?? this.swapped(start, bytes, 1));
      case GgufValueType.UINT16: return new Uint16Array(copy ?? this.swapped(start, bytes, 2));
      case GgufValueType.INT16: return new Int16Array(copy ?? this.swapped(start, bytes, 2));
      case GgufValueType.UINT32: return new Uint32Array(copy ?? this.swapped(start, bytes, 4));
      case GgufValueType.INT32: return new Int32Array(copy ?? this.swapped(start, bytes, 4));
      case GgufValueType.FLOAT32: return new Float32Array(copy ?? this.swapped(start, bytes, 4));
      case GgufValueType.UINT64: return new BigUint64Array(copy ?? this.swapped(start, bytes, 8));
      case GgufValueType.INT64: return new BigInt64Array(copy ?? this.swapped(start, bytes, 8));
      case GgufValueType.FLOAT64: return new Float64Array(copy ?? this.swapped(start, bytes, 8));
      default: throw new Error(`not a fixed-size type ${itemType}`);
    }
  }

  /** Little-endian bytes reordered for a big-endian host. */
  private swapped(start: number, bytes: number, width: number): ArrayBuffer {
    const out = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i += width) {
      for (let j = 0; j < width; j++) out[i + j] = this.buf[start + i + width - 1 - j];
    }
    return out.buffer;
  }
}
