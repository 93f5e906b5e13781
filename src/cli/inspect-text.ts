/**
 * Human output of `inspect`: the summary as an aligned two-column block (as `ollama show` does),
 * then optional metadata and tensor tables.
 */
import { ggmlTypeName, GGUF_VALUE_TYPE_NAMES, GgufValueType } from "../formats/gguf/types.ts";
import { ggufValueJson, type JsonValue } from "../inspect/json.ts";
import type { ModelSummary } from "../inspect/summary.ts";
import type { InspectSubject } from "../inspect/target.ts";
import { humanBytes } from "../ollama/human-units.ts";

/** Longer strings are cut in --metadata (--template and --json show them whole). */
const METADATA_STRING_LIMIT = 120;

export function renderSummary(subject: InspectSubject): string {
  const s = subject.summary;
  const rows: Array<[string, string]> = [];
  const add = (label: string, value: string | number | undefined) => {
    if (value !== undefined && value !== "") rows.push([label, String(value)]);
  };
  add("format", formatLine(subject));
  if (subject.kind === "gguf" && subject.ollama) add("model", `${subject.ollama.name} (ID ${subject.ollama.id.slice(0, 12)})`);
  add("architecture", s.architecture);
  add("name", s.name);
  add("parameters", `${s.parameterSize} (${s.parameterCount})`);
  add("file type", s.fileType);
  add("tensors", String(s.tensorCount));
  for (const [i, t] of s.tensorTypes.entries()) rows.push([i === 0 ? "tensor types" : "", typeMixLine(t, s)]);
  add("context length", s.contextLength);
  add("embedding length", s.embeddingLength);
  add("feed forward length", s.feedForwardLength);
  add("layers", s.blockCount);
  if (s.headCount !== undefined) add("heads", s.headCountKv !== undefined ? `${s.headCount} (KV heads ${s.headCountKv})` : s.headCount);
  if (s.rope) add("rope", ropeLine(s.rope));
  if (s.vocabSize !== undefined || s.tokenizerModel !== undefined) add("vocabulary", vocabLine(s));
  if (s.bos) add("BOS token", tokenLine(s.bos));
  if (s.eos) add("EOS token", tokenLine(s.eos));
  add("chat template", s.chatTemplate ? `yes, ${s.chatTemplate.length} chars: ${cut(s.chatTemplate.firstLine, 80)}` : "none");
  add("file size", `${humanBytes(s.fileSize)} (${s.fileSize} bytes${s.files > 1 ? ` in ${s.files} files` : ""})`);
  const lines = [subject.path, ...table(rows, "  ")];
  if (subject.kind === "gguf" && subject.ollama) {
    lines.push("  Ollama layers");
    lines.push(...table(subject.ollama.layers.map((l) => [l.kind, l.digest, humanBytes(l.size)]), "    "));
  }
  return lines.join("\n") + "\n";
}

function formatLine(subject: InspectSubject): string {
  switch (subject.kind) {
    case "gguf": {
      const h = subject.model.shards[0];
      const split = subject.model.shards.length > 1 ? `, split in ${subject.model.shards.length} files` : "";
      return `GGUF v${h.version}${split}`;
    }
    case "safetensors":
      return "safetensors";
    case "hf-folder":
      return `Hugging Face folder, ${subject.model.files.length} safetensors file${subject.model.files.length > 1 ? "s" : ""}`;
  }
}

function typeMixLine(t: ModelSummary["tensorTypes"][number], s: ModelSummary): string {
  const total = s.tensorTypes.reduce((sum, x) => sum + x.bytes, 0);
  const share = total > 0 ? ((100 * t.bytes) / total).toFixed(1) : "0.0";
  return `${t.type.padEnd(8)} ${String(t.tensors).padStart(5)} tensors  ${humanBytes(t.bytes).padStart(8)}  ${share.padStart(5)}%`;
}

function ropeLine(r: NonNullable<ModelSummary["rope"]>): string {
  const parts: string[] = [];
  if (r.freqBase !== undefined) parts.push(`freq base ${r.freqBase}`);
  if (r.dimensionCount !== undefined) parts.push(`dimensions ${r.dimensionCount}`);
  if (r.scalingType !== undefined) parts.push(`scaling ${r.scalingType}`);
  if (r.scalingFactor !== undefined) parts.push(`factor ${r.scalingFactor}`);
  if (r.originalContextLength !== undefined) parts.push(`original context ${r.originalContextLength}`);
  return parts.join(", ");
}

