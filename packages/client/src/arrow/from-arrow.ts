// Arrow columns -> input Tensors. Numeric columns without nulls become TypedArray views of the Arrow value
// buffer (no copy); FixedSizeList columns become [rows, width] (nested: [rows, w1, w2, ...]) over the child
// values; Utf8/Binary columns become BYTES elements that are views of the value buffer. Only booleans (bit
// packed in Arrow, one byte each in KServe) and columns of several chunks are copied.
import { Data, Type, Vector, type Table } from "apache-arrow";
import { InferenceError } from "../errors.ts";
import type { DataType, NumericTypedArray } from "../protocol/datatypes.ts";
import type { OffsetsDataType, RaggedTensor } from "../ragged.ts";
import { Tensor, type TensorDataFor } from "../tensor.ts";

/** An Arrow column: a Vector (one or more chunks) or a single Data chunk. */
export type ArrowColumn = Vector | Data;

export interface FromArrowOptions {
  /** Column name used in error messages (default: the tensor name). */
  column?: string;
}

/** The part of a chunk a tensor is made of. */
interface Converted {
  datatype: DataType;
  /** Trailing dimensions of one row (FixedSizeList widths). */
  rowShape: number[];
  data: NumericTypedArray | Uint8Array[];
}

function unsupported(column: string, message: string): InferenceError {
  return new InferenceError("invalid_argument", `Arrow column "${column}": ${message}`);
}

const INT_TYPES: Record<string, DataType> = {
  "8s": "INT8",
  "16s": "INT16",
  "32s": "INT32",
  "64s": "INT64",
  "8u": "UINT8",
  "16u": "UINT16",
  "32u": "UINT32",
  "64u": "UINT64",
};

function chunksOf(column: string, c: ArrowColumn): readonly Data[] {
  if (c instanceof Vector) return c.data;
  if (c instanceof Data) return [c];
  throw unsupported(column, `expected an Arrow Vector or Data, got ${c === null ? "null" : typeof c === "object" ? (c as object).constructor?.name : typeof c}`);
}

function noNulls(column: string, d: Data, what = ""): void {
  const nulls = d.nullCount;
  if (nulls > 0)
    throw unsupported(column, `${what}has ${nulls} null value${nulls === 1 ? "" : "s"} of ${d.length}; KServe tensors have no nulls (fill or drop them first)`);
}

/** Elements [0, count) of a primitive chunk: Arrow JS keeps primitive value buffers sliced to the chunk. */
function primitive(d: Data, count: number): NumericTypedArray {
  const values = d.values as NumericTypedArray;
  return values.length === count ? values : values.subarray(0, count);
}

