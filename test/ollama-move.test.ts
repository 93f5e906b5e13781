/**
 * The whole journey through the CLI, as a user moving a model to another machine would run it:
 * create -> list -> show -> export (tar) -> import into an empty models dir -> list / show equal;
 * then export --gguf -> create from that Modelfile in a third store -> the very same manifest.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.ts";
import { TINY_FULL_MODELFILE } from "./helpers/ollama-observed-store.ts";
import { FIXTURE_GGUF } from "./helpers/ollama-store-builder.ts";

/** ollama-observed.md §4, with the model GGUF from the shared fixtures. */
const MODELFILE = TINY_FULL_MODELFILE.replace("FROM ./tiny-f32.gguf", `FROM ${FIXTURE_GGUF}`);

let work: string;
const dirs = () => ({ a: join(work, "a"), b: join(work, "b"), c: join(work, "c") });
/** `list` without the MODIFIED column (times differ between stores). */
const listed = (modelsDir: string) =>
  runCli(["list", "--models-dir", modelsDir]).stdout.split("\n").map((l) => l.split(/ {2,}/).slice(0, 3).join(" | "));

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "gguf-tool-move-"));
  writeFileSync(join(work, "Modelfile.full"), MODELFILE);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("create -> export -> import -> export --gguf -> create", () => {
  it("moves a model between stores with list, show and the manifest unchanged", () => {
    const { a, b, c } = dirs();
    let r = runCli(["create", "tiny-full", "-f", join(work, "Modelfile.full"), "-q", "--models-dir", a]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const listA = listed(a);
    expect(listA[1]).toMatch(/^tiny-full:latest \| [0-9a-f]{12} \| 421 KB$/);
    const showA = runCli(["show", "tiny-full", "--models-dir", a]).stdout;
    expect(showA).toContain("You are a tiny test model.");

    const tar = join(work, "tiny-full.tar");
    r = runCli(["export", "tiny-full", "-o", tar, "--models-dir", a]);
    expect(r.status).toBe(0);
    r = runCli(["import", tar, "--models-dir", b]);
    expect(r.stdout).toMatch(/^imported 'tiny-full:latest'\n7 blobs written/);
    expect(listed(b)).toEqual(listA);
    expect(runCli(["show", "tiny-full", "--models-dir", b]).stdout).toBe(showA);
    expect(runCli(["verify", "--models-dir", b]).stdout).toMatch(/1 model, 7 blobs .* all OK/);

    mkdirSync(join(work, "out"));
    const gguf = join(work, "out", "tiny-full.gguf");
    r = runCli(["export", "--gguf", "tiny-full", "-o", gguf, "--models-dir", b]);
    expect(r.stderr).toBe("");
    expect(readFileSync(gguf)).toEqual(readFileSync(FIXTURE_GGUF));
    r = runCli(["create", "tiny-full", "-f", join(work, "out", "Modelfile"), "-q", "--models-dir", c]);
    expect(r.stderr).toBe("");
    const manifest = (d: string) => readFileSync(join(d, "manifests", "registry.ollama.ai", "library", "tiny-full", "latest"));
    expect(manifest(c)).toEqual(manifest(a));
    expect(listed(c)).toEqual(listA);
  }, 180_000);
});
