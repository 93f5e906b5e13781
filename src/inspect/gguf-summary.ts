/**
 * Summary of a GGUF model (one file or all shards of a split) from its header alone. Lazy arrays
 * stay lazy: the vocabulary size is the token array's length, and only the BOS/EOS strings are
 * picked out of it.
 */
import { ggufFileTypeName } from "../formats/gguf/file-types.ts";
import { readGgufStringsAt } from "../formats/gguf/reader.ts";
import type { GgufModel } from "../formats/gguf/split.ts";
import { ggmlTypeName, GgufValueType, type GgufMetadata } from "../formats/gguf/types.ts";
import { humanNumber } from "../ollama/human-units.ts";
import { chatTemplateSummary, compact, tensorTypeMix, type ModelSummary, type RopeSummary, type SpecialToken } from "./summary.ts";

export async function summarizeGguf(model: GgufModel): Promise<ModelSummary> {
  const md = model.metadata;
  const arch = str(md, "general.architecture");
  const a = (suffix: string) => num(md, `${arch}.${suffix}`);
  let parameterCount = 0;
  for (const t of model.tensors) parameterCount += t.shape.reduce((x, y) => x * y, 1);
  const fileType = num(md, "general.file_type");
  const tokens = md.get("tokenizer.ggml.tokens");
  const tokenArray = tokens?.type === GgufValueType.ARRAY && tokens.value.itemType === GgufValueType.STRING ? tokens.value : undefined;
  const bosId = num(md, "tokenizer.ggml.bos_token_id");
  const eosId = num(md, "tokenizer.ggml.eos_token_id");
  const texts = tokenArray ? await readGgufStringsAt(model.shards[0].path, tokenArray, [bosId ?? -1, eosId ?? -1]) : new Map<number, string>();
  const special = (id: number | undefined): SpecialToken | undefined => (id === undefined ? undefined : compact({ id, token: texts.get(id) }));
  const rope = compact<RopeSummary>({
    freqBase: a("rope.freq_base"),
    dimensionCount: a("rope.dimension_count"),
    scalingType: str(md, `${arch}.rope.scaling.type`),
    scalingFactor: a("rope.scaling.factor"),
    originalContextLength: a("rope.scaling.original_context_length"),
  });
  return compact<ModelSummary>({
    format: "gguf",
    architecture: arch,
    name: str(md, "general.name"),
    parameterCount,
    parameterSize: humanNumber(parameterCount),
    fileType: fileType === undefined ? undefined : ggufFileTypeName(fileType),
    tensorCount: model.tensors.length,
    tensorTypes: tensorTypeMix(model.tensors.map((t) => ({ type: ggmlTypeName(t.type), bytes: t.size }))),
    contextLength: a("context_length"),
    embeddingLength: a("embedding_length"),
    feedForwardLength: a("feed_forward_length"),
    blockCount: a("block_count"),
    headCount: a("attention.head_count"),
    headCountKv: a("attention.head_count_kv"),
    rope: Object.keys(rope).length > 0 ? rope : undefined,
    vocabSize: tokenArray?.length,
    tokenizerModel: str(md, "tokenizer.ggml.model"),
    tokenizerPre: str(md, "tokenizer.ggml.pre"),
    bos: special(bosId),
    eos: special(eosId),
    chatTemplate: chatTemplateSummary(str(md, "tokenizer.chat_template")),
    fileSize: model.fileSize,
    files: model.shards.length,
  });
}

/**
 * A scalar number, or undefined when missing or not a number: a summary shows what it can
 * (some architectures store per-layer arrays where others store one value).
 */
function num(md: GgufMetadata, key: string): number | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (typeof v.value === "number") return v.value;
  if (typeof v.value === "bigint") return Number(v.value);
  return undefined;
}

function str(md: GgufMetadata, key: string): string | undefined {
  const v = md.get(key);
  return v?.type === GgufValueType.STRING ? v.value : undefined;
}