function vocabLine(s: ModelSummary): string {
  const parts: string[] = [];
  if (s.vocabSize !== undefined) parts.push(`${s.vocabSize} tokens`);
  if (s.tokenizerModel !== undefined) parts.push(`tokenizer ${s.tokenizerModel}${s.tokenizerPre ? ` (pre ${s.tokenizerPre})` : ""}`);
  return parts.join(", ");
}

function tokenLine(t: { id: number; token?: string }): string {
  return t.token === undefined ? String(t.id) : `${t.id} ${JSON.stringify(t.token)}`;
}

/** Every metadata key with its type and value; long arrays and strings abbreviated. */
export async function renderMetadata(subject: InspectSubject, full: boolean): Promise<string> {
  if (subject.kind !== "gguf") {
    const md = subject.kind === "safetensors" ? subject.file.metadata : subject.model.config;
    return `metadata\n${table(Object.entries(md).map(([k, v]) => [k, cut(JSON.stringify(v), METADATA_STRING_LIMIT)]), "  ").join("\n")}\n`;
  }
  const path = subject.model.shards[0].path;
  const rows: Array<[string, string, string]> = [];
  for (const [key, value] of subject.model.metadata) {
    const type = value.type === GgufValueType.ARRAY ? `${GGUF_VALUE_TYPE_NAMES[value.type]}[${GGUF_VALUE_TYPE_NAMES[value.value.itemType]}]` : GGUF_VALUE_TYPE_NAMES[value.type];
    let json = await ggufValueJson(path, value, full);
    if (value.type === GgufValueType.FLOAT32) json = shortestFloat32(json);
    else if (value.type === GgufValueType.ARRAY && value.value.itemType === GgufValueType.FLOAT32) json = mapArrayJson(json, shortestFloat32);
    rows.push([key, type, metadataValueText(json, full)]);
  }
  return `metadata (${rows.length} keys)\n${table(rows, "  ").join("\n")}\n`;
}

/** A float32 as the fewest digits that read back as the same float32 (0.95, not 0.949999988079071). */
function shortestFloat32(v: JsonValue): JsonValue {
  if (typeof v !== "number") return v;
  for (let digits = 1; digits < 9; digits++) {
    const text = v.toPrecision(digits);
    if (Math.fround(Number(text)) === v) return Number(text);
  }
  return v;
}

/** Applies `f` to the items of an array value, whole or abbreviated. */
function mapArrayJson(v: JsonValue, f: (x: JsonValue) => JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(f);
  if (v !== null && typeof v === "object" && Array.isArray(v.head)) return { ...v, head: v.head.map(f) };
  return v;
}

function metadataValueText(v: JsonValue, full: boolean): string {
  if (full) return JSON.stringify(v);
  if (v !== null && typeof v === "object" && !Array.isArray(v) && v.type === "array") {
    const head = (v.head as JsonValue[]).map((x) => cut(JSON.stringify(x), 40)).join(", ");
    return `${v.length} items: [${head}, ...]`;
  }
  return cut(JSON.stringify(v), METADATA_STRING_LIMIT);
}

/** One row per tensor: name, type, shape, bytes. */
export function renderTensors(subject: InspectSubject): string {
  const rows: string[][] = [["name", "type", "shape", "bytes"]];
  if (subject.kind === "gguf") {
    for (const t of subject.model.tensors) rows.push([t.name, ggmlTypeName(t.type), t.shape.join(" x "), String(t.size)]);
  } else {
    const tensors = subject.kind === "safetensors" ? subject.file.tensors : [...subject.model.tensors.values()];
    for (const t of tensors) rows.push([t.name, t.dtype, t.shape.join(" x "), String(t.byteLength)]);
  }
  return `tensors (${rows.length - 1})\n${table(rows, "  ").join("\n")}\n`;
}

/** Left-aligned columns, two spaces apart; the last column is not padded. */
function table(rows: string[][], indent: string): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  "));
}

function cut(text: string, max: number): string {
  const oneLine = text.replace(/\n/g, "\\n");
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}
