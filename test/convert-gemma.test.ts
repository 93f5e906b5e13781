/**
 * Gemma 1 (`GemmaForCausalLM`) and Gemma 3 (`Gemma3ForCausalLM`), which have no shared fixture.
 * Our own tiny BF16 checkpoints (test/fixtures/gemma-tiny and gemma3-tiny, torch's logits in their
 * reference/ subfolder, all made by test/fixtures/make_gemma_fixtures.py) are converted, checked
 * key by key and tensor by tensor against the safetensors, and run in llama.cpp (node-llama-cpp, as
 * convert-llama-cpp.test.ts does), whose next-token logits must match torch's float32 logits.
 *
 * The bounds. ggml's CPU backend computes GELU from an fp16 table (the tanh GELU of the fp16-rounded
 * input, itself rounded to fp16); that alone moves these fixtures' logits by 2e-3 to 4e-3 (as it
 * moves gemma2-tiny's, whose own llama.cpp F32 error is 2e-3..3e-3). So the fixture script stores a
 * second torch reference computed with exactly that GELU, and records for each prompt:
 * - g = ggml_gelu_max_abs_diff: how far the ggml-GELU reference is from plain torch;
 * - n = ggml_gelu_float32_noise: how far the ggml-GELU model evaluated in float32 is from the same
 *   model in float64. The table is a step function: float32 rounding before it (which differs
 *   between torch and llama.cpp, e.g. in summation order) flips some inputs to the neighbouring fp16
 *   value. n is 1e-5 for gemma-tiny but 4e-4..1.2e-3 for gemma3-tiny (6 layers, sandwich norms).
 * Two float32 evaluations each about n from the exact value differ by up to 2n, so:
 * - F32: max |diff| <= 1e-4 + 2n from the ggml-GELU reference (1e-4: the other architectures'
 *   F32 bound, float32 rounding), and <= 1e-4 + 2n + g from plain torch;
 * - F16: the same with the F16 bound 2e-2 in place of 1e-4 (llama.cpp may round
 *   activations to f16 for F16 weights; BF16 weights themselves convert to F16 exactly, checked below).
 * Every plausible conversion mistake is far outside these bounds: in torch, a sliding window one
 * token too long or short, all layers global, the global layer on the local rope base or the other
 * way round, or the attention scale of head_dim 128 move gemma3-tiny's logits by 1.4 to 13.
 * Top-1 must be identical, and every top-k set (k <= 5) whose reference margin exceeds twice the bound.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Llama, LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertHfFolder } from "../src/convert/convert.ts";
import { readGgufHeader } from "../src/formats/gguf/reader.ts";
import { GgmlType, GgufValueType, type GgufHeader, type GgufValue } from "../src/formats/gguf/types.ts";
import { openHfFolder } from "../src/formats/safetensors/hf-folder.ts";
import type { HfModel } from "../src/formats/safetensors/types.ts";
import { bf16BitsToFp32, fp16BitsToFp32 } from "../src/quant/half.ts";
import type { MixtureName } from "../src/quant/mixtures.ts";
import { SHARED } from "./helpers/cli.ts";
import { lastLogits, maxAbsDiff, readF32, startLlama } from "./helpers/llama-cpp.ts";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
const GEMMA2_ENCODINGS = JSON.parse(readFileSync(join(SHARED, "fixtures/ref/gemma2-tiny/tokenizer-encodings.json"), "utf8")) as {
  cases: Array<{ text: string; ids: number[] }>;
};
/** the other architectures' bounds (convert-llama-cpp.test.ts), held against the ggml-GELU reference */
const F32_BOUND = 1e-4;
const F16_BOUND = 2e-2;

interface Prompt {
  name: string;
  text: string;
  ids: number[];
  logits_file: string;
  ggml_gelu_logits_file: string;
  ggml_gelu_max_abs_diff: number;
  ggml_gelu_float32_noise: number;
}

/** llama.cpp's names (gguf-py tensor_mapping) for one layer's Hugging Face tensors. */
const GEMMA_LAYER: Record<string, string> = {
  input_layernorm: "attn_norm",
  "self_attn.q_proj": "attn_q",
  "self_attn.k_proj": "attn_k",
  "self_attn.v_proj": "attn_v",
  "self_attn.o_proj": "attn_output",
  post_attention_layernorm: "ffn_norm",
  "mlp.gate_proj": "ffn_gate",
  "mlp.up_proj": "ffn_up",
  "mlp.down_proj": "ffn_down",
};
const GEMMA3_LAYER: Record<string, string> = {
  ...GEMMA_LAYER,
  "self_attn.q_norm": "attn_q_norm",
  "self_attn.k_norm": "attn_k_norm",
  post_attention_layernorm: "post_attention_norm",
  pre_feedforward_layernorm: "ffn_norm",
  post_feedforward_layernorm: "post_ffw_norm",
};

