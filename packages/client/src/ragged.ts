// Ragged (variable-length) events <-> one flattened tensor plus row offsets, as tracking-as-a-service
// clients send them: events of different hit counts go out as one [total_hits, features] tensor, and the
// flattened outputs come back split per event. Offsets count rows (the first dimension), Arrow-style:
// offsets[i] .. offsets[i + 1] are event i's rows, offsets[0] = 0, offsets[events] = total rows.
import { InferenceError } from "./errors.ts";
import { TYPED_ARRAY, isDataType, type DataType, type FixedDataType, type NumericTypedArray } from "./protocol/datatypes.ts";
import { Tensor, type BytesData, type TensorDataFor } from "./tensor.ts";

/** Datatype of the offsets tensor: INT64 (default, as torch index tensors and Arrow LargeList) or INT32. */
export type OffsetsDataType = "INT64" | "INT32";

export type RaggedScalar = number | bigint | boolean;

/**
 * One event: its flat elements (a TypedArray of the datatype's container, or a plain array), its rows (an
 * array of per-row arrays, e.g. hits x features), a BYTES element list, or a Tensor whose first dimension
 * counts rows.
 */
export type RaggedEvent = NumericTypedArray | readonly RaggedScalar[] | readonly ArrayLike<RaggedScalar>[] | BytesData | Tensor;

export interface FlattenOptions {
  /**
   * Elements per row. Default: the length of the rows for nested rows, the trailing dimensions for Tensor
   * events, else 1 with 1-D values. When given, values have shape [rows, width].
   */
  width?: number;
  /** Name of the offsets tensor. Default `${name}_OFFSETS`. */
  offsetsName?: string;
  /** Datatype of the offsets tensor. Default "INT64". */
  offsetsType?: OffsetsDataType;
}

export interface RaggedTensor<T extends DataType = DataType> {
  /** All events' rows back to back: shape [totalRows, ...rowShape]. */
  values: Tensor<T>;
  /** Row offsets, shape [events + 1]. */
  offsets: Tensor<OffsetsDataType>;
  /** Rows per event. */
  counts: number[];
}

export interface SplitOptions {
  /** Elements per row when the flattened tensor is 1-D but rows are wider (e.g. [hits * 3]). Default: product of shape[1:]. */
  width?: number;
}

function invalid(message: string): InferenceError {
  return new InferenceError("invalid_argument", message);
}

function checkWidth(where: string, width: number | undefined): void {
  if (width !== undefined && (!Number.isSafeInteger(width) || width < 1))
    throw invalid(`${where}: width must be a positive integer, got ${String(width)}`);
}

const isNested = (e: unknown): boolean => Array.isArray(e) && e.length > 0 && (Array.isArray(e[0]) || ArrayBuffer.isView(e[0]));

/** One event reduced to its flat elements and the row shape it implies. */
interface Part {
  flat: ArrayLike<unknown>;
  /** Rows of a nested event (copied row by row); undefined for flat events. */
  rows?: readonly ArrayLike<unknown>[];
  rowShape: number[] | undefined;
}

function partOf(name: string, datatype: DataType, e: unknown, i: number): Part {
  if (e instanceof Tensor) {
    if (e.datatype !== datatype) throw invalid(`flattenRagged "${name}": event ${i} is a ${e.datatype} tensor, expected ${datatype}`);
    if (e.shape.length === 0) throw invalid(`flattenRagged "${name}": event ${i} is a scalar tensor; events need a row dimension`);
    return { flat: e.data as ArrayLike<unknown>, rowShape: e.shape.slice(1) };
  }
  if (datatype !== "BYTES" && isNested(e)) {
    const rows = e as readonly ArrayLike<unknown>[];
    return { flat: [], rows, rowShape: [rows[0]!.length] };
  }
  if (ArrayBuffer.isView(e) || Array.isArray(e)) return { flat: e as ArrayLike<unknown>, rowShape: undefined };
  throw invalid(`flattenRagged "${name}": event ${i} is ${describe(e)}, expected a TypedArray, an array of values or rows, or a Tensor`);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  return typeof v;
}

const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Flattens events into one tensor `name` of `datatype` with shape [totalRows, ...rowShape], plus the row
 * offsets tensor. When the events' elements already lie back to back in one ArrayBuffer (a single event,
 * or subarrays of one array, e.g. events split by splitByOffsets), the values tensor is a view of that
 * memory; otherwise the elements are copied once into a new array.
 */
