// Output Tensors -> Arrow vectors over the same memory where the layouts agree: numeric tensors become
// primitive vectors (rank 1) or FixedSizeList vectors (rank >= 2, one list per row of the first dimension)
// whose value buffer IS the tensor's TypedArray. BOOL (bit packing), BF16 (no Arrow type: widened to
// Float32) and BYTES (Arrow offsets + one value buffer) are copied.
import {
  Binary,
  Bool,
  Field,
  FixedSizeList,
  Float16,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  LargeList,
  List,
  Table,
  Uint16,
  Uint32,
  Uint64,
  Uint8,
  Utf8,
  makeData,
  makeVector,
  type Data,
  type DataType as ArrowType,
  type Vector,
} from "apache-arrow";
import { InferenceError } from "../errors.ts";
import type { BytesData } from "../tensor.ts";
import { Tensor } from "../tensor.ts";

export interface ToArrowOptions {
  /** BYTES as Utf8 (strings) instead of Binary. Default false. */
  utf8?: boolean;
}

const encoder = new TextEncoder();

function primitiveType(t: Tensor): ArrowType {
  switch (t.datatype) {
    case "INT8":
      return new Int8();
    case "INT16":
      return new Int16();
    case "INT32":
      return new Int32();
    case "INT64":
      return new Int64();
    case "UINT8":
      return new Uint8();
    case "UINT16":
      return new Uint16();
    case "UINT32":
      return new Uint32();
    case "UINT64":
      return new Uint64();
    case "FP16":
      return new Float16();
    case "FP32":
    case "BF16":
      return new Float32();
    case "FP64":
      return new Float64();
    case "BOOL":
      return new Bool();
    case "BYTES":
      return new Binary();
  }
}

/** The flat (all elements) Arrow data of a tensor. */
function flatData(t: Tensor, options: ToArrowOptions): Data {
  const n = t.size;
  switch (t.datatype) {
    case "BOOL": {
      const src = t.data as Uint8Array;
      const bits = new Uint8Array((n + 7) >> 3);
      for (let i = 0; i < n; i++) if (src[i] !== 0) bits[i >> 3]! |= 1 << (i & 7);
      return makeData({ type: new Bool(), length: n, data: bits });
    }
    case "BF16":
      return makeData({ type: new Float32(), data: t.toFloat32() });
    case "BYTES": {
      const elements = t.data as BytesData;
      const encoded = elements.map((e) => (typeof e === "string" ? encoder.encode(e) : e));
      const offsets = new Int32Array(n + 1);
      let total = 0;
      for (let i = 0; i < n; i++) {
        total += encoded[i]!.byteLength;
        if (total > 0x7fffffff) throw new InferenceError("invalid_argument", `tensor "${t.name}": BYTES data over 2 GiB does not fit Arrow Binary offsets`);
        offsets[i + 1] = total;
      }
      const values = new Uint8Array(total);
      for (let i = 0; i < n; i++) values.set(encoded[i]!, offsets[i]!);
      return options.utf8
        ? makeData({ type: new Utf8(), length: n, valueOffsets: offsets, data: values })
        : makeData({ type: new Binary(), length: n, valueOffsets: offsets, data: values });
    }
    default:
      // Same element layout: the vector's value buffer is the tensor's TypedArray.
      return makeData({ type: primitiveType(t) as Int32, data: t.data as Int32Array });
  }
}

/** Wraps flat data in FixedSizeLists for each trailing dimension, innermost first. */
function nest(flat: Data, dims: readonly number[]): Data {
  let d = flat;
  for (let k = dims.length - 1; k >= 1; k--) {
    // Lists at this level: one per index of the dimensions before it.
    let length = 1;
    for (let j = 0; j < k; j++) length *= dims[j]!;
    d = makeData({ type: new FixedSizeList(dims[k]!, new Field("item", d.type, false)), length, child: d, nullCount: 0 });
  }
  return d;
}

/**
 * An Arrow Vector of the tensor: rank 0 or 1 -> a primitive vector of its elements; rank >= 2 ->
 * FixedSizeList vectors, one list per row of the first dimension (nested for rank >= 3). Numeric data is
 * shared, not copied; BOOL is bit-packed, BF16 widened to Float32, BYTES laid out as Binary (or Utf8).
 */
export function tensorToArrow(tensor: Tensor, options: ToArrowOptions = {}): Vector {
  if (!(tensor instanceof Tensor)) throw new InferenceError("invalid_argument", "tensorToArrow: expected a Tensor");
  return makeVector(nest(flatData(tensor, options), tensor.shape));
}

/**
 * Flattened values plus row offsets (e.g. from flattenRagged, or outputs and offsets a server returned) as
 * an Arrow List (INT32 offsets) or LargeList (INT64) vector: one list per event, sharing both buffers
 * when the offsets start at 0.
 */
export function raggedToArrow(values: Tensor, offsets: Tensor, options: ToArrowOptions = {}): Vector {
  if (!(values instanceof Tensor) || !(offsets instanceof Tensor))
    throw new InferenceError("invalid_argument", "raggedToArrow: values and offsets must be Tensors");
  if (offsets.datatype !== "INT32" && offsets.datatype !== "INT64")
    throw new InferenceError("invalid_argument", `raggedToArrow: offsets "${offsets.name}" must be INT32 or INT64, got ${offsets.datatype}`);
  const o = offsets.data as Int32Array | BigInt64Array;
  const rows = values.shape.length === 0 ? 1 : values.shape[0]!;
  if (o.length === 0 || Number(o[0]!) !== 0 || Number(o[o.length - 1]!) !== rows)
    throw new InferenceError(
      "invalid_argument",
      `raggedToArrow: offsets "${offsets.name}" must run from 0 to the ${rows} rows of "${values.name}"`,
    );
  for (let i = 1; i < o.length; i++)
    if (o[i]! < o[i - 1]!) throw new InferenceError("invalid_argument", `raggedToArrow: offsets "${offsets.name}" decrease at entry ${i}`);
  const child = nest(flatData(values, options), values.shape);
  const field = new Field("item", child.type, false);
  const data =
    offsets.datatype === "INT64"
      ? makeData({ type: new LargeList(field), length: o.length - 1, valueOffsets: o as BigInt64Array, child, nullCount: 0 })
      : makeData({ type: new List(field), length: o.length - 1, valueOffsets: o as Int32Array, child, nullCount: 0 });
  return makeVector(data as Data);
}

/**
 * An Arrow Table with one column per tensor (named after it), e.g. of an InferResult's outputs. All
 * tensors need the same first dimension (rank-0 tensors count as 1 row).
 */
export function tensorsToTable(tensors: readonly Tensor[], options: ToArrowOptions = {}): Table {
  const columns: Record<string, Vector> = {};
  let rows: number | undefined;
  for (const t of tensors) {
    const v = tensorToArrow(t, options);
    if (rows !== undefined && v.length !== rows)
      throw new InferenceError("invalid_argument", `tensorsToTable: tensor "${t.name}" has ${v.length} rows, earlier tensors ${rows}`);
    rows = v.length;
    columns[t.name] = v;
  }
  return new Table(columns);
}