interface Fixture {
  name: string;
  arch: string;
  layer: Record<string, string>;
  /** every architecture key llama.cpp's loader reads for it, with the value the config gives */
  keys: Record<string, number | boolean>;
  /** keys that must be absent */
  absent: string[];
}

const FIXTURE_LIST: Fixture[] = [
  {
    name: "gemma-tiny",
    arch: "gemma",
    layer: GEMMA_LAYER,
    keys: {
      "gemma.context_length": 8192,
      "gemma.embedding_length": 128,
      "gemma.block_count": 2,
      "gemma.feed_forward_length": 256,
      "gemma.attention.head_count": 4,
      "gemma.attention.head_count_kv": 4,
      "gemma.attention.layer_norm_rms_epsilon": Math.fround(1e-6),
      "gemma.attention.key_length": 64,
      "gemma.attention.value_length": 64,
      // GemmaModel.set_vocab sets CodeGemma's fill-in-the-middle ids for every Gemma 1 ...
      "tokenizer.ggml.eot_token_id": 107,
      "tokenizer.ggml.add_space_prefix": false,
    },
    absent: [
      // ... but gguf-py's writer has a handler for eot only, so the other four are skipped
      "tokenizer.ggml.prefix_token_id",
      "tokenizer.ggml.suffix_token_id",
      "tokenizer.ggml.middle_token_id",
      "tokenizer.ggml.fsep_token_id",
      // GemmaModel writes no rope keys (llama.cpp's default base 10000 is Gemma's)
      "gemma.rope.freq_base",
      "gemma.attention.sliding_window",
    ],
  },
  {
    name: "gemma3-tiny",
    arch: "gemma3",
    layer: GEMMA3_LAYER,
    keys: {
      "gemma3.context_length": 8192,
      "gemma3.embedding_length": 128,
      "gemma3.block_count": 6,
      "gemma3.feed_forward_length": 128,
      "gemma3.attention.head_count": 2,
      "gemma3.attention.head_count_kv": 1,
      "gemma3.attention.layer_norm_rms_epsilon": Math.fround(1e-6),
      "gemma3.attention.key_length": 64,
      "gemma3.attention.value_length": 64,
      // without it llama.cpp runs every layer as a global one
      "gemma3.attention.sliding_window": 8,
      // global layers (rope_theta) and sliding layers (rope_local_base_freq)
      "gemma3.rope.freq_base": 1_000_000,
      "gemma3.rope.freq_base_swa": 10_000,
      "tokenizer.ggml.add_space_prefix": false,
    },
    // Gemma 3 has no soft-capping (final_logit_softcapping null); llama.cpp's pattern of 6 is the config's
    absent: ["gemma3.final_logit_softcapping", "gemma3.attn_logit_softcapping", "gemma3.attention.sliding_window_pattern"],
  },
];

const work = mkdtempSync(join(tmpdir(), "gguf-tool-gemma-"));
let llama: Llama;
beforeAll(async () => {
  llama = await startLlama();
});
afterAll(async () => {
  await llama?.dispose();
  rmSync(work, { recursive: true, force: true });
});

function scalar(v: GgufValue | undefined): unknown {
  return v === undefined || v.type === GgufValueType.ARRAY ? undefined : v.value;
}

async function readBytes(path: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, offset);
    return buf;
  } finally {
    await fh.close();
  }
}

/** The GGUF name llama.cpp gives a Hugging Face tensor of these fixtures. */
function ggufName(fixture: Fixture, hfName: string): string {
  if (hfName === "model.embed_tokens.weight") return "token_embd.weight";
  if (hfName === "model.norm.weight") return "output_norm.weight";
  const m = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(hfName);
  expect(m, hfName).not.toBeNull();
  expect(fixture.layer[m![2]], hfName).toBeDefined();
  return `blk.${m![1]}.${fixture.layer[m![2]]}.weight`;
}