export function flattenRagged<T extends DataType>(
  name: string,
  datatype: T,
  events: readonly RaggedEvent[],
  options: FlattenOptions = {},
): RaggedTensor<T> {
  if (!isDataType(datatype)) throw invalid(`flattenRagged "${name}": unknown datatype ${JSON.stringify(datatype)}`);
  if (!Array.isArray(events)) throw invalid(`flattenRagged "${name}": events must be an array, got ${describe(events)}`);
  checkWidth(`flattenRagged "${name}"`, options.width);
  const offsetsType = options.offsetsType ?? "INT64";
  if (offsetsType !== "INT64" && offsetsType !== "INT32")
    throw invalid(`flattenRagged "${name}": offsetsType must be "INT64" or "INT32", got ${JSON.stringify(offsetsType)}`);

  const parts = events.map((e, i) => partOf(name, datatype, e, i));
  // Every event must agree on the row shape; flat events take it from `width`.
  let rowShape: number[] | undefined = options.width === undefined ? undefined : [options.width];
  for (let i = 0; i < parts.length; i++) {
    const s = parts[i]!.rowShape;
    if (s === undefined) continue;
    // Rows agree when they hold as many elements ([3] and [1, 3] both describe 3 features a hit).
    if (rowShape === undefined) rowShape = s;
    else if (product(rowShape) !== product(s))
      throw invalid(`flattenRagged "${name}": event ${i} has rows of shape [${s.join(",")}], earlier events [${rowShape.join(",")}]`);
  }
  rowShape ??= [];
  const rowSize = product(rowShape);

  const counts: number[] = new Array(parts.length);
  let totalElements = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.rows) {
      for (let r = 0; r < p.rows.length; r++) {
        const row = p.rows[r]!;
        if (row === null || typeof row !== "object" || row.length !== rowSize)
          throw invalid(`flattenRagged "${name}": event ${i} row ${r} has ${row?.length ?? describe(row)} elements, rows need ${rowSize}`);
      }
      counts[i] = p.rows.length;
      totalElements += p.rows.length * rowSize;
    } else {
      const n = p.flat.length;
      if (n % rowSize !== 0) throw invalid(`flattenRagged "${name}": event ${i} has ${n} elements, not a multiple of the row width ${rowSize}`);
      counts[i] = n / rowSize;
      totalElements += n;
    }
  }

  const totalRows = totalElements / rowSize;
  const values = new Tensor(name, datatype, [totalRows, ...rowShape], gather(name, datatype, parts, totalElements) as TensorDataFor<T>);
  return { values, offsets: offsetsTensor(options.offsetsName ?? `${name}_OFFSETS`, offsetsType, counts), counts };
}

function gather(name: string, datatype: DataType, parts: Part[], total: number): NumericTypedArray | BytesData {
  if (datatype === "BYTES") {
    const out: (string | Uint8Array)[] = new Array(total);
    let k = 0;
    for (const p of parts) {
      const src = (p.rows ?? [p.flat]) as ArrayLike<string | Uint8Array>[];
      for (const s of src) for (let j = 0; j < s.length; j++) out[k++] = s[j]!;
    }
    return out;
  }
  const ctor = TYPED_ARRAY[datatype as FixedDataType];
  const view = contiguousView(ctor, parts, total);
  if (view) return view;
  const out = new ctor(total);
  const big = datatype === "INT64" || datatype === "UINT64";
  let k = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    for (const src of p.rows ?? [p.flat]) {
      if (src instanceof ctor) {
        out.set(src as never, k);
        k += src.length;
        continue;
      }
      for (let j = 0; j < src.length; j++, k++) {
        const v = src[j];
        try {
          (out as unknown as unknown[])[k] = convert(v, big, datatype);
        } catch (e) {
          throw invalid(`flattenRagged "${name}": event ${i} element ${j}: ${(e as Error).message}`);
        }
      }
    }
  }
  return out;
}

function convert(v: unknown, big: boolean, datatype: DataType): number | bigint {
  if (typeof v === "boolean") return big ? BigInt(v ? 1 : 0) : v ? 1 : 0;
  if (typeof v === "number") {
    if (big) {
      if (!Number.isSafeInteger(v)) throw new Error(`${v} is not an exact integer for ${datatype}`);
      return BigInt(v);
    }
    return v;
  }
  if (typeof v === "bigint") {
    if (!big) throw new Error(`bigint ${v} given for ${datatype}; use numbers`);
    return v;
  }
  throw new Error(`${describe(v)} is not a ${datatype} value`);
}

/** A view over the events when they are TypedArrays of the right type lying back to back in one buffer. */
function contiguousView(
  ctor: (typeof TYPED_ARRAY)[FixedDataType],
  parts: Part[],
  total: number,
): NumericTypedArray | undefined {
  let first: NumericTypedArray | undefined;
  let end = 0;
  for (const p of parts) {
    if (p.rows) return undefined;
    const a = p.flat;
    if (!(a instanceof ctor)) return undefined;
    if (a.length === 0) continue;
    if (first === undefined) first = a;
    else if (a.buffer !== first.buffer || a.byteOffset !== end) return undefined;
    end = a.byteOffset + a.byteLength;
  }
  if (first === undefined) return new ctor(0);
  return new ctor(first.buffer, first.byteOffset, total);
}

function offsetsTensor(name: string, type: OffsetsDataType, counts: readonly number[]): Tensor<OffsetsDataType> {
  let sum = 0;
  if (type === "INT32") {
    const out = new Int32Array(counts.length + 1);
    for (let i = 0; i < counts.length; i++) {
      sum += counts[i]!;
      if (sum > 0x7fffffff) throw invalid(`offsets "${name}": ${sum} rows do not fit INT32 offsets; use offsetsType "INT64"`);
      out[i + 1] = sum;
    }
    return new Tensor(name, "INT32", [out.length], out);
  }
  const out = new BigInt64Array(counts.length + 1);
  for (let i = 0; i < counts.length; i++) out[i + 1] = BigInt((sum += counts[i]!));
  return new Tensor(name, "INT64", [out.length], out);
}

