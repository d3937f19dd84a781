// Tensors as the client sees them: a name, a KServe datatype, a shape and the elements in the TypedArray
// that matches the datatype (BYTES: an array of byte strings). Raw wire bytes are wrapped, not copied.
import {
  TYPED_ARRAY,
  elementCount,
  elementSize,
  isDataType,
  type DataType,
  type FixedDataType,
  type NumericTypedArray,
  type TypedArrayFor,
} from "./protocol/datatypes.ts";
import { bytesWireSize, decodeBytesElements, encodeBytesElements } from "./protocol/bytes-elements.ts";
import { fromBf16, fromFp16, toBf16, toFp16 } from "./protocol/half.ts";
import { jsonToRaw, type JsonScalar } from "./protocol/json-data.ts";
import { InferenceError } from "./errors.ts";

/** BYTES elements: byte strings, or text (sent UTF-8 encoded). */
export type BytesData = readonly (Uint8Array | string)[];

/** The element container for each datatype. */
export type TensorDataFor<T extends DataType> = T extends FixedDataType ? TypedArrayFor[T] : BytesData;

export type TensorData = NumericTypedArray | BytesData;

/** Where a tensor's bytes lie in a registered system shared-memory region (Triton's system_shared_memory). */
export interface SharedMemoryRef {
  /** Name the region was registered under (registerSystemSharedMemory). */
  region: string;
  /** Byte offset of the tensor inside the registered region. */
  offset: number;
  /** Bytes of the region the tensor may occupy. */
  byteSize: number;
}

// Stands in for the data of a tensor held in shared memory. Not exported: only fromSharedMemory and the
// response decoders make tensors without data.
class InRegion {
  readonly ref: SharedMemoryRef;
  constructor(ref: SharedMemoryRef) {
    this.ref = ref;
  }
}

const utf8 = new TextDecoder("utf-8");

/**
 * Set just before `new Tensor` by code of this module that has checked the arguments itself (fromRaw,
 * rawTensor): the constructor then skips its checks (they would run a second time) and clears it.
 */
let trusted = false;
/** Gives a tensor made by rawTensor its bytes (a private field: set from inside the class). */
let holdRaw: (t: Tensor, raw: Uint8Array) => void;

/** Unaligned copies up to this size share slabs of SLAB_BYTES (as Buffer.allocUnsafe's pool does). */
const SLAB_COPY_MAX = 1024;
const SLAB_BYTES = 8192;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabView = new Uint8Array(slab);
let slabUsed = 0;

/**
 * `raw` (not aligned for `ctor`) copied into aligned memory, as a `ctor` of `count` elements. Small copies
 * go into a shared slab: one TypedArray each and no ArrayBuffer of their own (a fresh small typed array's
 * buffer would be moved off the V8 heap on first use, which costs several times the copy).
 */
function alignedCopy(ctor: (typeof TYPED_ARRAY)[FixedDataType], raw: Uint8Array, count: number): NumericTypedArray {
  const n = raw.byteLength;
  if (n > SLAB_COPY_MAX) {
    // new Uint8Array(raw) copies into fresh, aligned memory (Buffer#slice would only make another view).
    const copy = new Uint8Array(raw);
    return new ctor(copy.buffer, 0, count);
  }
  if (slabUsed + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabView = new Uint8Array(slab);
    slabUsed = 0;
  }
  const at = slabUsed;
  slabUsed = (at + n + 7) & ~7;
  slabView.set(raw, at);
  return new ctor(slab, at, count);
}

function invalid(message: string): InferenceError {
  return new InferenceError("invalid_argument", message);
}

function checkShape(name: string, shape: readonly number[]): number {
  if (!Array.isArray(shape)) throw invalid(`tensor "${name}": shape must be an array of dimensions`);
  try {
    return elementCount(shape);
  } catch (e) {
    throw invalid(`tensor "${name}": ${(e as Error).message}`);
  }
}

function checkDataType(name: string, datatype: unknown): asserts datatype is DataType {
  if (!isDataType(datatype)) throw invalid(`tensor "${name}": unknown datatype ${JSON.stringify(datatype)}`);
}