/** Every tensor of an F32 conversion is the BF16 source upcast exactly, norms plus 1 (Gemma stores scale - 1). */
async function expectLosslessF32(fixture: Fixture, source: HfModel, header: GgufHeader): Promise<void> {
  expect(header.tensors.length).toBe(source.tensors.size);
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  let norms = 0;
  for (const t of source.tensors.values()) {
    const g = byName.get(ggufName(fixture, t.name));
    expect(g, t.name).toBeDefined();
    expect(g!.type).toBe(GgmlType.F32);
    expect(g!.shape).toEqual([...t.shape].reverse());
    expect(t.dtype).toBe("BF16");
    const src = await readBytes(t.file, t.fileOffset, t.byteLength);
    const dst = await readBytes(header.path, header.dataOffset + g!.offset, g!.size);
    const isNorm = t.name.endsWith("norm.weight");
    if (isNorm) norms++;
    const n = t.byteLength / 2;
    let mismatches = 0;
    for (let i = 0; i < n; i++) {
      const upcast = bf16BitsToFp32(src.readUInt16LE(2 * i));
      const expected = isNorm ? Math.fround(upcast + 1) : upcast;
      if (dst.readFloatLE(4 * i) !== expected) mismatches++;
    }
    expect(mismatches, `${t.name} -> ${g!.name}`).toBe(0);
  }
  // every layer's norms and the final one: the +1 shift was checked on all of them
  expect(norms).toBe(header.tensors.filter((t) => t.name.endsWith("norm.weight")).length);
  expect(norms).toBeGreaterThan(0);
}

function ranked(a: Float32Array): number[] {
  return [...a.keys()].sort((x, y) => a[y] - a[x] || x - y);
}

/** Top-1 identical; top-k sets identical wherever the reference's gap after rank k exceeds 2 * bound. */
function expectSameRanking(logits: Float32Array, reference: Float32Array, bound: number, label: string): void {
  const ours = ranked(logits);
  const theirs = ranked(reference);
  expect(ours[0], `${label} top-1`).toBe(theirs[0]);
  for (let k = 1; k <= 5; k++) {
    if (reference[theirs[k - 1]] - reference[theirs[k]] <= 2 * bound) continue;
    expect(new Set(ours.slice(0, k)), `${label} top-${k}`).toEqual(new Set(theirs.slice(0, k)));
  }
}

/**
 * Each prompt's last-position logits from llama.cpp: finite, within `bound` (plus the reference's
 * float32 noise) of the ggml-GELU reference, within that plus the GELU difference of torch's,
 * and ranked as torch ranks them.
 */
async function expectReferenceLogits(model: LlamaModel, refDir: string, prompts: Prompt[], bound: number): Promise<void> {
  for (const prompt of prompts) {
    const torch = readF32(join(refDir, prompt.logits_file));
    const ggmlGelu = readF32(join(refDir, prompt.ggml_gelu_logits_file));
    const logits = await lastLogits(model, prompt.ids, torch.length);
    expect(logits.every((x) => Number.isFinite(x)), `${prompt.name}: a logit for every token`).toBe(true);
    const ggmlBound = bound + 2 * prompt.ggml_gelu_float32_noise;
    const torchBound = ggmlBound + prompt.ggml_gelu_max_abs_diff;
    expect(maxAbsDiff(logits, ggmlGelu), `${prompt.name} max |diff| vs the ggml-GELU reference`).toBeLessThanOrEqual(ggmlBound);
    expect(maxAbsDiff(logits, torch), `${prompt.name} max |diff| vs torch`).toBeLessThanOrEqual(torchBound);
    expectSameRanking(logits, torch, torchBound, prompt.name);
  }
}