function convert(column: string, d: Data, rows: number, what = ""): Converted {
  const t = d.type as { typeId: Type; bitWidth?: number; isSigned?: boolean; precision?: number; listSize?: number; byteWidth?: number };
  switch (t.typeId) {
    case Type.Int: {
      noNulls(column, d, what);
      const datatype = INT_TYPES[`${t.bitWidth}${t.isSigned ? "s" : "u"}`]!;
      return { datatype, rowShape: [], data: primitive(d, rows) };
    }
    case Type.Float: {
      noNulls(column, d, what);
      // Precision HALF = 0, SINGLE = 1, DOUBLE = 2; Arrow JS holds HALF as Uint16Array bit patterns, as FP16 does.
      const datatype: DataType = t.precision === 0 ? "FP16" : t.precision === 1 ? "FP32" : "FP64";
      return { datatype, rowShape: [], data: primitive(d, rows) };
    }
    case Type.Bool: {
      noNulls(column, d, what);
      const bits = d.values as Uint8Array;
      const out = new Uint8Array(rows);
      for (let i = 0, p = d.offset; i < rows; i++, p++) out[i] = (bits[p >> 3]! >> (p & 7)) & 1;
      return { datatype: "BOOL", rowShape: [], data: out };
    }
    case Type.Utf8:
    case Type.Binary:
    case Type.LargeUtf8:
    case Type.LargeBinary: {
      noNulls(column, d, what);
      const offsets = d.valueOffsets as Int32Array | BigInt64Array;
      const bytes = d.values as Uint8Array;
      const out: Uint8Array[] = new Array(rows);
      for (let i = 0; i < rows; i++) out[i] = bytes.subarray(Number(offsets[i]!), Number(offsets[i + 1]!));
      return { datatype: "BYTES", rowShape: [], data: out };
    }
    case Type.FixedSizeBinary: {
      noNulls(column, d, what);
      const w = t.byteWidth!;
      const bytes = d.values as Uint8Array;
      const out: Uint8Array[] = new Array(rows);
      for (let i = 0; i < rows; i++) out[i] = bytes.subarray(i * w, (i + 1) * w);
      return { datatype: "BYTES", rowShape: [], data: out };
    }
    case Type.FixedSizeList: {
      noNulls(column, d, what);
      const w = t.listSize!;
      // Arrow JS slices FixedSizeList children along with the list, so the child starts at this chunk's row 0.
      const child = convert(column, d.children[0]!, rows * w, `${what}list values `);
      return { datatype: child.datatype, rowShape: [w, ...child.rowShape], data: child.data };
    }
    case Type.List:
    case Type.LargeList:
      throw unsupported(column, `${what}is a variable-length ${String(d.type)} column: use raggedFromArrow for values + offsets`);
    default:
      throw unsupported(
        column,
        `${what}has Arrow type ${String(d.type)}, which has no KServe datatype (supported: Int8-64, Uint8-64, Float16/32/64, Bool, Utf8, Binary, LargeUtf8, LargeBinary, FixedSizeBinary, FixedSizeList of those)`,
      );
  }
}

function concatData(parts: Converted[], total: number): NumericTypedArray | Uint8Array[] {
  const first = parts[0]!.data;
  if (Array.isArray(first)) return (parts.map((p) => p.data) as Uint8Array[][]).flat();
  const out = new (first.constructor as new (n: number) => NumericTypedArray)(total);
  let k = 0;
  for (const p of parts) {
    out.set(p.data as never, k);
    k += (p.data as NumericTypedArray).length;
  }
  return out;
}

/** Converts every chunk and joins them (one copy when there are several chunks). */
function convertColumn(column: string, chunks: readonly Data[]): { datatype: DataType; shape: number[]; data: NumericTypedArray | Uint8Array[] } {
  if (chunks.length === 0) throw unsupported(column, "has no data chunks");
  const parts = chunks.map((d) => convert(column, d, d.length));
  const rows = chunks.reduce((n, d) => n + d.length, 0);
  const { datatype, rowShape } = parts[0]!;
  const rowSize = rowShape.reduce((a, b) => a * b, 1);
  if (parts.length === 1) return { datatype, shape: [rows, ...rowShape], data: parts[0]!.data };
  return { datatype, shape: [rows, ...rowShape], data: concatData(parts, rows * rowSize) };
}

/**
 * Builds tensor `name` from an Arrow column. Shape [rows] for primitive columns, [rows, w, ...] for
 * (nested) FixedSizeList columns. Throws an InferenceError ("invalid_argument") naming the column for
 * nulls, List columns (see raggedFromArrow) and types without a KServe datatype.
 */
export function tensorFromArrow(name: string, column: ArrowColumn, options: FromArrowOptions = {}): Tensor {
  const col = options.column ?? name;
  const { datatype, shape, data } = convertColumn(col, chunksOf(col, column));
  return new Tensor(name, datatype, shape, data as TensorDataFor<DataType>);
}

/**
 * One tensor per table column: `columns` lists column names (tensor name = column name) or maps tensor
 * names to column names. Default: every column.
 */
