/**
 * Installing the llama.cpp-made reference GGUFs of every fixture: real metadata (lazy vocabularies,
 * real chat templates, llama.cpp's file types) through the whole install, checked against an
 * independent reader (@huggingface/gguf) and the expected chat template family.
 */
import { readdirSync, readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gguf } from "@huggingface/gguf";
import { afterAll, describe, expect, it } from "vitest";
import { blobPath } from "../src/ollama/blobs.ts";
import { humanNumber } from "../src/ollama/human-units.ts";
import { installModel } from "../src/ollama/install.ts";
import { showModel } from "../src/ollama/show.ts";
import { LIBRARY_TEMPLATES } from "../src/ollama/templates/library.ts";
import { SHARED } from "./helpers/cli.ts";
import { FIXTURE_TEMPLATE_FAMILY } from "./helpers/fixture-families.ts";

const REF = join(SHARED, "fixtures/ref");
const FAMILY = FIXTURE_TEMPLATE_FAMILY;
/** file name suffix -> the name Ollama gives its general.file_type */
const FILE_TYPE: Record<string, string> = { q4_k_m: "Q4_K_M", q4_0: "Q4_0", q8_0: "Q8_0", f16: "F16", bf16: "BF16" };

const modelsDir = join(mkdtempSync(join(tmpdir(), "gguf-tool-fixtures-")), "models");
afterAll(() => rmSync(join(modelsDir, ".."), { recursive: true, force: true }));

describe("installing the reference GGUFs", () => {
  for (const fixture of Object.keys(FAMILY)) {
    const files = readdirSync(join(REF, fixture)).filter((f) => f.endsWith(".gguf"));
    it(`${fixture}: ${files.length} GGUFs get Ollama's config and the ${FAMILY[fixture]} template`, async () => {
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) {
        const path = join(REF, fixture, file);
        const suffix = file.slice(fixture.length + 1, -".gguf".length);
        const r = await installModel({ modelsDir, name: `${fixture}:${suffix}`, ggufPath: path });
        const theirs = await gguf(path, { allowLocalFile: true });
        const count = theirs.tensorInfos.reduce((sum, t) => sum + t.shape.reduce((a, b) => a * Number(b), 1), 0);
        expect(r.config).toMatchObject({
          model_family: theirs.metadata["general.architecture"],
          model_families: [theirs.metadata["general.architecture"]],
          model_type: humanNumber(count),
          file_type: FILE_TYPE[suffix],
        });
        const entry = LIBRARY_TEMPLATES.find((t) => t.id === FAMILY[fixture])!;
        expect(r.templateChoice.startsWith(`${entry.id} (`), r.templateChoice).toBe(true);
        const template = r.layers.find((l) => l.mediaType.endsWith(".template"))!;
        expect(readFileSync(blobPath(modelsDir, template.digest), "utf8")).toBe(entry.template);
        expect(r.warnings).toEqual([]);
        const info = await showModel(modelsDir, `${fixture}:${suffix}`);
        const md = theirs.metadata as Record<string, unknown>;
        expect(info.model.contextLength).toBe(md[`${md["general.architecture"]}.context_length`]);
        expect(info.params.get("stop") ?? []).toEqual(entry.stop);
      }
    });
  }
});