for (const fixture of FIXTURE_LIST) {
  const hfDir = join(FIXTURES, fixture.name);
  const refDir = join(hfDir, "reference");
  const reference = JSON.parse(readFileSync(join(refDir, "reference.json"), "utf8")) as { prompts: Prompt[] };

  describe(`${fixture.name} converts as llama.cpp's converter would`, () => {
    it("F32: llama.cpp's keys, names and shapes; every value the source's, norms + 1", async () => {
      const out = join(work, `${fixture.name}.meta.gguf`);
      const result = await convertHfFolder(hfDir, { mixture: "F32", output: out, threads: 1 });
      expect(result.architecture).toBe(fixture.arch);
      const header = await readGgufHeader(out, { eagerArrays: true });
      expect(scalar(header.metadata.get("general.architecture"))).toBe(fixture.arch);
      for (const [key, value] of Object.entries(fixture.keys)) expect(scalar(header.metadata.get(key)), key).toBe(value);
      for (const key of fixture.absent) expect(header.metadata.has(key), key).toBe(false);
      expect(scalar(header.metadata.get("tokenizer.ggml.model"))).toBe("llama");
      await expectLosslessF32(fixture, await openHfFolder(hfDir), header);
      rmSync(out);
    });

    it("F16: 2-D weights F16 and equal to the BF16 source, norms F32", async () => {
      const out = join(work, `${fixture.name}.types.gguf`);
      await convertHfFolder(hfDir, { mixture: "F16", output: out, threads: 1 });
      const header = await readGgufHeader(out);
      const source = await openHfFolder(hfDir);
      for (const t of source.tensors.values()) {
        const g = header.tensors.find((x) => x.name === ggufName(fixture, t.name))!;
        expect(g.type, g.name).toBe(g.shape.length === 1 ? GgmlType.F32 : GgmlType.F16);
        if (g.type !== GgmlType.F16) continue;
        // BF16's 8 significant bits fit F16's 11: exact but where F16 runs out of range (subnormals)
        const src = await readBytes(t.file, t.fileOffset, t.byteLength);
        const dst = await readBytes(header.path, header.dataOffset + g.offset, g.size);
        let wrong = 0;
        for (let i = 0; i < t.byteLength / 2; i++) {
          const x = bf16BitsToFp32(src.readUInt16LE(2 * i));
          const err = Math.abs(fp16BitsToFp32(dst.readUInt16LE(2 * i)) - x);
          // exact in F16's normal range; below it, rounded to the nearest subnormal (step 2^-24)
          if (Math.abs(x) >= 2 ** -14 ? err !== 0 : err > 2 ** -25) wrong++;
        }
        expect(wrong, g.name).toBe(0);
      }
      rmSync(out);
    });
  });

  describe(`${fixture.name} runs in llama.cpp with torch's logits`, () => {
    for (const [mixture, bound] of [["F32", F32_BOUND], ["F16", F16_BOUND]] as Array<[MixtureName, number]>) {
      it(mixture, async () => {
        const out = join(work, `${fixture.name}.${mixture}.gguf`);
        await convertHfFolder(hfDir, { mixture, output: out, threads: 1 });
        const model = await llama.loadModel({ modelPath: out, gpuLayers: 0 });
        try {
          await expectReferenceLogits(model, refDir, reference.prompts, bound);
        } finally {
          await model.dispose();
          rmSync(out);
        }
      });
    }

    it("tokenizes the prompts and gemma2-tiny's test strings as the tokenizer does", async () => {
      const out = join(work, `${fixture.name}.tok.gguf`);
      await convertHfFolder(hfDir, { mixture: "F16", output: out, threads: 1 });
      const model = await llama.loadModel({ modelPath: out, gpuLayers: 0, vocabOnly: true });
      try {
        const [plain, chat] = reference.prompts;
        expect(model.tokens.bos).toBe(2);
        expect(model.tokens.shouldPrependBosToken).toBe(true);
        expect([model.tokens.bos, ...model.tokenize(plain.text, false)]).toEqual(plain.ids);
        expect([...model.tokenize(chat.text, true)]).toEqual(chat.ids);
        // the same tokenizer files as gemma2-tiny, where llama.cpp agrees with the tokenizers library on every string
        for (const c of GEMMA2_ENCODINGS.cases) expect([...model.tokenize(c.text, false)], JSON.stringify(c.text)).toEqual(c.ids);
      } finally {
        await model.dispose();
        rmSync(out);
      }
    });
  });
}

describe("gemma3-tiny with the config.json transformers 5 writes", () => {
  it("converts to the same file as with Google's classic keys", async () => {
    // rope_parameters / layer_types / _sliding_window_pattern in place of rope_theta /
    // rope_local_base_freq / sliding_window_pattern: same model, so the same GGUF, byte for byte
    const dir = join(work, "t5", "gemma3-tiny");
    cpSync(join(FIXTURES, "gemma3-tiny"), dir, { recursive: true });
    cpSync(join(dir, "reference", "config-transformers5.json"), join(dir, "config.json"));
    const classic = await convertHfFolder(join(FIXTURES, "gemma3-tiny"), { mixture: "F32", output: join(work, "classic.gguf"), threads: 1 });
    const t5 = await convertHfFolder(dir, { mixture: "F32", output: join(work, "t5.gguf"), threads: 1 });
    const [a, b] = [await readGgufHeader(join(work, "classic.gguf")), await readGgufHeader(join(work, "t5.gguf"))];
    const differing = [...a.metadata.keys()].filter((k) => JSON.stringify(scalar(a.metadata.get(k))) !== JSON.stringify(scalar(b.metadata.get(k))));
    expect(differing).toEqual([]);
    expect([...b.metadata.keys()]).toEqual([...a.metadata.keys()]);
    expect(t5.sha256).toBe(classic.sha256);
  });
});