export class Tensor<T extends DataType = DataType> {
  readonly name: string;
  readonly datatype: T;
  readonly shape: readonly number[];
  /**
   * Set when the tensor's bytes are in a shared-memory region rather than in this object (an input made by
   * fromSharedMemory, or an output the server wrote to a region): `data` then throws.
   */
  readonly sharedMemory: SharedMemoryRef | undefined;
  /** The elements; undefined for a shared-memory tensor, or until first read when only #raw is held. */
  #data: TensorDataFor<T> | undefined;
  /**
   * Wire bytes when the tensor was decoded from them: BYTES data's encoding (reused by toRaw); for numeric
   * types the bytes a decoder gave (rawTensor), until `data` is first read.
   */
  #raw: Uint8Array | undefined;

  static {
    holdRaw = (t, raw) => {
      t.#raw = raw;
    };
  }

  /**
   * Validates that `data` is the container for `datatype` (BigInt64Array for INT64, Uint16Array for
   * FP16/BF16 bit patterns, Uint8Array for BOOL, ...) and holds exactly as many elements as `shape` needs.
   * Throws an InferenceError with code "invalid_argument" otherwise.
   */
  constructor(name: string, datatype: T, shape: readonly number[], data: TensorDataFor<T>) {
    if (trusted) {
      // Made by this module for arguments it checked (fromRaw, rawTensor): no second round of checks.
      trusted = false;
      this.name = name;
      this.datatype = datatype;
      this.shape = shape;
      this.sharedMemory = undefined;
      this.#data = data;
      return;
    }
    if (typeof name !== "string" || name === "") throw invalid("tensor name must be a non-empty string");
    checkDataType(name, datatype);
    const count = checkShape(name, shape);
    if ((data as unknown) instanceof InRegion) {
      this.name = name;
      this.datatype = datatype;
      this.shape = shape;
      this.sharedMemory = (data as unknown as InRegion).ref;
      return;
    }
    if (datatype === "BYTES") {
      if (!Array.isArray(data))
        throw invalid(`tensor "${name}": BYTES data must be an array of Uint8Array or string, got ${describe(data)}`);
      for (let i = 0; i < data.length; i++) {
        const e: unknown = data[i];
        if (typeof e !== "string" && !(e instanceof Uint8Array))
          throw invalid(`tensor "${name}": BYTES element ${i} is ${describe(e)}, expected Uint8Array or string`);
      }
    } else {
      const ctor = TYPED_ARRAY[datatype as FixedDataType];
      // TypedArray classes are unrelated to each other (Buffer, a Uint8Array subclass, passes for Uint8Array).
      if (!(data instanceof ctor))
        throw invalid(`tensor "${name}": ${datatype} data must be a ${ctor.name}, got ${describe(data)}`);
    }
    const length = (data as { length: number }).length;
    if (length !== count)
      throw invalid(`tensor "${name}": data has ${length} elements, shape [${shape.join(",")}] needs ${count}`);
    this.name = name;
    this.datatype = datatype;
    this.shape = shape;
    this.sharedMemory = undefined;
    this.#data = data;
  }

