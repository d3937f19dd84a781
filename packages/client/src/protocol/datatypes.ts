// KServe v2 tensor datatypes: names, element sizes, TypedArray views and Triton config enum names.
// Shared by the client and the reference server so both agree on the wire layout to the byte.

export const DATATYPES = [
  "BOOL",
  "UINT8",
  "UINT16",
  "UINT32",
  "UINT64",
  "INT8",
  "INT16",
  "INT32",
  "INT64",
  "FP16",
  "BF16",
  "FP32",
  "FP64",
  "BYTES",
] as const;

export type DataType = (typeof DATATYPES)[number];

/** Fixed-size datatypes: every datatype but BYTES. */
export type FixedDataType = Exclude<DataType, "BYTES">;

/** The TypedArray that holds each fixed-size datatype's elements (FP16/BF16 as raw 16-bit words). */
export interface TypedArrayFor {
  BOOL: Uint8Array;
  UINT8: Uint8Array;
  UINT16: Uint16Array;
  UINT32: Uint32Array;
  UINT64: BigUint64Array;
  INT8: Int8Array;
  INT16: Int16Array;
  INT32: Int32Array;
  INT64: BigInt64Array;
  FP16: Uint16Array;
  BF16: Uint16Array;
  FP32: Float32Array;
  FP64: Float64Array;
}

export type NumericTypedArray = TypedArrayFor[FixedDataType];

type TypedArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): NumericTypedArray;
  new (length: number): NumericTypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

export const TYPED_ARRAY: { readonly [K in FixedDataType]: TypedArrayCtor } = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  BF16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
} as const;

const ELEMENT_SIZE: { readonly [K in DataType]: number } = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  BF16: 2,
  FP32: 4,
  FP64: 8,
  BYTES: 0,
};

const DATATYPE_SET: ReadonlySet<string> = new Set(DATATYPES);

export function isDataType(value: unknown): value is DataType {
  return typeof value === "string" && DATATYPE_SET.has(value);
}

/** Bytes per element; 0 for BYTES, whose elements are length-prefixed. */
export function elementSize(datatype: DataType): number {
  return ELEMENT_SIZE[datatype];
}

/** Element count of a shape; throws on a negative or non-integer dimension. */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`invalid dimension ${d} in shape [${shape.join(",")}]`);
    n *= d;
  }
  return n;
}

/** Triton model-config enum name (TYPE_FP32) for a KServe datatype (FP32); BYTES is TYPE_STRING. */
export function toConfigDataType(datatype: DataType): string {
  return datatype === "BYTES" ? "TYPE_STRING" : `TYPE_${datatype}`;
}

/** KServe datatype for a Triton model-config enum name; undefined when it names none. */
export function fromConfigDataType(name: string): DataType | undefined {
  if (name === "TYPE_STRING") return "BYTES";
  if (!name.startsWith("TYPE_")) return undefined;
  const d = name.slice(5);
  return d !== "BYTES" && isDataType(d) ? d : undefined;
}
