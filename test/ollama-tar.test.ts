import { execFileSync } from "node:child_process";
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ToolError } from "../src/formats/errors.ts";
import { readTar, TarWriter } from "../src/ollama/tar.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "gguf-tool-tar-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function readAll(source: AsyncIterable<Uint8Array>, subject = "t.tar") {
  const out: Array<{ path: string; type: string; data: Buffer }> = [];
  for await (const e of readTar(source, subject)) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(c);
    out.push({ path: e.path, type: e.type, data: Buffer.concat(parts) });
  }
  return out;
}

/** Feeds a buffer in small uneven chunks, to exercise block boundaries. */
async function* chunked(b: Buffer, size = 333): AsyncIterable<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

const longPath = `manifests/${"h".repeat(120)}/ns/model/${"t".repeat(80)}`;
const files: Array<[string, Buffer]> = [
  ["manifests/registry.ollama.ai/library/tiny/latest", Buffer.from('{"schemaVersion":2}\n')],
  [longPath, Buffer.from("long name")],
  ["blobs/sha256-" + "a".repeat(64), Buffer.alloc(5000, 7)],
  ["blobs/empty", Buffer.alloc(0)],
  ["blobs/exact-block", Buffer.alloc(512, 1)],
];

async function writeOurTar(): Promise<Buffer> {
  const parts: Buffer[] = [];
  const w = new TarWriter(async (c) => void parts.push(Buffer.from(c)));
  await w.addDirectory("manifests", new Date(0));
  for (const [p, b] of files) await w.addFile(p, b.length, [b], new Date(1_700_000_000_000));
  await w.finish();
  return Buffer.concat(parts);
}

describe("tar writer", () => {
  it("GNU tar reads what we write, long (pax) names included", async () => {
    const tarFile = join(dir, "ours.tar");
    writeFileSync(tarFile, await writeOurTar());
    const listed = execFileSync("tar", ["-tf", tarFile], { encoding: "utf8" }).trim().split("\n");
    expect(listed).toEqual(["manifests/", ...files.map(([p]) => p)]);
    const out = join(dir, "extracted");
    mkdirSync(out);
    execFileSync("tar", ["-xf", tarFile, "-C", out]);
    for (const [p, b] of files) expect(readFileSync(join(out, p))).toEqual(b);
  });

  it("refuses a body of the wrong length", async () => {
    const w = new TarWriter(async () => undefined);
    await expect(w.addFile("x", 10, [Buffer.alloc(9)], new Date())).rejects.toThrow(/is 9 bytes, expected 10/);
    await expect(w.addFile("y", 1, [Buffer.alloc(2)], new Date())).rejects.toThrow(/grew/);
  });
});

