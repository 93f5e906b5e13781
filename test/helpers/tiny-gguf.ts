/**
 * The tiny llama GGUFs of ollama-observed.md §1, rebuilt with our writer: 2 blocks, n_embd 256,
 * n_ff 512, 4 heads, context 512, an SPM vocabulary (<unk> <s> </s>, byte tokens, 15 word pieces).
 * Weights are zeros (Ollama's config depends only on the architecture, the tensor shapes and the
 * file type); so the GGUF bytes differ from the doc's, the config and text blobs do not.
 */
import { createGgufWriter } from "../../src/formats/gguf/writer.ts";
import { GgmlType, GgufValueType, type GgufMetadata, type GgufValue } from "../../src/formats/gguf/types.ts";

const str = (value: string): GgufValue => ({ type: GgufValueType.STRING, value });
const u32 = (value: number): GgufValue => ({ type: GgufValueType.UINT32, value });
const f32 = (value: number): GgufValue => ({ type: GgufValueType.FLOAT32, value });
const strArray = (items: string[]): GgufValue => ({
  type: GgufValueType.ARRAY,
  value: { itemType: GgufValueType.STRING, length: items.length, items },
});

export interface TinyGgufOptions {
  /** F32 or F16 tensors (norms stay F32 either way) */
  dtype?: "F32" | "F16";
  /** 256 byte tokens (vocab 274) or only 0x00-0x7F (vocab 146, the "ascii" variant) */
  ascii?: boolean;
  /** general.file_type; defaults to 0 for F32, 1 for F16 */
  fileType?: number;
  chatTemplate?: string;
  /** word pieces added to the vocabulary (over 1024 tokens the reader leaves the array lazy) */
  extraTokens?: number;
  /** extra metadata, appended after the tokenizer keys */
  extra?: Array<[string, GgufValue]>;
  /** split.* keys and only these tensors (by index), for making shards */
  split?: { no: number; count: number; tensorIndices: number[] };
}

export interface TinyTensor {
  name: string;
  shape: number[];
  type: GgmlType;
}

export function tinyVocab(ascii: boolean): string[] {
  const bytes = Array.from({ length: ascii ? 128 : 256 }, (_, i) => `<0x${i.toString(16).toUpperCase().padStart(2, "0")}>`);
  const words = ["▁the", "▁a", "▁is", "▁of", "▁and", "▁to", "▁in", "▁it", "▁hi", "▁hello", "s", "ed", "ing", "er", "▁model"];
  return ["<unk>", "<s>", "</s>", ...bytes, ...words];
}

export function tinyTensors(vocab: number, dtype: "F32" | "F16"): TinyTensor[] {
  const w = dtype === "F32" ? GgmlType.F32 : GgmlType.F16;
  const t: TinyTensor[] = [{ name: "token_embd.weight", shape: [256, vocab], type: w }];
  for (let b = 0; b < 2; b++) {
    t.push(
      { name: `blk.${b}.attn_norm.weight`, shape: [256], type: GgmlType.F32 },
      { name: `blk.${b}.attn_q.weight`, shape: [256, 256], type: w },
      { name: `blk.${b}.attn_k.weight`, shape: [256, 256], type: w },
      { name: `blk.${b}.attn_v.weight`, shape: [256, 256], type: w },
      { name: `blk.${b}.attn_output.weight`, shape: [256, 256], type: w },
      { name: `blk.${b}.ffn_norm.weight`, shape: [256], type: GgmlType.F32 },
      { name: `blk.${b}.ffn_gate.weight`, shape: [256, 512], type: w },
      { name: `blk.${b}.ffn_up.weight`, shape: [256, 512], type: w },
      { name: `blk.${b}.ffn_down.weight`, shape: [512, 256], type: w },
    );
  }
  t.push({ name: "output_norm.weight", shape: [256], type: GgmlType.F32 }, { name: "output.weight", shape: [256, vocab], type: w });
  return t;
}

/** Writes the tiny llama GGUF to `path`; returns its sha256 (hex) and size. */
export async function writeTinyGguf(path: string, options: TinyGgufOptions = {}): Promise<{ sha256: string; size: number }> {
  const dtype = options.dtype ?? "F32";
  const tokens = [...tinyVocab(options.ascii ?? false), ...Array.from({ length: options.extraTokens ?? 0 }, (_, i) => `▁w${i}`)];
  const md: GgufMetadata = new Map<string, GgufValue>([
    ["general.architecture", str("llama")],
    ["general.name", str("tiny")],
    ["llama.vocab_size", u32(tokens.length)],
    ["llama.context_length", u32(512)],
    ["llama.embedding_length", u32(256)],
    ["llama.block_count", u32(2)],
    ["llama.feed_forward_length", u32(512)],
    ["llama.rope.dimension_count", u32(64)],
    ["llama.attention.head_count", u32(4)],
    ["llama.attention.head_count_kv", u32(4)],
    ["llama.attention.layer_norm_rms_epsilon", f32(1e-5)],
    ["general.file_type", u32(options.fileType ?? (dtype === "F32" ? 0 : 1))],
    ["tokenizer.ggml.model", str("llama")],
    ["tokenizer.ggml.tokens", strArray(tokens)],
    ["tokenizer.ggml.bos_token_id", u32(1)],
    ["tokenizer.ggml.eos_token_id", u32(2)],
  ]);
  if (options.chatTemplate !== undefined) md.set("tokenizer.chat_template", str(options.chatTemplate));
  for (const [k, v] of options.extra ?? []) md.set(k, v);
  let tensors = tinyTensors(tokens.length, dtype);
  if (options.split) {
    md.set("split.no", { type: GgufValueType.UINT16, value: options.split.no });
    md.set("split.count", { type: GgufValueType.UINT16, value: options.split.count });
    md.set("split.tensors.count", { type: GgufValueType.INT32, value: tensors.length });
    tensors = options.split.tensorIndices.map((i) => tensors[i]);
  }
  return writeGguf(path, md, tensors);
}

/** Writes a GGUF whose tensor bytes are a fixed pattern derived from each tensor's name (so merges are checkable). */
export async function writeGguf(path: string, metadata: GgufMetadata, tensors: TinyTensor[]): Promise<{ sha256: string; size: number }> {
  const writer = await createGgufWriter(path, { metadata, tensors });
  for (const t of tensors) {
    const bytesPer = t.type === GgmlType.F32 ? 4 : 2;
    const data = new Uint8Array(t.shape.reduce((a, b) => a * b, 1) * bytesPer);
    data.fill([...t.name].reduce((a, c) => (a * 31 + c.charCodeAt(0)) % 251, 7) + 1);
    await writer.writeTensorData(data);
  }
  const r = await writer.finish();
  return { sha256: r.sha256, size: r.size };
}

/** A tiny CLIP projector GGUF, as llama.cpp's mmproj files are tagged. */
export async function writeTinyProjector(path: string): Promise<{ sha256: string; size: number }> {
  const md: GgufMetadata = new Map<string, GgufValue>([
    ["general.architecture", str("clip")],
    ["general.type", str("mmproj")],
    ["clip.has_vision_encoder", { type: GgufValueType.BOOL, value: true }],
    ["clip.projector_type", str("gemma3")],
    ["clip.vision.embedding_length", u32(64)],
    ["clip.vision.projection_dim", u32(256)],
    ["clip.vision.block_count", u32(1)],
    ["general.file_type", u32(1)],
  ]);
  return writeGguf(path, md, [
    { name: "v.patch_embd.weight", shape: [64, 64], type: GgmlType.F16 },
    { name: "mm.input_projection.weight", shape: [64, 256], type: GgmlType.F16 },
  ]);
}
