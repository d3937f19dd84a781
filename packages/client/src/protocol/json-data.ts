// Conversion between KServe v2 JSON tensor data (flat or nested arrays) and the raw little-endian
// layout used by the binary extension and gRPC raw contents.
import { TYPED_ARRAY, elementSize, type DataType, type FixedDataType } from "./datatypes.ts";
import { decodeBytesElements, encodeBytesElements } from "./bytes-elements.ts";

declare global {
  // JSON.rawJSON (Node >= 21) is not in TypeScript's lib yet.
  interface JSON {
    rawJSON(text: string): unknown;
  }
}

export type JsonScalar = number | boolean | string | bigint;

function flatten(data: unknown, out: unknown[]): void {
  if (Array.isArray(data)) for (const d of data) flatten(d, out);
  else out.push(data);
}

/** Flattens nested JSON arrays in row-major order. A scalar becomes a one-element list. */
export function flattenJsonData(data: unknown): unknown[] {
  if (Array.isArray(data) && data.every((d) => !Array.isArray(d))) return data;
  const out: unknown[] = [];
  flatten(data, out);
  return out;
}

function isIntegerLike(v: unknown): v is number | bigint {
  return typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v));
}

const INT_RANGE: Partial<Record<FixedDataType, [number, number]>> = {
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
  UINT32: [0, 0xffffffff],
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  INT32: [-0x80000000, 0x7fffffff],
};

/**
 * Packs JSON tensor data into the raw wire layout of `datatype`.
 * `where` names the tensor in error messages. Throws a TypeError/RangeError that says which element
 * is wrong and what was expected; `count` (when given) must match the element count.
 */
export function jsonToRaw(datatype: DataType, data: unknown, where: string, count?: number): Buffer {
  const flat = flattenJsonData(data);
  if (count !== undefined && flat.length !== count)
    throw new RangeError(`${where}: data has ${flat.length} elements, shape needs ${count}`);
  if (datatype === "BYTES") {
    const elems: (string | Uint8Array)[] = [];
    for (let i = 0; i < flat.length; i++) {
      const v = flat[i];
      if (typeof v !== "string") throw new TypeError(`${where}: element ${i} is ${typeof v}, BYTES data must be strings`);
      elems.push(v);
    }
    return encodeBytesElements(elems);
  }
  if (datatype === "FP16" || datatype === "BF16")
    throw new TypeError(`${where}: ${datatype} data cannot be sent as JSON; use the binary tensor extension`);
  const buf = Buffer.alloc(flat.length * elementSize(datatype));
  const arr = new TYPED_ARRAY[datatype](buf.buffer, buf.byteOffset, flat.length);
  if (datatype === "BOOL") {
    for (let i = 0; i < flat.length; i++) {
      const v = flat[i];
      if (typeof v !== "boolean") throw new TypeError(`${where}: element ${i} is ${describeElement(v)}, BOOL data must be true or false`);
      arr[i] = v ? 1 : 0;
    }
  } else if (datatype === "INT64" || datatype === "UINT64") {
    const lo = datatype === "INT64" ? -(1n << 63n) : 0n;
    const hi = datatype === "INT64" ? (1n << 63n) - 1n : (1n << 64n) - 1n;
    for (let i = 0; i < flat.length; i++) {
      const v = flat[i];
      if (!isIntegerLike(v)) throw new TypeError(`${where}: element ${i} is ${describeElement(v)}, ${datatype} data must be integers`);
      const b = BigInt(v);
      if (b < lo || b > hi) throw new RangeError(`${where}: element ${i} (${b}) is out of range for ${datatype}`);
      arr[i] = b as never;
    }
  } else if (datatype === "FP32" || datatype === "FP64") {
    for (let i = 0; i < flat.length; i++) {
      const v = flat[i];
      if (typeof v !== "number") throw new TypeError(`${where}: element ${i} is ${describeElement(v)}, ${datatype} data must be numbers`);
      arr[i] = v as never;
    }
  } else {
    const [lo, hi] = INT_RANGE[datatype]!;
    for (let i = 0; i < flat.length; i++) {
      const v = flat[i];
      if (typeof v !== "number" || !Number.isInteger(v))
        throw new TypeError(`${where}: element ${i} is ${describeElement(v)}, ${datatype} data must be integers`);
      if (v < lo || v > hi) throw new RangeError(`${where}: element ${i} (${v}) is out of range for ${datatype}`);
      arr[i] = v as never;
    }
  }
  return buf;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/**
 * Unpacks raw wire data into a flat JSON-ready array: numbers, booleans, strings for BYTES
 * (UTF-8 decoded) and bigints for INT64/UINT64 (serialize with `stringifyJson`).
 */
export function rawToJson(datatype: DataType, raw: Uint8Array): JsonScalar[] {
  if (datatype === "BYTES") return decodeBytesElements(raw).map((e) => utf8.decode(e));
  if (datatype === "FP16" || datatype === "BF16")
    throw new TypeError(`${datatype} data cannot be returned as JSON; request binary output`);
  const size = elementSize(datatype);
  if (raw.byteLength % size !== 0) throw new RangeError(`${raw.byteLength} bytes is not a whole number of ${datatype} elements`);
  const n = raw.byteLength / size;
  // Copy when misaligned: TypedArray views need an offset that is a multiple of the element size.
  const src = raw.byteOffset % size === 0 ? raw : Uint8Array.prototype.slice.call(raw);
  const arr = new TYPED_ARRAY[datatype](src.buffer, src.byteOffset, n);
  if (datatype === "BOOL") return Array.from(arr as Uint8Array, (v) => v !== 0);
  return Array.from(arr as ArrayLike<JsonScalar>);
}

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? JSON.rawJSON(value.toString()) : value;
}

/** JSON.stringify that writes bigints as exact JSON numbers (uint64 counters, INT64 data). */
export function stringifyJson(value: unknown): string {
  return JSON.stringify(value, bigintReplacer);
}

const BIG_INT_TEXT = /^-?\d{16,}$/;
const SIXTEEN_DIGITS = /\d{16}/;

/**
 * JSON.parse that keeps integers beyond 2^53 exact, as bigints. Only integer literals of 16+ digits
 * that do not fit a double exactly become bigints; everything else parses as usual.
 */
export function parseJson(text: string): unknown {
  // A reviver makes JSON.parse several times slower on large data arrays; without a run of 16 digits
  // no literal can need a bigint, so skip it.
  if (!SIXTEEN_DIGITS.test(text)) return JSON.parse(text);
  return JSON.parse(text, function (this: unknown, _key: string, value: unknown, context?: { source?: string }) {
    if (typeof value === "number" && !Number.isSafeInteger(value) && context?.source && BIG_INT_TEXT.test(context.source))
      return BigInt(context.source);
    return value;
  } as never);
}

/** An element value for an error message; bigints (integers past 2^53 from parseJson) print exactly. */
function describeElement(value: unknown): string {
  if (typeof value === "bigint") return value.toString();
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
