import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ToolError } from "../src/formats/errors.ts";
import { GGML_TYPE_TRAITS, GgmlType, GgufValueType, type GgufMetadata } from "../src/formats/gguf/types.ts";
import {
  chooseTensorTypes,
  fileTypeOf,
  llamaTensorOrder,
  MIXTURE_NAMES,
  mixtureModelFromMetadata,
  parseMixture,
  type MixtureName,
} from "../src/quant/mixtures.ts";
import { SHARED } from "./helpers/cli.ts";

interface GoldenModel {
  hparams: { n_layer: number; n_head: number; n_head_kv: number };
  architecture: string;
  input_tensor_order: string[];
  tensor_ne: Record<string, number[]>;
  output_tensor_order: string[];
  mixtures: Record<string, { "general.file_type": number; tensor_types: Record<string, string> }>;
  aborts?: Record<string, string>;
}

const golden = JSON.parse(readFileSync(join(SHARED, "golden/quant/gguf/mixtures.json"), "utf8")) as {
  models: Record<string, GoldenModel>;
};

const typeName = (t: GgmlType) => GGML_TYPE_TRAITS[t]!.name;

/** The golden source models are all-F32 files. */
function inputs(model: GoldenModel) {
  const tensors = model.input_tensor_order.map((name) => ({ name, shape: model.tensor_ne[name], type: GgmlType.F32 }));
  const hp = { architecture: model.architecture, layerCount: model.hparams.n_layer, headCount: model.hparams.n_head, headCountKv: model.hparams.n_head_kv };
  return { tensors, hp };
}

describe("mixtures.json (llama-quantize's choices)", () => {
  for (const [modelName, model] of Object.entries(golden.models)) {
    const { tensors, hp } = inputs(model);

    it(`${modelName}: tensor order is llama-quantize's`, () => {
      expect(llamaTensorOrder(model.input_tensor_order).map((i) => model.input_tensor_order[i])).toEqual(model.output_tensor_order);
    });

    for (const [mixture, expected] of Object.entries(model.mixtures)) {
      it(`${modelName} ${mixture}: every tensor type and general.file_type`, () => {
        const m = parseMixture(mixture)!;
        expect(m).toBe(mixture);
        expect(fileTypeOf(m)).toBe(expected["general.file_type"]);
        const types = chooseTensorTypes(m, tensors, hp);
        const got = Object.fromEntries(tensors.map((t, i) => [t.name, typeName(types[i])]));
        expect(got).toEqual(expected.tensor_types);
      });
    }

    for (const [mixture, message] of Object.entries(model.aborts ?? {})) {
      it(`${modelName} ${mixture}: aborts like llama-quantize`, () => {
        const run = () => chooseTensorTypes(parseMixture(mixture)!, tensors, hp);
        expect(run).toThrow(ToolError);
        expect(run).toThrow(message);
      });
    }
  }

  it("covers all 16 golden mixtures of the two 8-layer models", () => {
    expect(Object.keys(golden.models.mix8.mixtures).length).toBe(16);
    expect(Object.keys(golden.models.mix8_tied.mixtures).length).toBe(16);
  });
});

describe("parseMixture / fileTypeOf", () => {
  it("accepts any case and llama-quantize's aliases", () => {
    expect(parseMixture("q4_k_m")).toBe("Q4_K_M");
    expect(parseMixture("Bf16")).toBe("BF16");
    expect(parseMixture("q4_k")).toBe("Q4_K_M");
    expect(parseMixture("Q5_K")).toBe("Q5_K_M");
    expect(parseMixture("Q3_K")).toBe("Q3_K_M");
    expect(parseMixture("q2_k")).toBe("Q2_K");
    expect(parseMixture("q6_k")).toBe("Q6_K");
    expect(parseMixture("Q4_K_X")).toBeUndefined();
    expect(parseMixture("IQ2_XXS")).toBeUndefined();
  });

  it("every name round-trips and has llama.cpp's file type", () => {
    const expected: Record<MixtureName, number> = {
      F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 7, Q5_0: 8, Q5_1: 9, Q2_K: 10, Q3_K_S: 11, Q3_K_M: 12,
      Q3_K_L: 13, Q4_K_S: 14, Q4_K_M: 15, Q5_K_S: 16, Q5_K_M: 17, Q6_K: 18, BF16: 32,
    };
    for (const m of MIXTURE_NAMES) {
      expect(parseMixture(m)).toBe(m);
      expect(fileTypeOf(m)).toBe(expected[m]);
    }
    expect(MIXTURE_NAMES.length).toBe(17);
  });
});

