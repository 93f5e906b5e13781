/**
 * On-disk structures of safetensors (huggingface/safetensors, format described in its README):
 * an 8-byte little-endian header length N, N bytes of JSON, then the tensor data.
 */

/** The dtypes of the safetensors format and their byte sizes. */
export const SAFETENSORS_DTYPE_SIZE = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
} as const;

export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_SIZE;

/** The reference implementation refuses headers larger than this (MAX_HEADER_SIZE). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensor {
  name: string;
  dtype: SafetensorsDtype;
  /** as written (row-major, outermost first: the reverse of GGUF's order) */
  shape: number[];
  /** absolute byte offset of the tensor's data in the file */
  fileOffset: number;
  byteLength: number;
}

export interface SafetensorsFile {
  path: string;
  fileSize: number;
  /** absolute offset of the data section (8 + header length) */
  dataOffset: number;
  /** `__metadata__` (string to string), empty when absent */
  metadata: Record<string, string>;
  /** in the header's order */
  tensors: SafetensorsTensor[];
}

/** A tensor of a Hugging Face folder, with the shard that holds it. */
export interface HfTensor extends SafetensorsTensor {
  /** path of the safetensors file holding the data */
  file: string;
}

export interface HfModel {
  dir: string;
  /** config.json, parsed */
  config: Record<string, unknown>;
  /** `config.architectures[0]`, e.g. "LlamaForCausalLM" */
  architecture?: string;
  /** the safetensors files, in shard order */
  files: SafetensorsFile[];
  /** every tensor of the model, in shard order then header order */
  tensors: Map<string, HfTensor>;
  /** sum of the elements of every tensor */
  parameterCount: number;
  /** total bytes of the safetensors files */
  totalBytes: number;
}
