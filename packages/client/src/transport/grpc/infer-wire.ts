// Protobuf wire format of ModelInferRequest / ModelInferResponse, written by hand for the infer hot path.
// protobufjs builds the request through generic per-field writers and copies every raw tensor into its
// own buffer chain; here the small fields are written once into a scratch buffer and each raw tensor is
// copied exactly once into the final message. Responses are read into the same object shape protobufjs
// produces with LOADER_OPTIONS (so infer-codec.ts is unchanged), raw_output_contents as views of the
// received message. Anything this codec does not handle (typed `contents`) goes to protobufjs.

type Serialize = (value: unknown) => Buffer;
type Deserialize = (bytes: Buffer) => unknown;

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** Growable scratch writer for the small fields. */
class Writer {
  buf: Buffer;
  pos = 0;

  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(n: number): void {
    this.ensure(10);
    const b = this.buf;
    while (n > 0x7f) {
      b[this.pos++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    b[this.pos++] = n;
  }

  /** int64/uint64 from a number, bigint or decimal string; negatives as 10-byte two's complement. */
  varint64(v: number | bigint | string): void {
    if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return this.varint(v);
    let x = BigInt.asUintN(64, typeof v === "bigint" ? v : BigInt(v));
    this.ensure(10);
    while (x > 0x7fn) {
      this.buf[this.pos++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.pos++] = Number(x);
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  string(field: number, s: string): void {
    const n = Buffer.byteLength(s);
    this.tag(field, WIRE_LEN);
    this.varint(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }

  bytes(field: number, b: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(b.byteLength);
    this.ensure(b.byteLength);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }

  double(field: number, v: number): void {
    this.tag(field, WIRE_I64);
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** A length-delimited sub-message written by `body` (length patched in afterwards). */
  message(field: number, body: () => void): void {
    this.tag(field, WIRE_LEN);
    // Reserve 5 bytes for the length (enough for 2^35); shift back if fewer are needed.
    this.ensure(5);
    const at = this.pos;
    this.pos += 5;
    body();
    const len = this.pos - at - 5;
    const lenBytes = varintSize(len);
    if (lenBytes < 5) this.buf.copy(this.buf, at + lenBytes, at + 5, this.pos);
    this.pos -= 5 - lenBytes;
    let p = at;
    let n = len;
    while (n > 0x7f) {
      this.buf[p++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[p] = n;
  }
}

function varintSize(n: number): number {
  let size = 1;
  while (n > 0x7f) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

interface WireParam {
  bool_param?: boolean;
  int64_param?: string | number;
  string_param?: string;
  double_param?: number;
  uint64_param?: string | number;
}

function writeParameters(w: Writer, field: number, params: Record<string, WireParam> | undefined): void {
  if (!params) return;
  for (const key of Object.keys(params)) {
    const p = params[key]!;
    w.message(field, () => {
      w.string(1, key);
      w.message(2, () => {
        if (p.bool_param !== undefined) {
          w.tag(1, WIRE_VARINT);
          w.varint(p.bool_param ? 1 : 0);
        } else if (p.int64_param !== undefined) {
          w.tag(2, WIRE_VARINT);
          w.varint64(p.int64_param);
        } else if (p.string_param !== undefined) w.string(3, p.string_param);
        else if (p.double_param !== undefined) w.double(4, p.double_param);
        else if (p.uint64_param !== undefined) {
          w.tag(5, WIRE_VARINT);
          w.varint64(p.uint64_param);
        }
      });
    });
  }
}

const REQUEST_KEYS = new Set(["model_name", "model_version", "id", "parameters", "inputs", "outputs", "raw_input_contents"]);
const INPUT_KEYS = new Set(["name", "datatype", "shape", "parameters"]);

interface WireInput {
  name?: string;
  datatype?: string;
  shape?: readonly (number | string)[];
  parameters?: Record<string, WireParam>;
}

/** Whether the hand codec covers this request (no typed contents, only known fields). */
function handled(m: Record<string, unknown>): boolean {
  for (const k in m) if (!REQUEST_KEYS.has(k)) return false;
  const inputs = m.inputs as WireInput[] | undefined;
  if (inputs) for (const t of inputs) for (const k in t) if (!INPUT_KEYS.has(k)) return false;
  return true;
}

/** ModelInferRequest -> bytes; raw tensors are copied once, straight into the message. */
export function serializeInferRequest(value: unknown, fallback: Serialize): Buffer {
  const m = value as Record<string, unknown>;
  if (m === null || typeof m !== "object" || !handled(m)) return fallback(value);
  return joinRaw(writeFields(m), (m.raw_input_contents as Uint8Array[] | undefined) ?? []);
}

/** Raw inputs at least this large (in all) go out as their own chunks instead of being copied into the message. */
const CHUNKED_RAW_BYTES = 64 * 1024;

/**
 * ModelInferRequest -> the message as a list of chunks whose concatenation is the serialized message:
 * large raw tensors are views of the caller's memory (never copied), small requests one buffer.
 */
export function serializeInferRequestChunks(value: unknown, fallback: Serialize): Uint8Array[] {
  const m = value as Record<string, unknown>;
  if (m === null || typeof m !== "object" || !handled(m)) return [fallback(value)];
  const w = writeFields(m);
  const raw = (m.raw_input_contents as Uint8Array[] | undefined) ?? [];
  let rawBytes = 0;
  for (const r of raw) rawBytes += r.byteLength;
  if (rawBytes < CHUNKED_RAW_BYTES) return [joinRaw(w, raw)];
  const chunks: Uint8Array[] = [];
  // Each raw entry's tag and length go at the end of the preceding small chunk.
  let head = w;
  for (const r of raw) {
    head.tag(7, WIRE_LEN);
    head.varint(r.byteLength);
    if (r.byteLength < 4096) {
      head.ensure(r.byteLength);
      head.buf.set(r, head.pos);
      head.pos += r.byteLength;
      continue;
    }
    chunks.push(head.buf.subarray(0, head.pos), r);
    head = new Writer(16);
  }
  if (head.pos > 0) chunks.push(head.buf.subarray(0, head.pos));
  return chunks;
}

/**
 * A request's fields other than raw_input_contents as their own buffer (kept by infer-request-layout.ts);
 * undefined when the hand codec does not cover the request.
 */
export function requestFieldBytes(value: Record<string, unknown>): Buffer | undefined {
  if (!handled(value)) return undefined;
  const w = writeFields(value);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/** Everything but raw_input_contents. */
function writeFields(m: Record<string, unknown>): Writer {
  const w = new Writer();
  if (m.model_name) w.string(1, m.model_name as string);
  if (m.model_version) w.string(2, m.model_version as string);
  if (m.id) w.string(3, m.id as string);
  writeParameters(w, 4, m.parameters as Record<string, WireParam> | undefined);
  for (const t of (m.inputs as WireInput[] | undefined) ?? []) {
    w.message(5, () => {
      if (t.name) w.string(1, t.name);
      if (t.datatype) w.string(2, t.datatype);
      const shape = t.shape ?? [];
      if (shape.length > 0) {
        w.message(3, () => {
          for (const d of shape) w.varint64(d);
        });
      }
      writeParameters(w, 4, t.parameters);
    });
  }
  for (const o of (m.outputs as { name?: string; parameters?: Record<string, WireParam> }[] | undefined) ?? []) {
    w.message(6, () => {
      if (o.name) w.string(1, o.name);
      writeParameters(w, 2, o.parameters);
    });
  }
  return w;
}

/** The small fields followed by the raw entries, in one buffer (each raw tensor copied once). */
function joinRaw(w: Writer, raw: readonly Uint8Array[]): Buffer {
  let total = w.pos;
  for (const r of raw) total += 1 + varintSize(r.byteLength) + r.byteLength;
  if (raw.length === 0) return w.buf.subarray(0, w.pos);
  const out = Buffer.allocUnsafe(total);
  w.buf.copy(out, 0, 0, w.pos);
  let pos = w.pos;
  for (const r of raw) {
    out[pos++] = (7 << 3) | WIRE_LEN;
    let n = r.byteLength;
    while (n > 0x7f) {
      out[pos++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    out[pos++] = n;
    out.set(r, pos);
    pos += r.byteLength;
  }
  return out;
}

/** Signals the response needs protobufjs (typed contents). */
class NeedsFallback extends Error {}

class Reader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;

  constructor(buf: Buffer, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new RangeError("truncated varint");
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw new RangeError("varint longer than 10 bytes");
  }

  /** 64-bit varint as a decimal string, exact (`signed`: int64 two's complement). */
  varint64String(signed: boolean): string {
    const start = this.pos;
    const n = this.varint();
    if (Number.isSafeInteger(n) && (!signed || this.pos - start < 10)) return String(n);
    let x = 0n;
    for (let i = this.pos - 1; i >= start; i--) x = (x << 7n) | BigInt(this.buf[i]! & 0x7f);
    return (signed ? BigInt.asIntN(64, x) : BigInt.asUintN(64, x)).toString();
  }

  lengthDelimited(): [number, number] {
    const n = this.varint();
    const s = this.pos;
    if (s + n > this.end) throw new RangeError(`field of ${n} bytes overruns the message`);
    this.pos = s + n;
    return [s, s + n];
  }

  string(): string {
    const [s, e] = this.lengthDelimited();
    return this.buf.toString("utf8", s, e);
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_I64) this.pos += 8;
    else if (wire === WIRE_LEN) this.lengthDelimited();
    else if (wire === WIRE_I32) this.pos += 4;
    else throw new RangeError(`unsupported wire type ${wire}`);
    if (this.pos > this.end) throw new RangeError("field overruns the message");
  }
}

function readParameter(r: Reader, into: Record<string, WireParam>): void {
  const [s, e] = r.lengthDelimited();
  const entry = new Reader(r.buf, s, e);
  let key = "";
  let value: WireParam = {};
  while (entry.pos < entry.end) {
    const tag = entry.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === WIRE_LEN) key = entry.string();
    else if (field === 2 && wire === WIRE_LEN) {
      const [vs, ve] = entry.lengthDelimited();
      const p = new Reader(r.buf, vs, ve);
      value = {};
      while (p.pos < p.end) {
        const t = p.varint();
        const f = t >>> 3;
        const w = t & 7;
        if (f === 1 && w === WIRE_VARINT) value = { bool_param: p.varint() !== 0 };
        else if (f === 2 && w === WIRE_VARINT) value = { int64_param: p.varint64String(true) };
        else if (f === 3 && w === WIRE_LEN) value = { string_param: p.string() };
        else if (f === 4 && w === WIRE_I64) {
          value = { double_param: r.buf.readDoubleLE(p.pos) };
          p.pos += 8;
        } else if (f === 5 && w === WIRE_VARINT) value = { uint64_param: p.varint64String(false) };
        else p.skip(w);
      }
    } else entry.skip(wire);
  }
  into[key] = value;
}

interface WireOutputOut {
  name?: string;
  datatype?: string;
  shape: string[];
  parameters: Record<string, WireParam>;
}

function readOutput(r: Reader): WireOutputOut {
  const [s, e] = r.lengthDelimited();
  const o = new Reader(r.buf, s, e);
  const out: WireOutputOut = { shape: [], parameters: {} };
  while (o.pos < o.end) {
    const tag = o.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === WIRE_LEN) out.name = o.string();
    else if (field === 2 && wire === WIRE_LEN) out.datatype = o.string();
    else if (field === 3 && wire === WIRE_LEN) {
      const [ps, pe] = o.lengthDelimited();
      const p = new Reader(r.buf, ps, pe);
      while (p.pos < p.end) out.shape.push(p.varint64String(true));
    } else if (field === 3 && wire === WIRE_VARINT) out.shape.push(o.varint64String(true));
    else if (field === 4 && wire === WIRE_LEN) readParameter(o, out.parameters);
    else if (field === 5) throw new NeedsFallback();
    else o.skip(wire);
  }
  return out;
}

/** ModelInferResponse bytes -> the protobufjs-shaped object; raw outputs are views of `bytes`. */
export function deserializeInferResponse(bytes: Buffer, fallback: Deserialize): unknown {
  try {
    const r = new Reader(bytes, 0, bytes.length);
    const res: Record<string, unknown> = {};
    const parameters: Record<string, WireParam> = {};
    const outputs: WireOutputOut[] = [];
    const raw: Buffer[] = [];
    while (r.pos < r.end) {
      const tag = r.varint();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1 && wire === WIRE_LEN) res.model_name = r.string();
      else if (field === 2 && wire === WIRE_LEN) res.model_version = r.string();
      else if (field === 3 && wire === WIRE_LEN) res.id = r.string();
      else if (field === 4 && wire === WIRE_LEN) readParameter(r, parameters);
      else if (field === 5 && wire === WIRE_LEN) outputs.push(readOutput(r));
      else if (field === 6 && wire === WIRE_LEN) {
        const [s, e] = r.lengthDelimited();
        raw.push(bytes.subarray(s, e));
      } else r.skip(wire);
    }
    res.parameters = parameters;
    res.outputs = outputs;
    res.raw_output_contents = raw;
    return res;
  } catch (e) {
    // Typed contents, or bytes this reader finds malformed: protobufjs decides (and words the error).
    if (e instanceof NeedsFallback || e instanceof RangeError) return fallback(bytes);
    throw e;
  }
}
