import { describe, expect, it } from "vitest";
import { GgmlType } from "../src/formats/gguf/types.ts";
import { findInvalidRowData } from "../src/quant/validate-rows.ts";
import { goldenEntries, loadGolden, type GoldenTypeName } from "./golden.ts";

const TYPES: GoldenTypeName[] = ["f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K"];

describe("findInvalidRowData (ggml_validate_row_data)", () => {
  it("agrees with ggml's validator on every golden entry", () => {
    let invalid = 0;
    for (const type of TYPES) {
      for (const entry of goldenEntries(type)) {
        const { quantized } = loadGolden(entry);
        const found = findInvalidRowData(entry.ggmlType, quantized);
        expect(found === undefined, entry.id).toBe(entry.referenceValid);
        if (found) invalid++;
      }
    }
    expect(invalid).toBe(33); // the manifest's reference_validate_row_data: false entries
  });

  it("names the block and field, or the value, that fails", () => {
    // Q4_K block 1 with dmin = +Inf (0x7c00)
    const q4k = new Uint8Array(144 * 2);
    q4k[144 + 3] = 0x7c;
    expect(findInvalidRowData(GgmlType.Q4_K, q4k)).toEqual({ index: 1, field: "dmin" });
    // F32: value 2 is NaN, value 1 is the largest finite float
    const f32 = new Float32Array([1, 3.4028234663852886e38, NaN]);
    expect(findInvalidRowData(GgmlType.F32, new Uint8Array(f32.buffer))).toEqual({ index: 2, field: "value" });
    expect(findInvalidRowData(GgmlType.F32, new Uint8Array(f32.buffer, 0, 8))).toBeUndefined();
    expect(() => findInvalidRowData(GgmlType.Q8_0, new Uint8Array(33))).toThrow(RangeError);
  });
});