  /** The elements (see the constructor). Throws an InferenceError ("failed_precondition") for a shared-memory tensor. */
  get data(): TensorDataFor<T> {
    const d = this.#data;
    if (d !== undefined) return d;
    const raw = this.#raw;
    if (raw !== undefined) {
      // Wire bytes checked when the tensor was made (rawTensor): a view when aligned, else one copy. The
      // raw view is dropped either way (one object less per output held; toRaw makes a view of the data).
      const ctor = TYPED_ARRAY[this.datatype as FixedDataType];
      const count = raw.byteLength / ctor.BYTES_PER_ELEMENT;
      this.#raw = undefined;
      const data = raw.byteOffset % ctor.BYTES_PER_ELEMENT === 0 ? new ctor(raw.buffer, raw.byteOffset, count) : alignedCopy(ctor, raw, count);
      return (this.#data = data as TensorDataFor<T>);
    }
    const r = this.sharedMemory!;
    throw new InferenceError(
      "failed_precondition",
      `tensor "${this.name}" is in shared memory region "${r.region}" (offset ${r.offset}, ${r.byteSize} bytes): the client holds ` +
        "no data for it; read it from your mapping of the region (e.g. SharedMemoryRegion.readTensor from @iaas/client/shm)",
    );
  }

  /**
   * A tensor whose bytes are in the registered shared-memory region `location.region`, at `location.offset`
   * (default 0), taking `location.byteSize` bytes (default: what the shape needs; required for BYTES). Send it
   * as an input of infer(): the request then names the region instead of carrying data. It has no `data`.
   */
  static fromSharedMemory<T extends DataType>(
    name: string,
    datatype: T,
    shape: readonly number[],
    location: { region: string; offset?: number; byteSize?: number },
  ): Tensor<T> {
    checkDataType(name, datatype);
    const count = checkShape(name, shape);
    if (location === null || typeof location !== "object") throw invalid(`tensor "${name}": shared memory location must be { region, offset?, byteSize? }`);
    const { region, offset = 0 } = location;
    if (typeof region !== "string" || region === "") throw invalid(`tensor "${name}": shared memory region must be a non-empty string (the registered name)`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalid(`tensor "${name}": shared memory offset must be a non-negative integer, got ${String(offset)}`);
    const needed = datatype === "BYTES" ? undefined : count * elementSize(datatype);
    const byteSize = location.byteSize ?? needed;
    if (byteSize === undefined) throw invalid(`tensor "${name}": BYTES data in shared memory needs byteSize (its serialized length)`);
    if (!Number.isSafeInteger(byteSize) || byteSize < 0) throw invalid(`tensor "${name}": shared memory byteSize must be a non-negative integer, got ${String(byteSize)}`);
    if (needed !== undefined && byteSize < needed)
      throw invalid(`tensor "${name}": shared memory byteSize ${byteSize} is too small for ${datatype} shape [${shape.join(",")}] (needs ${needed})`);
    return new Tensor(name, datatype, shape, new InRegion({ region, offset, byteSize }) as unknown as TensorDataFor<T>);
  }

  /**
   * Wraps raw little-endian wire bytes: a TypedArray view over `raw` when it is aligned for the element
   * size (no copy), a copy only when it is not. BYTES are split into views of `raw`.
   */
  static fromRaw<T extends DataType>(name: string, datatype: T, shape: readonly number[], raw: Uint8Array): Tensor<T> {
    if (typeof name !== "string" || name === "") throw invalid("tensor name must be a non-empty string");
    checkDataType(name, datatype);
    const count = checkShape(name, shape);
    if (datatype === "BYTES") {
      let elements: Uint8Array[];
      try {
        elements = decodeBytesElements(raw, count);
      } catch (e) {
        throw invalid(`tensor "${name}": ${(e as Error).message}`);
      }
      trusted = true;
      const t = new Tensor(name, datatype, shape, elements as unknown as TensorDataFor<T>);
      t.#raw = raw;
      return t;
    }
    const size = elementSize(datatype);
    if (raw.byteLength !== count * size)
      throw invalid(
        `tensor "${name}": ${raw.byteLength} bytes of ${datatype} data, shape [${shape.join(",")}] needs ${count * size}`,
      );
    const ctor = TYPED_ARRAY[datatype as FixedDataType];
    const data = raw.byteOffset % size === 0 ? new ctor(raw.buffer, raw.byteOffset, count) : alignedCopy(ctor, raw, count);
    trusted = true;
    return new Tensor(name, datatype, shape, data as TensorDataFor<T>);
  }

  /** FP16/BF16 tensor from float values (rounded to nearest even). */
  static fromFloat32<T extends "FP16" | "BF16">(
    name: string,
    datatype: T,
    shape: readonly number[],
    values: ArrayLike<number>,
  ): Tensor<T> {
    if (datatype !== "FP16" && datatype !== "BF16") throw invalid(`tensor "${name}": fromFloat32 makes FP16 or BF16, not ${datatype}`);
    const bits = datatype === "FP16" ? toFp16(values) : toBf16(values);
    return new Tensor(name, datatype, shape, bits as TensorDataFor<T>);
  }

  /**
   * Tensor from JSON-style values (flat or nested arrays of numbers, booleans, bigints, strings), as in
   * a KServe v2 JSON body. FP16/BF16 take float values. Range and type errors name the element.
   */
  static fromJSON<T extends DataType>(name: string, datatype: T, shape: readonly number[], data: unknown): Tensor<T> {
    checkDataType(name, datatype);
    const count = checkShape(name, shape);
    if (datatype === "BYTES") {
      const flat = Array.isArray(data) ? (data as unknown[]).flat(Infinity) : [data];
      return new Tensor(name, datatype, shape, flat as unknown as TensorDataFor<T>);
    }
    if (datatype === "FP16" || datatype === "BF16") {
      const flat = Array.isArray(data) ? (data as unknown[]).flat(Infinity) : [data];
      for (let i = 0; i < flat.length; i++)
        if (typeof flat[i] !== "number") throw invalid(`tensor "${name}": element ${i} is ${describe(flat[i])}, ${datatype} data must be numbers`);
      return Tensor.fromFloat32(name, datatype, shape, flat as number[]) as Tensor<T>;
    }
    let raw: Buffer;
    try {
      raw = jsonToRaw(datatype, data, `tensor "${name}"`, count);
    } catch (e) {
      throw invalid((e as Error).message);
    }
    return Tensor.fromRaw(name, datatype, shape, raw);
  }

  /** Element count (product of the shape). */
  get size(): number {
    return this.#data === undefined ? elementCount(this.shape) : (this.#data as { length: number }).length;
  }


  /** Bytes on the wire: data bytes, or for BYTES the 4-byte length prefixes plus the element bytes. */
  get byteSize(): number {
    if (this.sharedMemory !== undefined) return this.sharedMemory.byteSize;
    if (this.datatype !== "BYTES") return this.#raw?.byteLength ?? (this.data as NumericTypedArray).byteLength;
    return this.#raw?.byteLength ?? bytesWireSize(this.data as BytesData);
  }

  /** Raw little-endian wire bytes: a view of the data for numeric types (no copy); BYTES are serialized. */
  toRaw(): Uint8Array {
    if (this.#raw !== undefined) return this.#raw;
    if (this.datatype === "BYTES") return encodeBytesElements(this.data as BytesData);
    const d = this.data as NumericTypedArray;
    // Not kept: a view per tensor would cost ~100 B of heap for every tensor a caller holds (inflight-memory.mjs).
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }

  /**
   * Values as float32: FP16/BF16 decoded, FP32 returned as is (not a copy), other numeric types converted.
   * BYTES cannot be converted.
   */
  toFloat32(): Float32Array {
    switch (this.datatype) {
      case "FP16":
        return fromFp16(this.data as Uint16Array);
      case "BF16":
        return fromBf16(this.data as Uint16Array);
      case "FP32":
        return this.data as Float32Array;
      case "BYTES":
        throw invalid(`tensor "${this.name}": BYTES data has no float32 view`);
      case "INT64":
      case "UINT64": {
        const d = this.data as BigInt64Array | BigUint64Array;
        const out = new Float32Array(d.length);
        for (let i = 0; i < d.length; i++) out[i] = Number(d[i]!);
        return out;
      }
      default:
        return Float32Array.from(this.data as ArrayLike<number>);
    }
  }

  /** BYTES elements decoded as UTF-8 text. */
  strings(): string[] {
    if (this.datatype !== "BYTES") throw invalid(`tensor "${this.name}": strings() needs BYTES data, this is ${this.datatype}`);
    return (this.data as BytesData).map((e) => (typeof e === "string" ? e : utf8.decode(e)));
  }

  /**
   * Flat JSON values: numbers, booleans for BOOL, bigints for INT64/UINT64 (write them with
   * stringifyJson), UTF-8 strings for BYTES, float numbers for FP16/BF16.
   */
  toJSONData(): JsonScalar[] {
    switch (this.datatype) {
      case "BYTES":
        return this.strings();
      case "BOOL":
        return Array.from(this.data as Uint8Array, (v) => v !== 0);
      case "FP16":
      case "BF16":
        return Array.from(this.toFloat32());
      default:
        return Array.from(this.data as ArrayLike<number | bigint>);
    }
  }
}

/**
 * A numeric tensor over wire bytes, for decoders that have checked the layout themselves: `datatype` is a
 * known fixed-size type, `shape` valid, `raw` exactly the bytes the shape needs, and not written to
 * afterwards. The TypedArray is made when `data` is first read (outputs never read cost no view): a view
 * of `raw` when aligned for the element size, else a copy (as fromRaw). Not part of the package's exports.
 */
export function rawTensor<T extends FixedDataType>(name: string, datatype: T, shape: readonly number[], raw: Uint8Array): Tensor<T> {
  trusted = true;
  const t = new Tensor<T>(name, datatype, shape, undefined as unknown as TensorDataFor<T>);
  holdRaw(t, raw);
  return t;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  return typeof v;
}