describe("gemma3-tiny with Gemma 3 4B's linear rope scaling", () => {
  // rope_scaling {linear, factor 8} applies to the global layers only: llama.cpp must scale layer 5, not 0-4
  const refDir = join(FIXTURES, "gemma3-tiny", "reference");
  const variant = (JSON.parse(readFileSync(join(refDir, "reference.json"), "utf8")) as { variants: Array<{ name: string; prompts: Prompt[] }> }).variants.find(
    (v) => v.name === "linear-rope",
  )!;
  for (const [mixture, bound] of [["F32", F32_BOUND], ["F16", F16_BOUND]] as Array<[MixtureName, number]>) {
    it(mixture, async () => {
      const dir = join(work, `linear-rope-${mixture}`, "gemma3-tiny");
      cpSync(join(FIXTURES, "gemma3-tiny"), dir, { recursive: true });
      cpSync(join(refDir, "config-linear-rope.json"), join(dir, "config.json"));
      const out = join(work, `linear-rope.${mixture}.gguf`);
      await convertHfFolder(dir, { mixture, output: out, threads: 1 });
      const header = await readGgufHeader(out);
      expect(scalar(header.metadata.get("gemma3.rope.scaling.type"))).toBe("linear");
      expect(scalar(header.metadata.get("gemma3.rope.scaling.factor"))).toBe(8);
      const model = await llama.loadModel({ modelPath: out, gpuLayers: 0 });
      try {
        await expectReferenceLogits(model, refDir, variant.prompts, bound);
      } finally {
        await model.dispose();
        rmSync(out);
      }
    });
  }
});

describe("gemma3-tiny with an lm_head.weight", () => {
  it("keeps it as output.weight, as llama.cpp's Gemma3Model does, and runs as before", async () => {
    // an exact copy of the embedding in a shard of its own, as checkpoints saved with the head have
    const dir = join(work, "lm-head", "gemma3-tiny");
    cpSync(join(FIXTURES, "gemma3-tiny"), dir, { recursive: true });
    const embed = (await openHfFolder(dir)).tensors.get("model.embed_tokens.weight")!;
    const data = await readBytes(embed.file, embed.fileOffset, embed.byteLength);
    const header = Buffer.from(JSON.stringify({ "lm_head.weight": { dtype: "BF16", shape: embed.shape, data_offsets: [0, data.length] } }).padEnd(160));
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(join(dir, "lm_head.safetensors"), Buffer.concat([size, header, data]));
    const weightMap: Record<string, string> = {};
    for (const name of (await openHfFolder(dir)).tensors.keys()) weightMap[name] = "model.safetensors";
    weightMap["lm_head.weight"] = "lm_head.safetensors";
    writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));

    const out = join(work, "lm-head.gguf");
    await convertHfFolder(dir, { mixture: "F32", output: out, threads: 1 });
    const gguf = await readGgufHeader(out);
    const output = gguf.tensors.find((t) => t.name === "output.weight");
    expect(output?.shape).toEqual([128, 768]);
    const values = await readBytes(out, gguf.dataOffset + output!.offset, output!.size);
    for (let i = 0; i < data.length / 2; i++) {
      if (values.readFloatLE(4 * i) !== bf16BitsToFp32(data.readUInt16LE(2 * i))) expect.fail(`output.weight value ${i}`);
    }
    const model = await llama.loadModel({ modelPath: out, gpuLayers: 0 });
    try {
      const prompt = JSON.parse(readFileSync(join(dir, "reference", "reference.json"), "utf8")).prompts[1] as Prompt;
      const ggmlGelu = readF32(join(dir, "reference", prompt.ggml_gelu_logits_file));
      const logits = await lastLogits(model, prompt.ids, ggmlGelu.length);
      expect(maxAbsDiff(logits, ggmlGelu)).toBeLessThanOrEqual(F32_BOUND + 2 * prompt.ggml_gelu_float32_noise);
    } finally {
      await model.dispose();
      rmSync(out);
    }
  });
});
