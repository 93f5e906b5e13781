/**
 * safetensors header reader: one read of the 8-byte length, one of the JSON header, never the
 * data. Validates as the reference implementation does: header at most 100 MB, every dtype
 * known, byte length = product(shape) × dtype size, offsets inside the data, no overlap.
 */
import { ToolError } from "../errors.ts";
import { readExactly, withRegularFile } from "../file.ts";
import { printable, printableJson } from "../printable.ts";
import { SAFETENSORS_DTYPE_SIZE, SAFETENSORS_MAX_HEADER_BYTES, type SafetensorsDtype, type SafetensorsFile, type SafetensorsTensor } from "./types.ts";

export async function readSafetensorsHeader(path: string): Promise<SafetensorsFile> {
  return withRegularFile(path, async ({ handle, size }) => {
    if (size < 8) throw new ToolError(path, `not a safetensors file: only ${size} bytes`);
    const lengthBytes = Buffer.alloc(8);
    await readExactly(path, handle, lengthBytes, 0, 8, 0);
    const headerLength = lengthBytes.readBigUInt64LE(0);
    if (headerLength > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
      throw new ToolError(path, `header length ${headerLength} at byte 0 is over the 100 MB limit (not a safetensors file?)`);
    }
    const n = Number(headerLength);
    if (8 + n > size) throw new ToolError(path, `header length ${n} at byte 0 runs past the end of the file (${size} bytes)`);
    const header = Buffer.allocUnsafe(n);
    await readExactly(path, handle, header, 0, n, 8);
    return parseHeader(path, header, size);
  });
}

function parseHeader(path: string, header: Buffer, fileSize: number): SafetensorsFile {
  let json: unknown;
  try {
    json = JSON.parse(header.toString("utf8"));
  } catch (err) {
    throw new ToolError(path, `header at byte 8 is not valid JSON (${(err as Error).message.split("\n")[0]})`);
  }
  if (!isObject(json)) throw new ToolError(path, "header at byte 8 is not a JSON object");
  const dataOffset = 8 + header.length;
  const dataBytes = fileSize - dataOffset;
  let metadata: Record<string, string> = {};
  const tensors: SafetensorsTensor[] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === "__metadata__") {
      metadata = readMetadata(path, entry);
      continue;
    }
    tensors.push(readTensorEntry(path, name, entry, dataOffset, dataBytes));
  }
  checkNoOverlap(path, tensors);
  return { path, fileSize, dataOffset, metadata, tensors };
}

function readMetadata(path: string, entry: unknown): Record<string, string> {
  if (!isObject(entry)) throw new ToolError(path, "__metadata__ is not a JSON object");
  for (const [k, v] of Object.entries(entry)) {
    if (typeof v !== "string") throw new ToolError(path, `__metadata__ value of ${printable(k)} is not a string`);
  }
  return entry as Record<string, string>;
}

function readTensorEntry(path: string, name: string, entry: unknown, dataOffset: number, dataBytes: number): SafetensorsTensor {
  const bad = (what: string): never => {
    throw new ToolError(path, `tensor ${printable(name)}: ${what}`);
  };
  if (!isObject(entry)) bad("entry is not a JSON object");
  const { dtype, shape, data_offsets: offsets } = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== "string" || !Object.hasOwn(SAFETENSORS_DTYPE_SIZE, dtype)) bad(`unknown dtype ${printableJson(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isCount)) bad(`shape ${printableJson(shape)} is not a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) bad(`data_offsets ${printableJson(offsets)} is not [begin, end]`);
  const [begin, end] = offsets as [number, number];
  if (begin > end) bad(`data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataBytes) bad(`data ends at byte ${dataOffset + end}, past the end of the file (${dataOffset + dataBytes} bytes)`);
  const elements = (shape as number[]).reduce((a, b) => a * b, 1);
  const byteLength = elements * SAFETENSORS_DTYPE_SIZE[dtype as SafetensorsDtype];
  if (!Number.isSafeInteger(byteLength) || byteLength !== end - begin) bad(`shape ${printableJson(shape)} of ${dtype} needs ${byteLength} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], fileOffset: dataOffset + begin, byteLength };
}

function checkNoOverlap(path: string, tensors: SafetensorsTensor[]): void {
  const sorted = tensors.filter((t) => t.byteLength > 0).sort((a, b) => a.fileOffset - b.fileOffset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const t = sorted[i];
    if (prev.fileOffset + prev.byteLength > t.fileOffset) {
      throw new ToolError(path, `tensor ${printable(t.name)} overlaps tensor ${printable(prev.name)} at byte ${t.fileOffset}`);
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}
