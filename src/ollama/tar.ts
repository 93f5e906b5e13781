/**
 * A small streaming tar reader and writer (POSIX ustar, pax `path`/`size` records, GNU long
 * names and base-256 sizes on read) for `export` / `import`. Entries stream through in chunks:
 * a tar is never unpacked to disk or held in memory. Entry names are returned as written; the
 * caller decides where, if anywhere, an entry may go.
 */
import { ToolError } from "../formats/errors.ts";

const BLOCK = 512;
/** pax and GNU long-name bodies are read into memory: cap them. */
const MAX_META_BYTES = 1 << 20;
/** Largest size a 12-byte octal field holds (11 digits). */
const MAX_OCTAL_SIZE = 8 ** 11 - 1;

export type TarEntryType = "file" | "directory" | "link" | "other";

export interface TarEntry {
  /** the entry's path as stored (pax path, GNU long name or ustar prefix/name) */
  path: string;
  type: TarEntryType;
  /** the raw typeflag character */
  typeflag: string;
  size: number;
  /**
   * The entry's bytes, in chunks. Consume it (or not) before asking for the next entry; whatever is
   * left unread is skipped.
   */
  body: AsyncIterable<Buffer>;
}

/** Pulls exact byte counts out of an async chunk stream. */
class ByteReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  /** bytes consumed so far (for error messages) */
  offset = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    const chunk = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    return true;
  }

  /** Exactly `n` bytes (n small), or undefined at a clean end of stream before any byte. */
  async read(n: number): Promise<Buffer | undefined> {
    while (this.buf.length < n) {
      if (!(await this.fill())) {
        if (this.buf.length === 0) return undefined;
        throw new Error(`truncated at byte ${this.offset + this.buf.length}`);
      }
    }
    const out = Buffer.from(this.buf.subarray(0, n));
    this.buf = this.buf.subarray(n);
    this.offset += n;
    return out;
  }

  /** Up to `n` bytes as they arrive, in chunks; throws if the stream ends first. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill())) throw new Error(`truncated at byte ${this.offset}`);
      const take = Math.min(left, this.buf.length);
      const out = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      this.offset += take;
      left -= take;
      yield out;
    }
  }
}

function cString(b: Buffer, start: number, len: number): string {
  const field = b.subarray(start, start + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? len : nul).toString("utf8");
}

/** A numeric header field: octal text (spaces/NULs around it), or GNU base-256 when the top bit is set. */
function parseNumber(b: Buffer, start: number, len: number, what: string): number {
  const field = b.subarray(start, start + len);
  if (field[0] & 0x80) {
    if (field[0] === 0xff) throw new Error(`negative ${what}`);
    let v = field[0] & 0x7f;
    for (let i = 1; i < len; i++) {
      v = v * 256 + field[i];
      if (v > Number.MAX_SAFE_INTEGER) throw new Error(`${what} too large`);
    }
    return v;
  }
  const text = field.toString("latin1").replace(/\0.*$/s, "").trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new Error(`bad ${what} field ${JSON.stringify(text)}`);
  const v = parseInt(text, 8);
  if (!Number.isSafeInteger(v)) throw new Error(`${what} too large`);
  return v;
}

function checksumOk(header: Buffer): boolean {
  const stored = parseNumber(header, 148, 8, "checksum");
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : header[i];
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return stored === unsigned || stored === signed;
}

/** Parses pax extended header records `"<len> <key>=<value>\n"`. */
function parsePax(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < body.length) {
    const space = body.indexOf(0x20, pos);
    if (space < 0) throw new Error("bad pax record");
    const len = Number(body.subarray(pos, space).toString("latin1"));
    if (!Number.isSafeInteger(len) || len <= space - pos || pos + len > body.length) throw new Error("bad pax record length");
    const record = body.subarray(space + 1, pos + len - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq < 0) throw new Error("bad pax record");
    out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return out;
}

function entryType(flag: string): TarEntryType {
  if (flag === "0" || flag === "\0" || flag === "7") return "file";
  if (flag === "5") return "directory";
  if (flag === "1" || flag === "2") return "link";
  return "other";
}

/**
 * Reads a tar stream entry by entry. Malformed input (bad checksum, truncation, bad numbers) is a
 * ToolError naming `subject` and the byte offset. The caller must finish with one entry's body
 * before the next is produced; unread bytes are skipped.
 */
