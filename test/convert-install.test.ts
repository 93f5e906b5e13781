/** `convert --install`: the converted GGUF lands in the store as a blob (renamed, not copied), with config and manifest. */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { convertAndInstall } from "../src/convert/install.ts";
import { listModels } from "../src/ollama/store-read.ts";
import { runCli, SHARED } from "./helpers/cli.ts";
import { snapshotFiles } from "./helpers/ollama-store-builder.ts";

const storeFileNames = (dir: string) => [...snapshotFiles(dir).keys()];

const work = mkdtempSync(join(tmpdir(), "gguf-tool-convert-install-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("convert --install", () => {
  it("writes the GGUF as the model blob and lists the model", async () => {
    const modelsDir = join(work, "store");
    const { convert, install } = await convertAndInstall(join(SHARED, "fixtures/hf/qwen2-tiny"), {
      modelsDir,
      name: "qwen2-tiny:q4_K_M",
      mixture: "Q4_K_M",
      threads: 1,
    });
    const model = install.layers.find((l) => l.mediaType === "application/vnd.ollama.image.model")!;
    expect(model.digest).toBe(`sha256:${convert.sha256}`);
    expect(storeFileNames(modelsDir)).toContain(`blobs/sha256-${convert.sha256}`);
    expect(storeFileNames(modelsDir).filter((f) => f.startsWith(".gguf-tool-tmp"))).toEqual([]);
    const { models } = await listModels(modelsDir);
    expect(models.map((m) => m.displayName)).toEqual(["qwen2-tiny:q4_K_M"]);
    expect(runCli(["verify", "--models-dir", modelsDir]).status).toBe(0);
  });

  it("leaves the store as it was when the conversion fails", async () => {
    const modelsDir = join(work, "store");
    const before = snapshotFiles(modelsDir);
    const broken = join(work, "broken");
    cpSync(join(SHARED, "fixtures/hf/mistral-tiny"), broken, { recursive: true });
    writeFileSync(join(broken, "config.json"), JSON.stringify({ architectures: ["NoSuchForCausalLM"] }));
    const r = runCli(["convert", broken, "-q", "Q8_0", "--install", "broken:latest", "--models-dir", modelsDir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/config\.json: architecture NoSuchForCausalLM is not supported; supported: .*LlamaForCausalLM/);
    expect(snapshotFiles(modelsDir)).toEqual(before);
  });

  it("refuses -o together with --install", () => {
    const r = runCli(["convert", join(SHARED, "fixtures/hf/mistral-tiny"), "--install", "x", "-o", join(work, "x.gguf")]);
    expect(r.status).toBe(2);
  });
});
