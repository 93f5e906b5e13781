/**
 * ggml_validate_row_data, which llama-quantize runs on every tensor it quantizes and which makes
 * it stop with "quantized data validation failed": no fp16 block scale (d, and dmin/m where the
 * block has one) may be Inf or NaN, and F32/F16/BF16 output values must be finite. Weights too
 * large for fp16 scales (|x| beyond ~65504 times the type's largest quant) fail here.
 */
import { GGML_TYPE_TRAITS, GgmlType, ggmlTypeName } from "../formats/gguf/types.ts";

/** Byte offsets of the fp16 scale fields inside one block (ggml-common.h's block layouts). */
const SCALE_FIELDS: Partial<Record<GgmlType, { offsets: number[]; names: string[] }>> = {
  [GgmlType.Q4_0]: { offsets: [0], names: ["d"] },
  [GgmlType.Q4_1]: { offsets: [0, 2], names: ["d", "m"] },
  [GgmlType.Q5_0]: { offsets: [0], names: ["d"] },
  [GgmlType.Q5_1]: { offsets: [0, 2], names: ["d", "m"] },
  [GgmlType.Q8_0]: { offsets: [0], names: ["d"] },
  [GgmlType.Q2_K]: { offsets: [80, 82], names: ["d", "dmin"] }, // after scales[16], qs[64]
  [GgmlType.Q3_K]: { offsets: [108], names: ["d"] }, // after hmask[32], qs[64], scales[12]
  [GgmlType.Q4_K]: { offsets: [0, 2], names: ["d", "dmin"] },
  [GgmlType.Q5_K]: { offsets: [0, 2], names: ["d", "dmin"] },
  [GgmlType.Q6_K]: { offsets: [208], names: ["d"] }, // after ql[128], qh[64], scales[16]
};

export interface InvalidRowData {
  /** index of the offending block (or value, for F32/F16/BF16) in `bytes` */
  index: number;
  /** "d", "dmin", "m" (a block's fp16 scale) or "value" */
  field: string;
}

/** The first block or value of `bytes` (whole blocks of `type`) that fails ggml's validation, or undefined. */
export function findInvalidRowData(type: GgmlType, bytes: Uint8Array): InvalidRowData | undefined {
  const typeSize = GGML_TYPE_TRAITS[type]?.typeSize;
  if (typeSize === undefined || bytes.length % typeSize !== 0) {
    throw new RangeError(`${bytes.length} bytes is not a whole number of ${ggmlTypeName(type)} blocks`);
  }
  switch (type) {
    case GgmlType.F32:
      // exponent bits all ones: the little-endian high byte holds 7 of them, the next byte 1
      for (let i = 0; i < bytes.length; i += 4) {
        if ((bytes[i + 3] & 0x7f) === 0x7f && bytes[i + 2] & 0x80) return { index: i / 4, field: "value" };
      }
      return undefined;
    case GgmlType.F16:
      for (let i = 0; i < bytes.length; i += 2) if ((bytes[i + 1] & 0x7c) === 0x7c) return { index: i / 2, field: "value" };
      return undefined;
    case GgmlType.BF16:
      for (let i = 0; i < bytes.length; i += 2) {
        if ((bytes[i + 1] & 0x7f) === 0x7f && bytes[i] & 0x80) return { index: i / 2, field: "value" };
      }
      return undefined;
  }
  const fields = SCALE_FIELDS[type];
  if (!fields) return undefined; // integer types: nothing to validate
  for (let block = 0, at = 0; at < bytes.length; block++, at += typeSize) {
    for (let f = 0; f < fields.offsets.length; f++) {
      // fp16 exponent bits (0x7c00) all ones: Inf or NaN
      if ((bytes[at + fields.offsets[f] + 1] & 0x7c) === 0x7c) return { index: block, field: fields.names[f] };
    }
  }
  return undefined;
}
