/**
 * JSON as Go's `encoding/json` Encoder writes it, which Ollama uses for manifests, config, params and
 * messages blobs: compact, `<` `>` `&` U+2028 U+2029 escaped as `\u003c` etc., and one trailing `\n`.
 * Byte-identical output gives the same digests (and `ollama list` IDs) as Ollama.
 */

const GO_ESCAPES: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

/**
 * Go's `json.Marshal` text for `value` (no trailing newline). Object keys keep their insertion order
 * (Go struct field order); sort them yourself where Go marshals a map. Numbers use JavaScript's
 * formatting, which equals Go's for integers below 1e21.
 */
export function goJsonMarshal(value: unknown): string {
  // outside strings JSON.stringify emits none of these characters, so a global replace is safe
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c]);
}

/** What Go's `json.NewEncoder(w).Encode(value)` writes: the marshalled text plus `\n`, as UTF-8 bytes. */
export function goJsonEncode(value: unknown): Buffer {
  return Buffer.from(`${goJsonMarshal(value)}\n`, "utf8");
}
