/**
 * kill -9 at random moments of `gguf-tool create`: the store must be left either without the
 * model or with it complete. Leftovers a crash cannot avoid are allowed only where they are
 * harmless: complete blobs no manifest uses (prune removes them) and files in the private temp
 * folder. Never a partial file in blobs/, never an unparseable manifest, never a manifest
 * pointing at a missing or wrong blob.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseModelName } from "../src/ollama/names.ts";
import { verifyStore } from "../src/ollama/store-maintain.ts";
import { listModels } from "../src/ollama/store-read.ts";
import { GgufValueType } from "../src/formats/gguf/types.ts";
import { tinyTensors, writeGguf } from "./helpers/tiny-gguf.ts";

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));

let work: string;
let modelfile: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "gguf-tool-kill-"));
  // big enough (about 37 MB: a vocabulary of 18000) that copying it takes a while
  const vocab = 18000;
  await writeGguf(
    join(work, "big.gguf"),
    new Map([
      ["general.architecture", { type: GgufValueType.STRING, value: "llama" }],
      ["llama.context_length", { type: GgufValueType.UINT32, value: 512 }],
      ["general.file_type", { type: GgufValueType.UINT32, value: 0 }],
    ]),
    tinyTensors(vocab, "F32"),
  );
  modelfile = join(work, "Modelfile");
  writeFileSync(modelfile, 'FROM ./big.gguf\nSYSTEM "be brief"\nPARAMETER num_ctx 1024\nLICENSE MIT\n');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Runs `create`; SIGKILLs it `delayMs` after the status line matching `at` appears ("start": after
 * spawning; "never": lets it finish). Resolves when the process is gone.
 */
function createAndKill(modelsDir: string, at: RegExp | "start" | "never", delayMs: number): Promise<{ code: number | null; stderr: string; killed: boolean }> {
  return new Promise((resolve) => {
    let stderr = "";
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, "create", "killed", "-f", modelfile, "--models-dir", modelsDir], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let killed = false;
    const kill = () => {
      if (killed) return;
      killed = true;
      setTimeout(() => child.kill("SIGKILL"), delayMs);
    };
    if (at === "start") kill();
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      // all of stderr so far: a status line may arrive split over two chunks
      if (at instanceof RegExp && at.test(stderr)) kill();
    });
    child.on("exit", (code) => resolve({ code, stderr, killed }));
  });
}

function checkStore(modelsDir: string): Promise<"absent" | "complete"> {
  return (async () => {
    // every file in blobs/ is a complete blob: its name is the sha256 of its content
    const blobs = existsSync(join(modelsDir, "blobs")) ? readdirSync(join(modelsDir, "blobs")) : [];
    for (const b of blobs) {
      expect(b).toMatch(/^sha256-[0-9a-f]{64}$/);
      expect(`sha256-${createHash("sha256").update(readFileSync(join(modelsDir, "blobs", b))).digest("hex")}`).toBe(b);
    }
    const { models, skipped } = await listModels(modelsDir);
    expect(skipped).toEqual([]);
    if (models.length === 0) return "absent";
    expect(models.map((m) => m.displayName)).toEqual(["killed:latest"]);
    const v = await verifyStore(modelsDir, [parseModelName("killed")]);
    expect(v.problems).toEqual([]);
    expect(v.blobsChecked).toBe(5); // config, model, system, license, params
    return "complete";
  })();
}

describe("kill -9 during create", () => {
  it("leaves the store without the model or with it complete, at every point tried", { timeout: 240_000 }, async () => {
    const points: Array<RegExp | "start"> = ["start", /copying/, /creating new layer .*\(model\)/, /\(system\)/, /\(params\)/, /writing manifest/];
    const outcomes: string[] = [];
    for (const [i, at] of points.entries()) {
      const modelsDir = join(work, `models-${i}`);
      const run = await createAndKill(modelsDir, at, Math.floor(Math.random() * 40));
      // the status line was seen, so the kill landed inside the install
      expect(run.killed, run.stderr).toBe(true);
      outcomes.push(await checkStore(modelsDir));
      // and the store still takes the same install afterwards
      const again = await createAndKill(modelsDir, "never", 0);
      expect(again.code, again.stderr).toBe(0);
      expect(await checkStore(modelsDir)).toBe("complete");
    }
    expect(outcomes).toHaveLength(points.length);
  });
});
