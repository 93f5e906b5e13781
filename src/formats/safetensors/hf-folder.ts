/**
 * A Hugging Face model folder as one model: config.json, and the weights as a single
 * model.safetensors or as shards listed in model.safetensors.index.json. Only headers are read;
 * the converter reads each tensor's bytes from (file, fileOffset, byteLength).
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { ToolError } from "../errors.ts";
import { fsError } from "../file.ts";
import { printable, printableJson } from "../printable.ts";
import { readSafetensorsHeader } from "./reader.ts";
import type { HfModel, HfTensor, SafetensorsFile } from "./types.ts";

const INDEX_FILE = "model.safetensors.index.json";
const SINGLE_FILE = "model.safetensors";

export async function openHfFolder(dir: string): Promise<HfModel> {
  let st;
  try {
    st = await stat(dir);
  } catch (err) {
    throw fsError(dir, err);
  }
  if (!st.isDirectory()) throw new ToolError(dir, "is not a folder");
  const config = await readJsonObject(join(dir, "config.json"));
  const architectures = config.architectures;
  const architecture = Array.isArray(architectures) && typeof architectures[0] === "string" ? architectures[0] : undefined;

  const entries = await readdir(dir).catch((err) => {
    throw fsError(dir, err);
  });
  const tensors = new Map<string, HfTensor>();
  let files: SafetensorsFile[];
  if (entries.includes(INDEX_FILE)) {
    files = await readIndexedShards(dir, tensors);
  } else {
    // a single model.safetensors, else every *.safetensors in the folder (unindexed shards)
    const names = entries.includes(SINGLE_FILE) ? [SINGLE_FILE] : entries.filter((f) => f.endsWith(".safetensors")).sort();
    if (names.length === 0) throw new ToolError(dir, `no weights: neither ${SINGLE_FILE} nor ${INDEX_FILE} nor any .safetensors file`);
    files = await Promise.all(names.map((n) => readSafetensorsHeader(join(dir, n))));
    for (const f of files) {
      for (const t of f.tensors) {
        if (tensors.has(t.name)) throw new ToolError(f.path, `tensor ${printable(t.name)} is also in ${basename(tensors.get(t.name)!.file)}`);
        tensors.set(t.name, { ...t, file: f.path });
      }
    }
  }
  let parameterCount = 0;
  for (const t of tensors.values()) parameterCount += t.shape.reduce((a, b) => a * b, 1);
  const totalBytes = files.reduce((sum, f) => sum + f.fileSize, 0);
  return { dir, config, architecture, files, tensors, parameterCount, totalBytes };
}

/** Reads every shard the index names; each indexed tensor must be in the shard the index says. */
async function readIndexedShards(dir: string, tensors: Map<string, HfTensor>): Promise<SafetensorsFile[]> {
  const indexPath = join(dir, INDEX_FILE);
  const index = await readJsonObject(indexPath);
  const weightMap = index.weight_map;
  if (typeof weightMap !== "object" || weightMap === null || Array.isArray(weightMap)) {
    throw new ToolError(indexPath, "has no weight_map object");
  }
  const shardNames: string[] = [];
  for (const [name, shard] of Object.entries(weightMap)) {
    // a shard is a file in this folder, never a path that could lead elsewhere
    if (typeof shard !== "string" || shard !== basename(shard) || shard === "." || shard === "..") {
      throw new ToolError(indexPath, `weight_map entry of ${printable(name)} is not a file name: ${printableJson(shard)}`);
    }
    if (!shardNames.includes(shard)) shardNames.push(shard);
  }
  shardNames.sort();
  const files = await Promise.all(
    shardNames.map(async (shard) => {
      const path = join(dir, shard);
      try {
        return await readSafetensorsHeader(path);
      } catch (err) {
        if (err instanceof ToolError && err.detail === "no such file or directory") {
          throw new ToolError(path, `missing: shard listed in ${INDEX_FILE}`);
        }
        throw err;
      }
    }),
  );
  const byShard = new Map(files.map((f, i) => [shardNames[i], new Map(f.tensors.map((t) => [t.name, t]))]));
  for (const f of files) {
    const shard = basename(f.path);
    for (const t of f.tensors) {
      // shard order, then header order; tensors the index does not list are not part of the model
      if ((weightMap as Record<string, string>)[t.name] === shard) tensors.set(t.name, { ...t, file: f.path });
    }
  }
  for (const [name, shard] of Object.entries(weightMap as Record<string, string>)) {
    if (!byShard.get(shard)!.has(name)) throw new ToolError(join(dir, shard), `tensor ${printable(name)} listed in ${INDEX_FILE} is not in this shard`);
  }
  return files;
}

/** config.json and the index are kilobytes; anything this large is not one. */
const MAX_JSON_BYTES = 100_000_000;

export async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    const { size } = await stat(path);
    if (size > MAX_JSON_BYTES) throw new ToolError(path, `is ${size} bytes, too large for a JSON settings file`);
    text = await readFile(path, "utf8");
  } catch (err) {
    throw fsError(path, err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ToolError(path, `not valid JSON (${(err as Error).message.split("\n")[0]})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new ToolError(path, "is not a JSON object");
  return json as Record<string, unknown>;
}
