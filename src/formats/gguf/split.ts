/**
 * Split GGUFs (llama.cpp's gguf-split: `name-00001-of-00003.gguf`): every shard is a complete
 * GGUF header; the first carries the model's metadata, `split.no` / `split.count` number them.
 * `readGgufModel` reads a single file or every shard of a split, given any one of them.
 */
import { basename, dirname, join } from "node:path";
import { ToolError } from "../errors.ts";
import { printable } from "../printable.ts";
import { getNumber } from "./metadata.ts";
import { readGgufHeader, type ReadGgufOptions } from "./reader.ts";
import type { GgufHeader, GgufMetadata, GgufTensorInfo } from "./types.ts";

const SHARD_FILE_RE = /^(.+)-(\d{5})-of-(\d{5})\.gguf$/;

export interface GgufShardName {
  /** the file name before `-00001-of-00003.gguf` */
  prefix: string;
  /** 1-based */
  index: number;
  count: number;
}

/** Recognises `name-00001-of-00003.gguf` (by file name only). */
export function parseGgufShardName(path: string): GgufShardName | undefined {
  const m = SHARD_FILE_RE.exec(basename(path));
  if (!m) return undefined;
  const index = Number(m[2]);
  const count = Number(m[3]);
  if (index < 1 || count < 1 || index > count) return undefined;
  return { prefix: m[1], index, count };
}

export function ggufShardFileName(prefix: string, index: number, count: number): string {
  return `${prefix}-${String(index).padStart(5, "0")}-of-${String(count).padStart(5, "0")}.gguf`;
}

export interface GgufModelTensor extends GgufTensorInfo {
  /** index into GgufModel.shards */
  shard: number;
}

export interface GgufModel {
  /** the path given (any shard of a split) */
  path: string;
  /** one header for a plain file, every shard's in order for a split */
  shards: GgufHeader[];
  /** the model's metadata: the first shard's */
  metadata: GgufMetadata;
  /** every tensor of every shard, in shard order */
  tensors: GgufModelTensor[];
  /** bytes of all shards together */
  fileSize: number;
}

export async function readGgufModel(path: string, options: ReadGgufOptions = {}): Promise<GgufModel> {
  const split = parseGgufShardName(path);
  if (!split || split.count === 1) return modelOf(path, [await readGgufHeader(path, options)]);
  const dir = dirname(path);
  const paths = Array.from({ length: split.count }, (_, i) => join(dir, ggufShardFileName(split.prefix, i + 1, split.count)));
  const shards: GgufHeader[] = [];
  for (let i = 0; i < paths.length; i++) {
    let header: GgufHeader;
    try {
      header = await readGgufHeader(paths[i], options);
    } catch (err) {
      if (err instanceof ToolError && err.detail === "no such file or directory") {
        throw new ToolError(paths[i], `missing: shard ${i + 1} of ${split.count} of ${basename(paths[0])}`);
      }
      throw err;
    }
    const no = getNumber(header.metadata, "split.no");
    const count = getNumber(header.metadata, "split.count");
    if ((no !== undefined && no !== i) || (count !== undefined && count !== split.count)) {
      throw new ToolError(paths[i], `split.no ${no} / split.count ${count} do not match the file name (shard ${i + 1} of ${split.count})`);
    }
    shards.push(header);
  }
  return modelOf(path, shards);
}

function modelOf(path: string, shards: GgufHeader[]): GgufModel {
  const tensors: GgufModelTensor[] = [];
  const seen = new Map<string, number>();
  shards.forEach((h, shard) => {
    for (const t of h.tensors) {
      const other = seen.get(t.name);
      if (other !== undefined) throw new ToolError(h.path, `tensor ${printable(t.name)} is also in ${basename(shards[other].path)}`);
      seen.set(t.name, shard);
      tensors.push({ ...t, shard });
    }
  });
  return { path, shards, metadata: shards[0].metadata, tensors, fileSize: shards.reduce((s, h) => s + h.fileSize, 0) };
}
