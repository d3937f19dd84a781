// Triton's classification extension: a requested output with parameter `classification: N` comes back
// as a BYTES tensor of the N highest-valued classes per batch element, each "value:index[:label]"
// (value written as C++ std::to_string does: integers plainly, floats with 6 decimals).
import { encodeBytesElements, fromBf16, fromFp16, type DataType } from "@iaas/client/protocol";
import { invalidArg } from "./errors.ts";
import type { Parameters } from "./types.ts";

export const CLASSIFICATION_PARAMETER = "classification";

/** The class count a requested output asks for, or undefined; INVALID_ARG unless a positive integer. */
export function classCount(params: Parameters | undefined, output: string): number | undefined {
  const v = params?.[CLASSIFICATION_PARAMETER];
  if (v === undefined) return undefined;
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1)
    throw invalidArg(`output '${output}': parameter 'classification' must be a positive integer (the number of classes to return), got ${JSON.stringify(typeof v === "bigint" ? v.toString() : v)}`);
  return n;
}

interface Values {
  get(i: number): number | bigint;
  text(i: number): string;
}

function values(datatype: DataType, data: Buffer, output: string): Values {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const float = (f: (i: number) => number): Values => ({ get: f, text: (i) => f(i).toFixed(6) });
  const int = (f: (i: number) => number | bigint): Values => ({ get: f, text: (i) => String(f(i)) });
  switch (datatype) {
    case "BOOL":
    case "UINT8":
      return int((i) => view.getUint8(i));
    case "INT8":
      return int((i) => view.getInt8(i));
    case "UINT16":
      return int((i) => view.getUint16(i * 2, true));
    case "INT16":
      return int((i) => view.getInt16(i * 2, true));
    case "UINT32":
      return int((i) => view.getUint32(i * 4, true));
    case "INT32":
      return int((i) => view.getInt32(i * 4, true));
    case "UINT64":
      return int((i) => view.getBigUint64(i * 8, true));
    case "INT64":
      return int((i) => view.getBigInt64(i * 8, true));
    case "FP32":
      return float((i) => view.getFloat32(i * 4, true));
    case "FP64":
      return float((i) => view.getFloat64(i * 8, true));
    case "FP16":
    case "BF16": {
      const bits = new Uint16Array(data.byteLength / 2);
      for (let i = 0; i < bits.length; i++) bits[i] = view.getUint16(i * 2, true);
      const f = datatype === "FP16" ? fromFp16(bits) : fromBf16(bits);
      return float((i) => f[i]!);
    }
    case "BYTES":
      throw invalidArg(`output '${output}' is BYTES; classification needs a numeric output`);
  }
}

export interface ClassifiedOutput {
  datatype: "BYTES";
  shape: number[];
  data: Buffer;
}

/**
 * Top-`count` classes of an output. With `batched` (max_batch_size > 0) the first dimension is the batch
 * and each batch element is classified over the rest: shape [batch, n]; otherwise shape [n]. n is
 * `count` capped at the number of classes. Ties keep the lower index first; NaN ranks lowest.
 */
export function classify(
  output: { name: string; datatype: DataType; shape: number[]; data: Buffer },
  count: number,
  batched: boolean,
  labels: readonly string[] | undefined,
): ClassifiedOutput {
  const v = values(output.datatype, output.data, output.name);
  const rows = batched ? (output.shape[0] ?? 1) : 1;
  const total = output.shape.reduce((a, b) => a * b, 1);
  const classes = rows === 0 ? 0 : total / rows;
  const n = Math.min(count, classes);
  const key = (i: number): number | bigint => {
    const x = v.get(i);
    return typeof x === "number" && Number.isNaN(x) ? -Infinity : x;
  };
  const strings: string[] = [];
  const order = new Array<number>(classes);
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    for (let c = 0; c < classes; c++) order[c] = c;
    order.sort((a, b) => {
      const x = key(base + a);
      const y = key(base + b);
      return x > y ? -1 : x < y ? 1 : a - b;
    });
    for (let k = 0; k < n; k++) {
      const c = order[k]!;
      const label = labels?.[c];
      strings.push(label === undefined ? `${v.text(base + c)}:${c}` : `${v.text(base + c)}:${c}:${label}`);
    }
  }
  return { datatype: "BYTES", shape: batched ? [rows, n] : [n], data: encodeBytesElements(strings) };
}