export function tensorsFromTable(table: Table, columns?: readonly string[] | Record<string, string>): Tensor[] {
  const pairs: [string, string][] =
    columns === undefined
      ? table.schema.fields.map((f) => [f.name, f.name])
      : Array.isArray(columns)
        ? (columns as string[]).map((c) => [c, c])
        : Object.entries(columns);
  return pairs.map(([tensorName, columnName]) => {
    const v = table.getChild(columnName);
    if (!v)
      throw new InferenceError(
        "invalid_argument",
        `Arrow table has no column "${columnName}" (columns: ${table.schema.fields.map((f) => f.name).join(", ")})`,
      );
    return tensorFromArrow(tensorName, v, { column: columnName });
  });
}

export interface RaggedFromArrowOptions extends FromArrowOptions {
  /** Name of the offsets tensor. Default `${name}_OFFSETS`. */
  offsetsName?: string;
}

/**
 * A List / LargeList column (one variable-length list per event, e.g. List<FixedSizeList<Float32, 3>> for
 * hits x features) as a flattened values tensor plus row offsets (INT32 for List, INT64 for LargeList, as
 * Arrow stores them). With one chunk whose offsets start at 0 both tensors are views of Arrow's buffers;
 * otherwise offsets are rebased (copied) and several chunks joined.
 */
export function raggedFromArrow(name: string, column: ArrowColumn, options: RaggedFromArrowOptions = {}): RaggedTensor {
  const col = options.column ?? name;
  const chunks = chunksOf(col, column);
  if (chunks.length === 0) throw unsupported(col, "has no data chunks");
  const offsetsName = options.offsetsName ?? `${name}_OFFSETS`;
  const large = chunks[0]!.type.typeId === Type.LargeList;
  const parts: Converted[] = [];
  const counts: number[] = [];
  const offsetParts: (Int32Array | BigInt64Array)[] = [];
  for (const d of chunks) {
    const id = d.type.typeId;
    if (id !== Type.List && id !== Type.LargeList) throw unsupported(col, `raggedFromArrow needs a List or LargeList column, this is ${String(d.type)}`);
    if ((id === Type.LargeList) !== large) throw unsupported(col, "mixes List and LargeList chunks");
    noNulls(col, d);
    const offsets = (d.valueOffsets as Int32Array | BigInt64Array).subarray(0, d.length + 1);
    const start = Number(offsets[0]!);
    const end = Number(offsets[d.length]!);
    for (let i = 0; i < d.length; i++) counts.push(Number(offsets[i + 1]!) - Number(offsets[i]!));
    // List children are not sliced with the list: take the rows the offsets reach.
    const child = d.children[0]!;
    const rowsChild = start === 0 && end === child.length ? child : child.slice(start, end - start);
    parts.push(convert(col, rowsChild, end - start, "list values "));
    offsetParts.push(offsets);
  }
  const { datatype, rowShape } = parts[0]!;
  for (const p of parts)
    if (p.datatype !== datatype || p.rowShape.join() !== rowShape.join()) throw unsupported(col, "chunks have different value types");
  const totalRows = counts.reduce((a, b) => a + b, 0);
  const rowSize = rowShape.reduce((a, b) => a * b, 1);
  const valuesData = parts.length === 1 ? parts[0]!.data : concatData(parts, totalRows * rowSize);
  const values = new Tensor(name, datatype, [totalRows, ...rowShape], valuesData as TensorDataFor<DataType>);
  const only = offsetParts.length === 1 ? offsetParts[0]! : undefined;
  let offsets: Tensor<OffsetsDataType>;
  if (only && Number(only[0]!) === 0) {
    offsets = large
      ? new Tensor(offsetsName, "INT64", [only.length], only as BigInt64Array)
      : new Tensor(offsetsName, "INT32", [only.length], only as Int32Array);
  } else {
    const n = counts.length + 1;
    if (large) {
      const o = new BigInt64Array(n);
      for (let i = 0, s = 0; i < counts.length; i++) o[i + 1] = BigInt((s += counts[i]!));
      offsets = new Tensor(offsetsName, "INT64", [n], o);
    } else {
      const o = new Int32Array(n);
      for (let i = 0, s = 0; i < counts.length; i++) o[i + 1] = s += counts[i]!;
      offsets = new Tensor(offsetsName, "INT32", [n], o);
    }
  }
  return { values, offsets, counts };
}
