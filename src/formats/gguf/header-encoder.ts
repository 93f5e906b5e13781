/**
 * Serialises a GGUF header (magic, version, counts, key/value pairs, tensor infos) into bytes,
 * exactly as ggml's gguf writer lays it out (quantization-and-gguf.md §8). Pure and synchronous:
 * the streaming writer hands the result to the file in one buffered write.
 */
import { GGUF_MAGIC, GgufValueType, type GgufArrayValue, type GgufMetadata, type GgufValue } from "./types.ts";

export interface EncodedTensorInfo {
  name: string;
  /** dimensions written as given, ne0 first */
  shape: number[];
  type: number;
  /** offset relative to the data section */
  offset: number;
}

/** A growable little-endian byte buffer. */
class ByteBuilder {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private pos = 0;

  private reserve(n: number): number {
    if (this.pos + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < this.pos + n) size *= 2;
      const next = Buffer.allocUnsafe(size);
      this.buf.copy(next, 0, 0, this.pos);
      this.buf = next;
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  // reserve() before naming this.buf: it may replace the buffer
  u8(v: number) { const at = this.reserve(1); this.buf.writeUInt8(v, at); }
  i8(v: number) { const at = this.reserve(1); this.buf.writeInt8(v, at); }
  u16(v: number) { const at = this.reserve(2); this.buf.writeUInt16LE(v, at); }
  i16(v: number) { const at = this.reserve(2); this.buf.writeInt16LE(v, at); }
  u32(v: number) { const at = this.reserve(4); this.buf.writeUInt32LE(v, at); }
  i32(v: number) { const at = this.reserve(4); this.buf.writeInt32LE(v, at); }
  f32(v: number) { const at = this.reserve(4); this.buf.writeFloatLE(v, at); }
  f64(v: number) { const at = this.reserve(8); this.buf.writeDoubleLE(v, at); }
  u64(v: bigint) { const at = this.reserve(8); this.buf.writeBigUInt64LE(v, at); }
  i64(v: bigint) { const at = this.reserve(8); this.buf.writeBigInt64LE(v, at); }

  string(s: string) {
    const n = Buffer.byteLength(s, "utf8");
    this.u64(BigInt(n));
    const at = this.reserve(n);
    this.buf.write(s, at, n, "utf8");
  }

  bytes(b: Uint8Array) {
    const at = this.reserve(b.byteLength);
    this.buf.set(b, at);
  }

  result(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

type Items = NonNullable<GgufArrayValue["items"]>;

function toBigInt(v: number | bigint): bigint {
  return typeof v === "bigint" ? v : BigInt(v);
}

/** Writes one value of a fixed-size or string type (no type tag). */
function writeScalar(out: ByteBuilder, type: GgufValueType, v: unknown): void {
  switch (type) {
    case GgufValueType.UINT8: return out.u8(v as number);
    case GgufValueType.INT8: return out.i8(v as number);
    case GgufValueType.UINT16: return out.u16(v as number);
    case GgufValueType.INT16: return out.i16(v as number);
    case GgufValueType.UINT32: return out.u32(v as number);
    case GgufValueType.INT32: return out.i32(v as number);
    case GgufValueType.FLOAT32: return out.f32(v as number);
    case GgufValueType.FLOAT64: return out.f64(v as number);
    case GgufValueType.BOOL: return out.u8(v ? 1 : 0);
    case GgufValueType.UINT64: return out.u64(toBigInt(v as number | bigint));
    case GgufValueType.INT64: return out.i64(toBigInt(v as number | bigint));
    case GgufValueType.STRING: return out.string(v as string);
    default: throw new Error(`not a scalar GGUF value type: ${type}`);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Typed arrays whose element type matches the item type are copied as raw bytes (little-endian hosts). */
function rawBytesOf(itemType: GgufValueType, items: Items): Uint8Array | undefined {
  if (!LITTLE_ENDIAN || !ArrayBuffer.isView(items)) return undefined;
  const matches =
    (itemType === GgufValueType.UINT8 && items instanceof Uint8Array) ||
    (itemType === GgufValueType.INT8 && items instanceof Int8Array) ||
    (itemType === GgufValueType.UINT16 && items instanceof Uint16Array) ||
    (itemType === GgufValueType.INT16 && items instanceof Int16Array) ||
    (itemType === GgufValueType.UINT32 && items instanceof Uint32Array) ||
    (itemType === GgufValueType.INT32 && items instanceof Int32Array) ||
    (itemType === GgufValueType.FLOAT32 && items instanceof Float32Array) ||
    (itemType === GgufValueType.FLOAT64 && items instanceof Float64Array) ||
    (itemType === GgufValueType.UINT64 && items instanceof BigUint64Array) ||
    (itemType === GgufValueType.INT64 && items instanceof BigInt64Array);
  return matches ? new Uint8Array(items.buffer, items.byteOffset, items.byteLength) : undefined;
}

function writeArray(out: ByteBuilder, key: string, arr: GgufArrayValue): void {
  const items = arr.items;
  if (items === undefined) {
    throw new Error(`metadata ${key}: array of ${arr.length} items was not loaded (read the header with eagerArrays)`);
  }
  if (items.length !== arr.length) {
    throw new Error(`metadata ${key}: array length ${arr.length} but ${items.length} items`);
  }
  out.u32(arr.itemType);
  out.u64(BigInt(items.length));
  const raw = rawBytesOf(arr.itemType, items);
  if (raw) return out.bytes(raw);
  if (arr.itemType === GgufValueType.ARRAY) {
    for (const nested of items as GgufArrayValue[]) writeArray(out, key, nested);
    return;
  }
  for (let i = 0; i < items.length; i++) writeScalar(out, arr.itemType, items[i]);
}

function writeValue(out: ByteBuilder, key: string, value: GgufValue): void {
  out.u32(value.type);
  if (value.type === GgufValueType.ARRAY) writeArray(out, key, value.value);
  else writeScalar(out, value.type, value.value);
}

/** The GGUF header bytes, without the padding that aligns the data section. */
export function encodeGgufHeader(version: number, metadata: GgufMetadata, tensors: EncodedTensorInfo[]): Buffer {
  const out = new ByteBuilder();
  out.u32(GGUF_MAGIC);
  out.u32(version);
  out.u64(BigInt(tensors.length));
  out.u64(BigInt(metadata.size));
  for (const [key, value] of metadata) {
    out.string(key);
    writeValue(out, key, value);
  }
  for (const t of tensors) {
    out.string(t.name);
    out.u32(t.shape.length);
    for (const d of t.shape) out.u64(BigInt(d));
    out.u32(t.type);
    out.u64(BigInt(t.offset));
  }
  return out.result();
}
