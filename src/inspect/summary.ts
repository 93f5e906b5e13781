/**
 * The answers `inspect` gives at a glance, for any model format: what it is, how big, how
 * quantized, its shape, its tokenizer and chat template. Built by gguf-summary.ts and
 * safetensors-summary.ts; rendered as text or JSON by the CLI.
 */

export interface TensorTypeUse {
  /** ggml type name ("Q4_K") or safetensors dtype ("BF16") */
  type: string;
  tensors: number;
  bytes: number;
}

export interface RopeSummary {
  freqBase?: number;
  dimensionCount?: number;
  scalingType?: string;
  scalingFactor?: number;
  originalContextLength?: number;
}

export interface SpecialToken {
  id: number;
  /** the token's text, when the vocabulary is in the file */
  token?: string;
}

export interface ChatTemplateSummary {
  /** characters */
  length: number;
  /** the first non-blank line, trimmed */
  firstLine: string;
}

export interface ModelSummary {
  format: "gguf" | "safetensors";
  architecture?: string;
  name?: string;
  parameterCount: number;
  /** Ollama's HumanNumber of parameterCount ("8.0B", "494.03M") */
  parameterSize: string;
  /** GGUF: general.file_type's name ("Q4_K_M"); safetensors: config.json's torch_dtype */
  fileType?: string;
  tensorCount: number;
  /** the mix of tensor types, most bytes first */
  tensorTypes: TensorTypeUse[];
  contextLength?: number;
  embeddingLength?: number;
  feedForwardLength?: number;
  blockCount?: number;
  headCount?: number;
  headCountKv?: number;
  rope?: RopeSummary;
  vocabSize?: number;
  tokenizerModel?: string;
  tokenizerPre?: string;
  bos?: SpecialToken;
  eos?: SpecialToken;
  /** undefined when the model has no chat template */
  chatTemplate?: ChatTemplateSummary;
  /** bytes of every file of the model */
  fileSize: number;
  /** number of files (GGUF shards, safetensors files) */
  files: number;
}

/** Counts tensors and bytes per type, most bytes first. */
export function tensorTypeMix(tensors: Iterable<{ type: string; bytes: number }>): TensorTypeUse[] {
  const byType = new Map<string, TensorTypeUse>();
  for (const t of tensors) {
    const use = byType.get(t.type) ?? { type: t.type, tensors: 0, bytes: 0 };
    use.tensors++;
    use.bytes += t.bytes;
    byType.set(t.type, use);
  }
  return [...byType.values()].sort((a, b) => b.bytes - a.bytes || (a.type < b.type ? -1 : 1));
}

export function chatTemplateSummary(template: string | undefined): ChatTemplateSummary | undefined {
  if (template === undefined || template.trim() === "") return undefined;
  const firstLine = template.split("\n").find((l) => l.trim() !== "")!.trim();
  return { length: template.length, firstLine };
}

/** Removes undefined fields, so JSON and text show only what the model has. */
export function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
}
