/**
 * The model card (README.md front matter) in `convert`, against llama.cpp's converter itself:
 * test/fixtures/model-card/expected.json holds, for each cases/*.md used as the README of the
 * llama2-spm fixture, the sha256 of llama.cpp's F32 file and its general.* keys in file order
 * (made by make_expected.py there). Where llama.cpp's converter fails on a card value it cannot
 * write (a float version, a date, mixed tag types, invalid YAML), we warn, leave it out and
 * convert the rest.
 */
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { convertHfFolder } from "../src/convert/convert.ts";
import { readGgufHeader } from "../src/formats/gguf/reader.ts";
import { GGUF_VALUE_TYPE_NAMES, GgufValueType, type GgufValue } from "../src/formats/gguf/types.ts";
import { SHARED } from "./helpers/cli.ts";

const CASES = new URL("./fixtures/model-card/cases/", import.meta.url).pathname;
type KeyRow = [key: string, type: string, value: unknown];
interface Expected {
  fixture: string;
  folderName: string;
  cases: Record<string, { sha256: string; general: KeyRow[] } | { llamaCppFails: string }>;
}
const expected = JSON.parse(readFileSync(new URL("./fixtures/model-card/expected.json", import.meta.url), "utf8")) as Expected;

const work = mkdtempSync(join(tmpdir(), "gguf-tool-model-card-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Converts the fixture with `cases/<name>.md` as its README; our file, general.* keys and warnings. */
async function convertCase(name: string) {
  const dir = join(work, name, expected.folderName);
  mkdirSync(dir, { recursive: true });
  const fixture = join(SHARED, "fixtures", "hf", expected.fixture);
  for (const f of readdirSync(fixture)) symlinkSync(join(fixture, f), join(dir, f));
  copyFileSync(join(CASES, `${name}.md`), join(dir, "README.md"));
  const output = join(work, `${name}.gguf`);
  const warnings: string[] = [];
  await convertHfFolder(dir, { mixture: "F32", output, threads: 1, onWarning: (m) => warnings.push(m) });
  const header = await readGgufHeader(output, { eagerArrays: true });
  const general: KeyRow[] = [...header.metadata].filter(([k]) => k.startsWith("general.")).map(([k, v]) => [k, typeName(v), valueOf(v)]);
  return { sha256: createHash("sha256").update(readFileSync(output)).digest("hex"), general, warnings };
}

/** gguf-py's type names, "ARRAY/<item type>" for arrays, as make_expected.py writes them. */
function typeName(v: GgufValue): string {
  return v.type === GgufValueType.ARRAY ? `ARRAY/${GGUF_VALUE_TYPE_NAMES[v.value.itemType]}` : GGUF_VALUE_TYPE_NAMES[v.type];
}

function valueOf(v: GgufValue): unknown {
  return v.type === GgufValueType.ARRAY ? Array.from(v.value.items as ArrayLike<unknown>) : v.value;
}

const caseNames = readdirSync(CASES).map((f) => f.replace(/\.md$/, ""));
const noCard = expected.cases["no-front-matter"] as { general: KeyRow[] };

describe("model card: the same general.* keys and the same file as llama.cpp's converter", () => {
  it("has an expected result for every case", () => {
    expect(Object.keys(expected.cases).sort()).toEqual([...caseNames].sort());
  });

  for (const name of caseNames.filter((n) => "sha256" in expected.cases[n])) {
    it(name, async () => {
      const ref = expected.cases[name] as { sha256: string; general: KeyRow[] };
      const ours = await convertCase(name);
      expect(ours.general).toEqual(ref.general);
      expect(ours.sha256).toBe(ref.sha256);
      // llama.cpp logs an error for front matter that is not a mapping; we warn
      if (name === "not-a-mapping" || name === "empty-front-matter") expect(ours.warnings).toEqual([expect.stringMatching(/README\.md: the YAML front matter is .*, not a mapping; model card not read$/)]);
      else expect(ours.warnings).toEqual([]);
    });
  }
});

/** Where llama.cpp fails: our warning, and the keys we write instead (the card without the bad value). */
const WHERE_LLAMA_CPP_FAILS: Record<string, { warning: RegExp; extra?: KeyRow }> = {
  "float-version": { warning: /README\.md: model card: version is 1\.0, not a string; not written$/, extra: ["general.license", "STRING", "mit"] },
  "date-version": { warning: /README\.md: model card: version is a date, not a string; not written$/ },
  "license-list-number": { warning: /README\.md: model card: license is a list with non-string entries; not written$/ },
  "mixed-tags": { warning: /README\.md: model card: tags mixes types .*; not written$/ },
  "invalid-yaml": { warning: /README\.md: invalid YAML front matter: .*; model card not read$/ },
};

describe("model card values llama.cpp's converter fails on: a warning, the rest converted", () => {
  it("covers every case llama.cpp fails on", () => {
    expect(Object.keys(WHERE_LLAMA_CPP_FAILS).sort()).toEqual(caseNames.filter((n) => "llamaCppFails" in expected.cases[n]).sort());
  });

  for (const [name, { warning, extra }] of Object.entries(WHERE_LLAMA_CPP_FAILS)) {
    it(`${name} (llama.cpp: ${(expected.cases[name] as { llamaCppFails?: string }).llamaCppFails})`, async () => {
      const ours = await convertCase(name);
      expect(ours.warnings).toEqual([expect.stringMatching(warning)]);
      const want = [...noCard.general];
      if (extra) want.splice(want.findIndex(([k]) => k === "general.size_label") + 1, 0, extra);
      expect(ours.general).toEqual(want);
    });
  }
});
