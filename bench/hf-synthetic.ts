/**
 * A synthetic Llama-shaped Hugging Face folder for the convert benchmark: config.json for
 * LlamaForCausalLM, the llama3-tiny fixture's tokenizer (its 512 tokens padded to vocab_size by
 * the converter, as llama.cpp pads), and BF16 safetensors sharded as `save_pretrained` shards
 * them (tensors in model order, a new shard when the next tensor would pass the shard size,
 * tensors sorted by name inside a shard, an index with weight_map). Weights are N(0, 0.02)
 * from the seeded generator of data.ts, norms are 1: every run writes the same bytes.
 */
import { copyFile, open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GgmlType } from "../src/formats/gguf/types.ts";
import { quantizeRows } from "../src/quant/kernels/index.ts";
import { fillGaussian } from "./data.ts";

export interface SyntheticLlamaShape {
  layers: number;
  hidden: number;
  ffn: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  /** bytes per safetensors shard at most (save_pretrained's max_shard_size) */
  shardBytes: number;
}

export interface SyntheticFolder {
  /** bytes of tensor data in all shards (BF16) */
  tensorBytes: number;
  parameterCount: number;
  shardCount: number;
}

const TOKENIZER_FIXTURE = fileURLToPath(new URL("../../shared/fixtures/hf/llama3-tiny", import.meta.url));
/** tokens in the fixture's tokenizer.json: vocab_size may pad it, not cut it */
const TOKENIZER_TOKENS = 512;
/** values generated and written per piece: 2 MiB of BF16 */
const PIECE_VALUES = 1 << 20;

interface SyntheticTensor {
  name: string;
  /** safetensors order: outermost first */
  shape: number[];
  isNorm: boolean;
}

/** HF's state dict order of a LlamaForCausalLM with untied embeddings. */
function llamaTensors(s: SyntheticLlamaShape): SyntheticTensor[] {
  const kv = (s.hidden / s.heads) * s.kvHeads;
  const matrix = (name: string, rows: number, cols: number) => ({ name, shape: [rows, cols], isNorm: false });
  const norm = (name: string) => ({ name, shape: [s.hidden], isNorm: true });
  const tensors: SyntheticTensor[] = [matrix("model.embed_tokens.weight", s.vocab, s.hidden)];
  for (let i = 0; i < s.layers; i++) {
    const p = `model.layers.${i}`;
    tensors.push(
      matrix(`${p}.self_attn.q_proj.weight`, s.hidden, s.hidden),
      matrix(`${p}.self_attn.k_proj.weight`, kv, s.hidden),
      matrix(`${p}.self_attn.v_proj.weight`, kv, s.hidden),
      matrix(`${p}.self_attn.o_proj.weight`, s.hidden, s.hidden),
      matrix(`${p}.mlp.gate_proj.weight`, s.ffn, s.hidden),
      matrix(`${p}.mlp.up_proj.weight`, s.ffn, s.hidden),
      matrix(`${p}.mlp.down_proj.weight`, s.hidden, s.ffn),
      norm(`${p}.input_layernorm.weight`),
      norm(`${p}.post_attention_layernorm.weight`),
    );
  }
  tensors.push(norm("model.norm.weight"), matrix("lm_head.weight", s.vocab, s.hidden));
  return tensors;
}

const valueCount = (t: SyntheticTensor) => t.shape.reduce((a, b) => a * b, 1);

/** save_pretrained's split: in model order, a new shard when the next tensor would not fit. */
function splitIntoShards(tensors: SyntheticTensor[], shardBytes: number): SyntheticTensor[][] {
  const shards: SyntheticTensor[][] = [[]];
  let size = 0;
  for (const t of tensors) {
    const bytes = valueCount(t) * 2;
    if (size > 0 && size + bytes > shardBytes) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(t);
    size += bytes;
  }
  return shards.map((s) => s.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
}

/** The safetensors header: 8-byte length, then JSON padded with spaces to 8 bytes, as safetensors writes it. */
function safetensorsHeader(tensors: SyntheticTensor[]): Buffer {
  const entries: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const t of tensors) {
    const end = offset + valueCount(t) * 2;
    entries[t.name] = { dtype: "BF16", shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  let json = JSON.stringify(entries);
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const header = Buffer.alloc(8 + Buffer.byteLength(json));
  header.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  header.write(json, 8, "utf8");
  return header;
}

/** Writes the folder into `dir` (which must exist and be empty). */
export async function writeSyntheticLlama(dir: string, s: SyntheticLlamaShape): Promise<SyntheticFolder> {
  if (s.vocab < TOKENIZER_TOKENS) throw new Error(`synthetic Llama: vocab ${s.vocab} is smaller than the tokenizer's ${TOKENIZER_TOKENS} tokens`);
  const config = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_act: "silu",
    hidden_size: s.hidden,
    intermediate_size: s.ffn,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    num_hidden_layers: s.layers,
    vocab_size: s.vocab,
    max_position_embeddings: 8192,
    rms_norm_eps: 1e-5,
    rope_theta: 500000.0,
    rope_scaling: { factor: 8.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: "llama3" },
    tie_word_embeddings: false,
    bos_token_id: 500,
    eos_token_id: 501,
    torch_dtype: "bfloat16",
  };
  await writeFile(join(dir, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) await copyFile(join(TOKENIZER_FIXTURE, f), join(dir, f));

  const shards = splitIntoShards(llamaTensors(s), s.shardBytes);
  const weightMap: Record<string, string> = {};
  const values = new Float32Array(PIECE_VALUES);
  const bf16 = new Uint8Array(PIECE_VALUES * 2);
  let seed = 1;
  let tensorBytes = 0;
  let parameterCount = 0;
  for (let k = 0; k < shards.length; k++) {
    const file = `model-${String(k + 1).padStart(5, "0")}-of-${String(shards.length).padStart(5, "0")}.safetensors`;
    const handle = await open(join(dir, file), "w");
    try {
      let position = 0;
      const write = async (bytes: Uint8Array) => {
        for (let done = 0; done < bytes.byteLength; ) done += (await handle.write(bytes, done, bytes.byteLength - done, position + done)).bytesWritten;
        position += bytes.byteLength;
      };
      await write(safetensorsHeader(shards[k]));
      for (const t of shards[k]) {
        weightMap[t.name] = file;
        const count = valueCount(t);
        for (let done = 0; done < count; done += PIECE_VALUES) {
          const piece = values.subarray(0, Math.min(PIECE_VALUES, count - done));
          if (t.isNorm) piece.fill(1);
          else fillGaussian(piece, 0.02, seed++);
          const out = bf16.subarray(0, piece.length * 2);
          quantizeRows(GgmlType.BF16, piece, out);
          await write(out);
        }
        tensorBytes += count * 2;
        parameterCount += count;
      }
    } finally {
      await handle.close();
    }
  }
  const index = { metadata: { total_size: tensorBytes }, weight_map: weightMap };
  await writeFile(join(dir, "model.safetensors.index.json"), `${JSON.stringify(index, null, 2)}\n`);
  return { tensorBytes, parameterCount, shardCount: shards.length };
}