describe("tar reader", () => {
  it("reads our tar back in uneven chunks", async () => {
    const got = await readAll(chunked(await writeOurTar()));
    expect(got.map((e) => [e.path, e.type])).toEqual([["manifests/", "directory"], ...files.map(([p]) => [p, "file"])]);
    for (const [i, [, b]] of files.entries()) expect(got[i + 1].data).toEqual(b);
  });

  for (const format of ["gnu", "pax", "ustar"]) {
    it(`reads GNU tar's --format=${format} with long names`, async () => {
      const src = join(dir, `src-${format}`);
      // ustar can only hold long names through its 155-byte prefix field
      const deep = format === "ustar" ? `${"d".repeat(90)}/${"e".repeat(60)}/file.bin` : `${"d".repeat(150)}/file.bin`;
      mkdirSync(join(src, deep, ".."), { recursive: true });
      writeFileSync(join(src, deep), Buffer.alloc(70_000, 3));
      writeFileSync(join(src, "small"), "hi");
      const tarFile = join(dir, `gnu-${format}.tar`);
      execFileSync("tar", [`--format=${format}`, "-cf", tarFile, "-C", src, "small", deep]);
      const got = await readAll(createReadStream(tarFile, { highWaterMark: 4096 }));
      expect(got.map((e) => [e.path, e.data.length])).toEqual([
        ["small", 2],
        [deep, 70_000],
      ]);
      expect(got[1].data.every((b) => b === 3)).toBe(true);
    });
  }

  it("skips bodies the caller does not read", async () => {
    const paths: string[] = [];
    for await (const e of readTar(chunked(await writeOurTar(), 100), "t")) paths.push(e.path);
    expect(paths).toHaveLength(files.length + 1);
  });

  it("reads a base-256 size field", async () => {
    const tar = await writeOurTar();
    const h = Buffer.from(tar.subarray(512, 1024)); // first file header (after the directory)
    // size 20 as GNU base-256, then recompute the checksum
    h.fill(0, 124, 136);
    h[124] = 0x80;
    h[135] = 20;
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
    const t = Buffer.concat([h, tar.subarray(1024, 1536), Buffer.alloc(1024)]);
    const got = await readAll(chunked(t));
    expect(got[0].data.length).toBe(20);
  });

  it("takes the size from a pax record (how blobs of 8 GiB and more are stored)", async () => {
    const tar = await writeOurTar();
    const body = Buffer.from("21 size=5000\n".replace("21", String("xx size=5000\n".length)));
    const parts: Buffer[] = [];
    const w = new TarWriter(async (c) => void parts.push(Buffer.from(c)));
    // a pax header whose size record overrides the ustar size field of the next entry (0 here)
    await w.addFile("PaxHeader", body.length, [body], new Date(0));
    const pax = Buffer.concat(parts);
    pax.write("x", 156, 1, "latin1");
    pax.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += pax[i];
    pax.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
    const next = Buffer.from(tar.subarray(512 * 7, 512 * 8)); // header of the 5000-byte blob entry (block 7)
    next.write("00000000000\0", 124, 12, "latin1");
    next.fill(0x20, 148, 156);
    sum = 0;
    for (const b of next) sum += b;
    next.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
    const got = await readAll(chunked(Buffer.concat([pax, next, Buffer.alloc(5120, 7), Buffer.alloc(1024)])));
    expect(got.map((e) => [e.path, e.data.length])).toEqual([[`blobs/sha256-${"a".repeat(64)}`, 5000]]);
  });

  it("writes a pax size record for entries of 8 GiB and more", async () => {
    const parts: Buffer[] = [];
    const w = new TarWriter(async (c) => void parts.push(Buffer.from(c)));
    async function* stop(): AsyncIterable<Uint8Array> {
      throw new Error("header written");
    }
    await expect(w.addFile("blobs/big", 9_000_000_000, stop(), new Date(0))).rejects.toThrow("header written");
    const head = Buffer.concat(parts);
    expect(head.subarray(512, 1024).toString("utf8")).toContain("19 size=9000000000\n");
    expect(head[156]).toBe("x".charCodeAt(0));
    expect(head.subarray(1024 + 124, 1024 + 136).toString("latin1")).toBe("00000000000\0");
  });

  it("gives one-line errors for a truncated tar, a bad checksum, and a huge pax header", async () => {
    const tar = await writeOurTar();
    await expect(readAll(chunked(tar.subarray(0, 1200)))).rejects.toThrow(/not a valid tar file: truncated/);
    await expect(readAll(chunked(tar.subarray(0, 700)))).rejects.toThrow(ToolError);
    const bad = Buffer.from(tar);
    bad[600] ^= 0xff;
    await expect(readAll(chunked(bad))).rejects.toThrow(/header checksum mismatch/);
    const notTar = Buffer.alloc(2048, 0x41);
    await expect(readAll(chunked(notTar))).rejects.toThrow(/not a valid tar file/);
    // a pax header claiming 1 GB: refused before anything is allocated
    const pax = Buffer.from(tar.subarray(0, 512));
    pax.write("x", 156, 1, "latin1");
    pax.write("00000000000\0", 124, 12, "latin1");
    pax.write(`${(1e9).toString(8).padStart(11, "0")}\0`, 124, 12, "latin1");
    pax.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of pax) sum += b;
    pax.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
    await expect(readAll(chunked(Buffer.concat([pax, Buffer.alloc(4096)])))).rejects.toThrow(/extended header of 1000000000 bytes/);
  });
});