export async function* readTar(source: AsyncIterable<Uint8Array>, subject: string): AsyncGenerator<TarEntry> {
  const r = new ByteReader(source);
  let pax = new Map<string, string>();
  let longName: string | undefined;
  const fail = (msg: string): never => {
    throw new ToolError(subject, `not a valid tar file: ${msg} (byte ${r.offset})`);
  };
  for (;;) {
    let header: Buffer | undefined;
    try {
      header = await r.read(BLOCK);
    } catch (err) {
      fail((err as Error).message);
    }
    if (header === undefined) return; // end without the two zero blocks: accepted, as GNU tar does
    if (header.every((b) => b === 0)) return;
    let size = 0;
    try {
      if (!checksumOk(header)) fail("header checksum mismatch");
      size = parseNumber(header, 124, 12, "size");
    } catch (err) {
      if (err instanceof ToolError) throw err;
      fail((err as Error).message);
    }
    const typeflag = String.fromCharCode(header[156] || 0x30);
    const padded = Math.ceil(size / BLOCK) * BLOCK;

    if (typeflag === "x" || typeflag === "g" || typeflag === "L" || typeflag === "K") {
      if (size > MAX_META_BYTES) fail(`extended header of ${size} bytes`);
      let body: Buffer;
      try {
        body = (await r.read(padded)) ?? fail("truncated extended header");
      } catch (err) {
        return fail((err as Error).message);
      }
      body = body.subarray(0, size);
      try {
        if (typeflag === "x") pax = parsePax(body);
        else if (typeflag === "L") longName = cString(body, 0, body.length);
      } catch (err) {
        fail((err as Error).message);
      }
      continue; // "g" (global) and "K" (long link name) carry nothing we use
    }

    const magic = header.subarray(257, 262).toString("latin1");
    let path = cString(header, 0, 100);
    if (magic === "ustar") {
      const prefix = cString(header, 345, 155);
      if (prefix !== "" && header[263] === 0x30 /* POSIX "00", not GNU */) path = `${prefix}/${path}`;
    }
    if (longName !== undefined) path = longName;
    if (pax.has("path")) path = pax.get("path")!;
    if (pax.has("size")) {
      const s = Number(pax.get("size"));
      if (!Number.isSafeInteger(s) || s < 0) fail(`bad pax size ${pax.get("size")}`);
      size = s;
    }
    pax = new Map();
    longName = undefined;
    const type = entryType(typeflag);
    const dataPadded = Math.ceil(size / BLOCK) * BLOCK;

    let consumed = 0;
    const body = (async function* () {
      try {
        for await (const chunk of r.chunks(size)) {
          consumed += chunk.length;
          yield chunk;
        }
      } catch (err) {
        fail((err as Error).message);
      }
    })();
    yield { path, type, typeflag, size, body };
    // skip what the caller left, then the padding
    try {
      for await (const chunk of r.chunks(size - consumed)) void chunk;
      for await (const chunk of r.chunks(dataPadded - size)) void chunk;
    } catch (err) {
      fail((err as Error).message);
    }
  }
}

/** Writes a tar stream through `sink`, one entry at a time. */
export class TarWriter {
  constructor(private readonly sink: (chunk: Buffer) => Promise<void>) {}

  /** Adds a folder entry (mode 0755). */
  async addDirectory(path: string, mtime: Date): Promise<void> {
    await this.writeHeader(path.endsWith("/") ? path : `${path}/`, "5", 0, 0o755, mtime);
  }

  /** Adds a file entry (mode 0644) whose body must be exactly `size` bytes. */
  async addFile(path: string, size: number, body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, mtime: Date): Promise<void> {
    await this.writeHeader(path, "0", size, 0o644, mtime);
    let written = 0;
    for await (const chunk of body) {
      written += chunk.byteLength;
      if (written > size) throw new ToolError(path, `grew while being archived (more than ${size} bytes)`);
      await this.sink(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
    if (written !== size) throw new ToolError(path, `is ${written} bytes, expected ${size}`);
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad) await this.sink(Buffer.alloc(pad));
  }

  /** The two zero blocks that end an archive. */
  async finish(): Promise<void> {
    await this.sink(Buffer.alloc(BLOCK * 2));
  }

  private async writeHeader(path: string, typeflag: string, size: number, mode: number, mtime: Date): Promise<void> {
    const nameBytes = Buffer.from(path, "utf8");
    const records: string[] = [];
    if (nameBytes.length > 100 || /[^\x20-\x7e]/.test(path)) records.push(paxRecord("path", path));
    if (size > MAX_OCTAL_SIZE) records.push(paxRecord("size", String(size)));
    if (records.length > 0) {
      const body = Buffer.from(records.join(""), "utf8");
      await this.sink(ustarHeader("PaxHeader", "x", body.length, 0o644, mtime));
      await this.sink(body);
      const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
      if (pad) await this.sink(Buffer.alloc(pad));
    }
    const shortName = nameBytes.length > 100 ? nameBytes.subarray(nameBytes.length - 100).toString("latin1") : path;
    await this.sink(ustarHeader(shortName, typeflag, size > MAX_OCTAL_SIZE ? 0 : size, mode, mtime));
  }
}

/** A pax record `"<len> key=value\n"`, where len counts the whole record including its own digits. */
function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  const restLen = Buffer.byteLength(rest, "utf8");
  let len = restLen + 1;
  while (String(len).length + restLen !== len) len = String(len).length + restLen;
  return `${len}${rest}`;
}

function ustarHeader(name: string, typeflag: string, size: number, mode: number, mtime: Date): Buffer {
  const h = Buffer.alloc(BLOCK);
  const octal = (value: number, start: number, len: number) => {
    h.write(`${value.toString(8).padStart(len - 1, "0")}\0`, start, len, "latin1");
  };
  h.write(name, 0, 100, "utf8");
  octal(mode, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(Math.max(0, Math.floor(mtime.getTime() / 1000)), 136, 12);
  h.write(typeflag, 156, 1, "latin1");
  h.write("ustar\0" + "00", 257, 8, "latin1");
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i];
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
  return h;
}
