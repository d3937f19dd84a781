// A hand-written protobuf codec for the common ModelInfer messages: requests whose tensors carry their data
// in raw_input_contents and no parameters, and answers with raw_output_contents and no parameters. Under
// load, protobufjs' decode + toObject (int64 shapes through Long.toString) and fromObject + encode were 8% of
// the gRPC front end's main-thread time plus the garbage they leave. Anything else (parameters, typed
// contents, groups, malformed input) goes to the protobufjs (de)serializer, which stays the reference: this
// decoder yields exactly the object proto-loader makes with { keepCase, longs: String, defaults, oneofs }.

type Deserialize = (bytes: Buffer) => unknown;
type Serialize = (value: unknown) => Buffer;

/** Thrown inside the fast decoders: the message needs the full decoder. */
export const FALLBACK = Symbol("fallback");

export class Reader {
  pos: number;
  readonly end: number;
  readonly buf: Buffer;
  constructor(buf: Buffer, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** A varint below 2^53 (lengths, tags); larger ones fall back. */
  uint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw FALLBACK;
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw FALLBACK;
  }

  /** An int64 varint as proto-loader's longs: String gives it (two's complement, so -1 is "-1"). */
  int64String(): string {
    const start = this.pos;
    let small = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw FALLBACK;
      const b = this.buf[this.pos++]!;
      if (i < 7) small += (b & 0x7f) * scale;
      scale *= 128;
      if (b < 0x80) {
        if (i < 7) return String(small);
        let v = 0n;
        for (let k = this.pos - 1; k >= start; k--) v = (v << 7n) | BigInt(this.buf[k]! & 0x7f);
        return BigInt.asIntN(64, v).toString();
      }
    }
    throw FALLBACK;
  }

  bytesEnd(): number {
    const n = this.uint();
    const end = this.pos + n;
    if (end > this.end) throw FALLBACK;
    return end;
  }

  string(): string {
    const end = this.bytesEnd();
    const s = this.buf.toString("utf8", this.pos, end);
    this.pos = end;
    return s;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.uint64Skip();
    else if (wireType === 2) this.pos = this.bytesEnd();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 5) this.pos += 4;
    else throw FALLBACK;
    if (this.pos > this.end) throw FALLBACK;
  }

  private uint64Skip(): void {
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw FALLBACK;
      if (this.buf[this.pos++]! < 0x80) return;
    }
    throw FALLBACK;
  }
}

interface FastInput {
  name: string;
  datatype: string;
  shape: string[];
  parameters: Record<string, never>;
  contents: null;
}

function readInput(r: Reader, end: number): FastInput {
  const t: FastInput = { name: "", datatype: "", shape: [], parameters: {}, contents: null };
  while (r.pos < end) {
    const tag = r.uint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 2) t.name = r.string();
    else if (field === 2 && wire === 2) t.datatype = r.string();
    else if (field === 3 && wire === 2) {
      const stop = r.bytesEnd();
      while (r.pos < stop) t.shape.push(r.int64String());
      if (r.pos !== stop) throw FALLBACK;
    } else if (field === 3 && wire === 0) t.shape.push(r.int64String());
    else if (field === 4 || field === 5) throw FALLBACK; // parameters, contents
    else r.skip(wire);
  }
  if (r.pos !== end) throw FALLBACK;
  return t;
}

function readOutput(r: Reader, end: number): { name: string; parameters: Record<string, never> } {
  const o = { name: "", parameters: {} };
  while (r.pos < end) {
    const tag = r.uint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 2) o.name = r.string();
    else if (field === 2) throw FALLBACK; // parameters
    else r.skip(wire);
  }
  if (r.pos !== end) throw FALLBACK;
  return o;
}

/** The ModelInferRequest object, or undefined when the message needs the full decoder. */
export function decodeInferRequestFast(bytes: Buffer): unknown {
  try {
    const r = new Reader(bytes, 0, bytes.length);
    const message = {
      model_name: "",
      model_version: "",
      id: "",
      parameters: {},
      inputs: [] as FastInput[],
      outputs: [] as { name: string; parameters: Record<string, never> }[],
      raw_input_contents: [] as Buffer[],
    };
    while (r.pos < r.end) {
      const tag = r.uint();
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (wire === 2 && field >= 1 && field <= 7) {
        if (field === 4) throw FALLBACK; // parameters
        const end = r.bytesEnd();
        if (field === 1) message.model_name = bytes.toString("utf8", r.pos, end);
        else if (field === 2) message.model_version = bytes.toString("utf8", r.pos, end);
        else if (field === 3) message.id = bytes.toString("utf8", r.pos, end);
        else if (field === 5) message.inputs.push(readInput(r, end));
        else if (field === 6) message.outputs.push(readOutput(r, end));
        else message.raw_input_contents.push(bytes.subarray(r.pos, end));
        r.pos = end;
      } else if (field >= 1 && field <= 7) {
        throw FALLBACK; // a known field with an unexpected wire type: let protobufjs report it
      } else {
        r.skip(wire);
      }
    }
    return message;
  } catch (err) {
    if (err === FALLBACK) return undefined;
    throw err;
  }
}

