/** The library entry point (src/index.ts) works without the CLI: convert, then read back, then install and list. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import * as lib from "../src/index.ts";
import { SHARED } from "./helpers/cli.ts";

const work = mkdtempSync(join(tmpdir(), "gguf-tool-lib-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it("converts, reads, installs and lists through the public API", async () => {
  const out = join(work, "m.gguf");
  const converted = await lib.convertHfFolder(join(SHARED, "fixtures/hf/mistral-tiny"), { mixture: "Q8_0", output: out, threads: 1 });
  const header = await lib.readGgufHeader(out);
  expect(lib.getArchitecture(header.metadata)).toBe("llama");
  expect(header.tensors.length).toBe(converted.tensorCount);
  const modelsDir = join(work, "models");
  const installed = await lib.installModel({ modelsDir, name: "mistral-tiny:q8_0", ggufPath: out });
  expect(installed.name).toBe("mistral-tiny:q8_0");
  const { models } = await lib.listModels(modelsDir);
  expect(models.map((m) => m.displayName)).toEqual(["mistral-tiny:q8_0"]);
});
