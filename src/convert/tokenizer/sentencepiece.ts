/**
 * A reader of just the parts of SentencePiece's `tokenizer.model` (a protobuf `ModelProto`, see
 * sentencepiece_model.proto) a GGUF needs: the pieces with their scores and types, the trainer's
 * byte_fallback, and the normalizer's add_dummy_prefix. Every length is checked
 * against the bytes left, so a corrupt file is a one-line error, never a huge allocation.
 */
import { ToolError } from "../../formats/errors.ts";
import { TokenType } from "./keys.ts";

/** `SentencePiece.Type`; the numbers are gguf-py's TokenType too. */
export interface SentencePiece {
  piece: string;
  score: number;
  type: TokenType;
}

export interface SentencePieceModel {
  pieces: SentencePiece[];
  /** TrainerSpec.byte_fallback (default false) */
  byteFallback: boolean;
  /** NormalizerSpec.add_dummy_prefix (default true): a space is prepended to the text */
  addDummyPrefix: boolean;
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** Protobuf wire-format cursor over one message's bytes. */
class ProtoReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    readonly file: string,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  fail(what: string): never {
    throw new ToolError(this.file, `not a SentencePiece model: ${what} at byte ${this.pos}`);
  }

  /** A varint as a number; values above 2^53 only occur in fields we skip or treat as flags. */
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    return this.fail("varint longer than 10 bytes");
  }

  /** The [start, end) of a length-delimited field, checked against the enclosing message. */
  lengthDelimited(): [number, number] {
    const len = this.varint();
    if (len > this.end - this.pos) this.fail(`field length ${len} runs past the end of its message`);
    const start = this.pos;
    this.pos += len;
    return [start, this.pos];
  }

  float32(): number {
    if (this.end - this.pos < 4) this.fail("truncated float");
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
        if (this.end - this.pos < 8) this.fail("truncated fixed64");
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.lengthDelimited();
        return;
      case WIRE_I32:
        if (this.end - this.pos < 4) this.fail("truncated fixed32");
        this.pos += 4;
        return;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
  }

  /** field number and wire type of the next field */
  tag(): [number, number] {
    const key = this.varint();
    const field = Math.floor(key / 8);
    if (field === 0) this.fail("field number 0");
    return [field, key & 7];
  }
}

const utf8 = new TextDecoder("utf-8");

function readPiece(r: ProtoReader, start: number, end: number): SentencePiece {
  const m = new ProtoReader(r.buf, r.file, start, end);
  let piece: string | undefined;
  let score = 0;
  let type = TokenType.NORMAL;
  while (!m.done) {
    const [field, wire] = m.tag();
    if (field === 1 && wire === WIRE_LEN) {
      const [s, e] = m.lengthDelimited();
      piece = utf8.decode(m.buf.subarray(s, e));
    } else if (field === 2 && wire === WIRE_I32) {
      score = m.float32();
    } else if (field === 3 && wire === WIRE_VARINT) {
      const t = m.varint();
      if (t < TokenType.NORMAL || t > TokenType.BYTE) m.fail(`piece type ${t} is not one of SentencePiece's 1-6`);
      type = t;
    } else {
      m.skip(wire);
    }
  }
  if (piece === undefined) r.fail("a piece without text");
  return { piece, score, type };
}

/** Parses a `tokenizer.model`; `file` names it in errors. */
export function parseSentencePieceModel(buf: Uint8Array, file: string): SentencePieceModel {
  const r = new ProtoReader(buf, file, 0, buf.length);
  const model: SentencePieceModel = { pieces: [], byteFallback: false, addDummyPrefix: true };
  while (!r.done) {
    const [field, wire] = r.tag();
    if (wire !== WIRE_LEN || field > 5) {
      r.skip(wire);
      continue;
    }
    const [start, end] = r.lengthDelimited();
    if (field === 1) model.pieces.push(readPiece(r, start, end));
    else if (field === 2) readTrainerSpec(new ProtoReader(buf, file, start, end), model);
    else if (field === 3) readNormalizerSpec(new ProtoReader(buf, file, start, end), model);
  }
  if (model.pieces.length === 0) throw new ToolError(file, "not a SentencePiece model: it has no pieces");
  return model;
}

function readTrainerSpec(m: ProtoReader, model: SentencePieceModel): void {
  while (!m.done) {
    const [field, wire] = m.tag();
    if (field === 35 && wire === WIRE_VARINT) model.byteFallback = m.varint() !== 0;
    else m.skip(wire);
  }
}

function readNormalizerSpec(m: ProtoReader, model: SentencePieceModel): void {
  while (!m.done) {
    const [field, wire] = m.tag();
    if (field === 3 && wire === WIRE_VARINT) model.addDummyPrefix = m.varint() !== 0;
    else m.skip(wire);
  }
}