function integers(what: string, v: Tensor | ArrayLike<number | bigint>): number[] {
  let src: ArrayLike<number | bigint>;
  if (v instanceof Tensor) {
    if (v.datatype === "BYTES" || v.datatype === "BOOL" || v.datatype.startsWith("FP") || v.datatype === "BF16")
      throw invalid(`${what}: needs an integer tensor, "${v.name}" is ${v.datatype}`);
    src = v.data as ArrayLike<number | bigint>;
  } else if (v !== null && typeof v === "object" && typeof (v as ArrayLike<unknown>).length === "number") {
    src = v;
  } else {
    throw invalid(`${what}: expected a Tensor or an array of integers, got ${describe(v)}`);
  }
  const out: number[] = new Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const n = Number(src[i]);
    if (!Number.isSafeInteger(n) || n < 0) throw invalid(`${what}: entry ${i} is ${String(src[i])}, expected a non-negative integer`);
    out[i] = n;
  }
  return out;
}

/**
 * Splits a flattened tensor into one tensor per event by row offsets (length events + 1, starting at 0,
 * non-decreasing, ending at the tensor's row count). Each part is a view of the tensor's data (no copy).
 */
export function splitByOffsets<T extends DataType>(values: Tensor<T>, offsets: Tensor | ArrayLike<number | bigint>, options: SplitOptions = {}): Tensor<T>[] {
  if (!(values instanceof Tensor)) throw invalid(`splitByOffsets: values must be a Tensor, got ${describe(values)}`);
  const what = `splitByOffsets "${values.name}"`;
  const o = integers(`${what}: offsets`, offsets);
  const layout = rowLayout(what, values, options);
  const rows = layout.rows;
  if (o.length === 0) throw invalid(`${what}: offsets are empty; they need events + 1 entries starting at 0`);
  if (o[0] !== 0) throw invalid(`${what}: offsets start at ${o[0]}, expected 0`);
  for (let i = 1; i < o.length; i++)
    if (o[i]! < o[i - 1]!) throw invalid(`${what}: offsets decrease at entry ${i} (${o[i - 1]} then ${o[i]})`);
  if (o[o.length - 1] !== rows) throw invalid(`${what}: offsets end at ${o[o.length - 1]}, the tensor has ${rows} rows`);
  return cut(values, o, layout);
}

/** Splits a flattened tensor into one tensor per event by row counts (summing to the row count); views, no copy. */
export function splitByCounts<T extends DataType>(values: Tensor<T>, counts: Tensor | ArrayLike<number | bigint>, options: SplitOptions = {}): Tensor<T>[] {
  if (!(values instanceof Tensor)) throw invalid(`splitByCounts: values must be a Tensor, got ${describe(values)}`);
  const what = `splitByCounts "${values.name}"`;
  const c = integers(`${what}: counts`, counts);
  const layout = rowLayout(what, values, options);
  const rows = layout.rows;
  const o = new Array<number>(c.length + 1);
  o[0] = 0;
  for (let i = 0; i < c.length; i++) o[i + 1] = o[i]! + c[i]!;
  if (o[c.length] !== rows) throw invalid(`${what}: counts add up to ${o[c.length]} rows, the tensor has ${rows}`);
  return cut(values, o, layout);
}

interface RowLayout {
  rows: number;
  rowSize: number;
  rowShape: number[];
}

function rowLayout(what: string, values: Tensor, options: SplitOptions): RowLayout {
  checkWidth(what, options.width);
  if (values.shape.length === 0) throw invalid(`${what}: a scalar tensor has no rows`);
  const rowShape = options.width !== undefined ? [options.width] : values.shape.slice(1);
  const rowSize = product(rowShape);
  if (rowSize === 0) return { rows: values.shape[0]!, rowSize, rowShape };
  if (values.size % rowSize !== 0) throw invalid(`${what}: ${values.size} elements are not a whole number of rows of width ${rowSize}`);
  return { rows: values.size / rowSize, rowSize, rowShape };
}

function cut<T extends DataType>(values: Tensor<T>, offsets: number[], { rowSize, rowShape }: RowLayout): Tensor<T>[] {
  const out: Tensor<T>[] = new Array(offsets.length - 1);
  const data = values.data as NumericTypedArray | BytesData;
  for (let i = 0; i + 1 < offsets.length; i++) {
    const a = offsets[i]! * rowSize;
    const b = offsets[i + 1]! * rowSize;
    const part = ArrayBuffer.isView(data) ? (data as NumericTypedArray).subarray(a, b) : (data as BytesData).slice(a, b);
    out[i] = new Tensor(values.name, values.datatype, [offsets[i + 1]! - offsets[i]!, ...rowShape], part as TensorDataFor<T>);
  }
  return out;
}