describe("options and rules beyond the golden models", () => {
  const { tensors, hp } = inputs(golden.models.odd);
  const byName = (types: GgmlType[]) => Object.fromEntries(tensors.map((t, i) => [t.name, typeName(types[i])]));

  it("--pure: every quantizable tensor gets the default type, with the block-size fallbacks", () => {
    const got = byName(chooseTensorTypes("Q4_K_M", tensors, hp, { pure: true }));
    expect(got["output.weight"]).toBe("Q4_K");
    expect(got["token_embd.weight"]).toBe("Q4_K");
    expect(got["blk.0.attn_v.weight"]).toBe("Q4_K");
    expect(got["blk.3.ffn_down.weight"]).toBe("Q5_0"); // rows of 320: Q4_K -> Q5_0
    expect(got["blk.0.attn_norm.weight"]).toBe("F32");
  });

  it("--output-tensor-type and --token-embedding-type override the rules", () => {
    const got = byName(chooseTensorTypes("Q4_K_M", tensors, hp, { outputTensorType: GgmlType.Q8_0, tokenEmbeddingType: GgmlType.F16 }));
    expect(got["output.weight"]).toBe("Q8_0");
    expect(got["token_embd.weight"]).toBe("F16");
    expect(got["blk.0.attn_v.weight"]).toBe("Q4_K"); // the rules still apply elsewhere: use_more_bits(0, 4) is false
    expect(got["blk.3.attn_v.weight"]).toBe("Q6_K");
  });

  it("an override type that does not fit the rows is a clear error", () => {
    const odd = [{ name: "output.weight", shape: [320, 64], type: GgmlType.F32 }];
    expect(() => chooseTensorTypes("Q4_K_M", odd, hp, { outputTensorType: GgmlType.Q4_K })).toThrow(/not a multiple of 256/);
  });

  it("a tied token_embd takes --output-tensor-type", () => {
    const tied = inputs(golden.models.mix8_tied);
    const types = chooseTensorTypes("Q4_K_M", tied.tensors, tied.hp, { outputTensorType: GgmlType.Q8_0 });
    expect(typeName(types[tied.tensors.findIndex((t) => t.name === "token_embd.weight")])).toBe("Q8_0");
  });

  it("non-quantizable tensors keep their own type, whatever it is", () => {
    const mixed = [
      { name: "blk.0.attn_norm.weight", shape: [256], type: GgmlType.F16 },
      { name: "blk.0.attn_q.bias", shape: [256, 2], type: GgmlType.F16 },
      { name: "blk.0.ffn_gate_inp.weight", shape: [256, 8], type: GgmlType.BF16 },
      { name: "blk.0.attn_q.weight", shape: [256, 1], type: GgmlType.F16 },
      { name: "blk.0.attn_k.weight", shape: [256, 256], type: GgmlType.F16 },
    ];
    expect(chooseTensorTypes("Q4_K_M", mixed, hp).map(typeName)).toEqual(["F16", "F16", "BF16", "F16", "Q4_K"]);
  });

  it("8 experts: attn_v and attn_k Q8_0, attn_output Q5_K, ffn_down by the layer in the name", () => {
    const moe = [
      { name: "blk.1.ffn_down_exps.weight", shape: [256, 256, 8], type: GgmlType.F32 },
      { name: "blk.0.ffn_down_exps.weight", shape: [256, 256, 8], type: GgmlType.F32 },
      { name: "blk.0.attn_v.weight", shape: [256, 64], type: GgmlType.F32 },
      { name: "blk.0.attn_k.weight", shape: [256, 64], type: GgmlType.F32 },
      { name: "blk.0.attn_output.weight", shape: [256, 256], type: GgmlType.F32 },
    ];
    const model = { architecture: "llama", layerCount: 8, headCount: 4, headCountKv: 1, expertCount: 8 };
    // layers 0 and 1 of 8: use_more_bits(0) is true, use_more_bits(1) is false
    expect(chooseTensorTypes("Q4_K_M", moe, model).map(typeName)).toEqual(["Q4_K", "Q6_K", "Q8_0", "Q8_0", "Q5_K"]);
  });

  it("a llama classed 70B (80 layers, GQA) bumps attn_v from Q4_K to Q5_K", () => {
    const v = [{ name: "blk.10.attn_v.weight", shape: [256, 64], type: GgmlType.F32 }];
    const seventy = { architecture: "llama", layerCount: 80, headCount: 64, headCountKv: 8 };
    expect(typeName(chooseTensorTypes("Q4_K_S", v, seventy)[0])).toBe("Q5_K"); // i=0 < 4: Q5_K anyway
    expect(typeName(chooseTensorTypes("Q3_K_S", v, seventy)[0])).toBe("Q5_K");
    expect(typeName(chooseTensorTypes("Q3_K_S", v, { ...seventy, headCountKv: 64 })[0])).toBe("Q3_K");
  });
});

describe("mixtureModelFromMetadata", () => {
  it("reads the hyperparameters the rules need", () => {
    const md: GgufMetadata = new Map([
      ["general.architecture", { type: GgufValueType.STRING, value: "llama" }],
      ["llama.block_count", { type: GgufValueType.UINT32, value: 32 }],
      ["llama.attention.head_count", { type: GgufValueType.UINT32, value: 32 }],
      ["llama.attention.head_count_kv", { type: GgufValueType.UINT32, value: 8 }],
    ]);
    expect(mixtureModelFromMetadata(md, "m.gguf")).toEqual({ architecture: "llama", layerCount: 32, headCount: 32, headCountKv: 8, expertCount: 0 });
  });

  it("names the file when block_count is missing", () => {
    const md: GgufMetadata = new Map([["general.architecture", { type: GgufValueType.STRING, value: "llama" }]]);
    expect(() => mixtureModelFromMetadata(md, "m.gguf")).toThrow("m.gguf: llama.block_count is missing or not a number");
  });
});
