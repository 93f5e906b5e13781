/**
 * `convert` on broken model folders: each problem is one line naming the file at fault, exit 1,
 * and no output file (nor temporary file) is left behind.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, SHARED } from "./helpers/cli.ts";

const work = mkdtempSync(join(tmpdir(), "gguf-tool-convert-errors-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
/** A writable copy of a fixture folder, changed by `mutate`. */
function brokenCopy(fixture: string, mutate: (dir: string) => void): string {
  const dir = join(work, `case-${++n}`, fixture);
  cpSync(join(SHARED, "fixtures/hf", fixture), dir, { recursive: true });
  mutate(dir);
  return dir;
}

const editJson = (path: string, edit: (j: Record<string, unknown>) => void) => {
  const j = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  edit(j);
  writeFileSync(path, JSON.stringify(j));
};

/** Rewrites a safetensors header in place (same length, padded with spaces) so the data stays valid. */
function editSafetensorsHeader(path: string, edit: (h: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>) => void): void {
  const buf = readFileSync(path);
  const len = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + len).toString("utf8"));
  edit(header);
  const text = Buffer.from(JSON.stringify(header), "utf8");
  if (text.length > len) throw new Error("edited header is longer than the original");
  buf.fill(0x20, 8, 8 + len);
  text.copy(buf, 8);
  writeFileSync(path, buf);
}

function convertFails(dir: string, pattern: RegExp): void {
  const out = join(work, `out-${n}.gguf`);
  const r = runCli(["convert", dir, "-q", "Q8_0", "-o", out, "--threads", "1"]);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.status).toBe(1);
  expect(existsSync(out)).toBe(false);
  expect(readdirSync(work).filter((f) => f.endsWith(".tmp"))).toEqual([]);
}

describe("convert refuses broken model folders in one line", () => {
  it("no config.json", () => {
    convertFails(brokenCopy("mistral-tiny", (d) => rmSync(join(d, "config.json"))), /^gguf-tool: .*mistral-tiny\/config\.json: no such file or directory/);
  });

  it("an unsupported architecture, listing the supported ones", () => {
    const dir = brokenCopy("mistral-tiny", (d) => editJson(join(d, "config.json"), (j) => (j.architectures = ["FalconForCausalLM"])));
    convertFails(dir, /config\.json: architecture FalconForCausalLM is not supported; supported: .*Gemma2ForCausalLM.*Qwen3ForCausalLM/);
  });

  it("a missing shard", () => {
    const dir = brokenCopy("llama3-tiny", (d) => rmSync(join(d, "model-00002-of-00002.safetensors")));
    convertFails(dir, /model-00002-of-00002\.safetensors: missing: shard listed in model\.safetensors\.index\.json/);
  });

  it("an index naming a tensor that is not in its shard", () => {
    const dir = brokenCopy("llama3-tiny", (d) =>
      editJson(join(d, "model.safetensors.index.json"), (j) => {
        (j.weight_map as Record<string, string>)["model.layers.0.mlp.extra.weight"] = "model-00001-of-00002.safetensors";
      }),
    );
    convertFails(dir, /model\.layers\.0\.mlp\.extra\.weight/);
  });

  it("an unsupported dtype", () => {
    const dir = brokenCopy("mistral-tiny", (d) =>
      editSafetensorsHeader(join(d, "model.safetensors"), (h) => {
        const t = h["model.norm.weight"];
        t.dtype = "I16"; // same byte size as BF16, so the file stays consistent
      }),
    );
    convertFails(dir, /model\.safetensors: tensor model\.norm\.weight has dtype I16; convert reads F32, F16 and BF16 weights/);
  });

  it("shapes that disagree with config.json", () => {
    const dir = brokenCopy("mistral-tiny", (d) => editJson(join(d, "config.json"), (j) => (j.hidden_size = 256)));
    convertFails(dir, /model\.safetensors: tensor .* but config\.json's hidden_size is 256/);
  });

  it("a layer count that disagrees with config.json", () => {
    const dir = brokenCopy("mistral-tiny", (d) => editJson(join(d, "config.json"), (j) => (j.num_hidden_layers = 3)));
    convertFails(dir, /config\.json: num_hidden_layers is 3, but the weights have 2 layers/);
  });

  it("a tokenizer that cannot be read", () => {
    const dir = brokenCopy("mistral-tiny", (d) => writeFileSync(join(d, "tokenizer.model"), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])));
    convertFails(dir, /tokenizer\.model: /);
  });

  it("a folder that does not exist", () => {
    convertFails(join(work, "nowhere"), /nowhere: no such file or directory/);
  });
});