export function inferRequestDeserializer(fallback: Deserialize): Deserialize {
  return (bytes) => decodeInferRequestFast(bytes) ?? fallback(bytes);
}

// ---- ModelInferResponse -------------------------------------------------------------------------------

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

export function writeVarint(out: Buffer, at: number, n: number): number {
  while (n >= 128) {
    out[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}

interface FastOutput {
  name: string;
  datatype: string;
  shape: readonly number[];
}

function isFastOutput(o: unknown): o is FastOutput {
  if (typeof o !== "object" || o === null) return false;
  const t = o as Record<string, unknown>;
  if (typeof t.name !== "string" || typeof t.datatype !== "string" || !Array.isArray(t.shape)) return false;
  if (t.parameters !== undefined || t.contents !== undefined) return false;
  for (const d of t.shape) if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) return false;
  return true;
}

/**
 * The ModelInferResponse bytes, or undefined when the message needs the full encoder. With `headroom`,
 * that many bytes are left free before the message (the gRPC frame prefix), so no copy is needed to frame it.
 */
export function encodeInferResponseFast(value: unknown, headroom = 0): Buffer | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const m = value as Record<string, unknown>;
  if (m.parameters !== undefined) return undefined;
  const { model_name, model_version, id, outputs, raw_output_contents: raw } = m;
  if (typeof model_name !== "string" || typeof model_version !== "string" || typeof id !== "string") return undefined;
  if (!Array.isArray(outputs) || !Array.isArray(raw)) return undefined;
  for (const o of outputs) if (!isFastOutput(o)) return undefined;
  for (const b of raw) if (!(b instanceof Uint8Array)) return undefined;

  const nameBytes = Buffer.byteLength(model_name);
  const versionBytes = Buffer.byteLength(model_version);
  const idBytes = Buffer.byteLength(id);
  const outputSizes: { name: number; datatype: number; shape: number; body: number }[] = [];
  let size = 0;
  if (nameBytes > 0) size += 1 + varintSize(nameBytes) + nameBytes;
  if (versionBytes > 0) size += 1 + varintSize(versionBytes) + versionBytes;
  if (idBytes > 0) size += 1 + varintSize(idBytes) + idBytes;
  for (const o of outputs as FastOutput[]) {
    const name = Buffer.byteLength(o.name);
    const datatype = Buffer.byteLength(o.datatype);
    let shape = 0;
    for (const d of o.shape) shape += varintSize(d);
    let body = 0;
    if (name > 0) body += 1 + varintSize(name) + name;
    if (datatype > 0) body += 1 + varintSize(datatype) + datatype;
    if (o.shape.length > 0) body += 1 + varintSize(shape) + shape;
    outputSizes.push({ name, datatype, shape, body });
    size += 1 + varintSize(body) + body;
  }
  for (const b of raw as Uint8Array[]) size += 1 + varintSize(b.byteLength) + b.byteLength;

  const out = Buffer.allocUnsafe(headroom + size);
  let at = headroom;
  const str = (field: number, s: string, n: number): void => {
    if (n === 0) return;
    out[at++] = (field << 3) | 2;
    at = writeVarint(out, at, n);
    at += out.write(s, at, "utf8");
  };
  str(1, model_name, nameBytes);
  str(2, model_version, versionBytes);
  str(3, id, idBytes);
  (outputs as FastOutput[]).forEach((o, i) => {
    const s = outputSizes[i]!;
    out[at++] = (5 << 3) | 2;
    at = writeVarint(out, at, s.body);
    str(1, o.name, s.name);
    str(2, o.datatype, s.datatype);
    if (o.shape.length > 0) {
      out[at++] = (3 << 3) | 2;
      at = writeVarint(out, at, s.shape);
      for (const d of o.shape) at = writeVarint(out, at, d);
    }
  });
  for (const b of raw as Uint8Array[]) {
    out[at++] = (6 << 3) | 2;
    at = writeVarint(out, at, b.byteLength);
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}

export function inferResponseSerializer(fallback: Serialize): Serialize {
  return (value) => encodeInferResponseFast(value) ?? fallback(value);
}

/** The ModelInferResponse as one uncompressed gRPC frame (flag byte, 4-byte big-endian length, message). */
export function frameInferResponse(value: unknown, fallback: Serialize): Buffer {
  let frame = encodeInferResponseFast(value, 5);
  if (frame === undefined) {
    const message = fallback(value);
    frame = Buffer.allocUnsafe(5 + message.length);
    message.copy(frame, 5);
  }
  frame[0] = 0;
  // Above 4 GiB the prefix cannot hold the length; the caller's send limit (at most 2 GiB) refuses such frames.
  if (frame.length - 5 <= 0xffffffff) frame.writeUInt32BE(frame.length - 5, 1);
  return frame;
}
