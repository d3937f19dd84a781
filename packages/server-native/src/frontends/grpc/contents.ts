// gRPC tensor data: typed InferTensorContents (one repeated field per datatype family) into the raw
// little-endian layout the core works on. Values arrive as proto-loader decodes them (64-bit integers
// as decimal strings, bytes as Buffers).
import { elementCount, elementSize, encodeBytesElements, type DataType } from "@iaas/client/protocol";
import { invalidArg } from "../../core/errors.ts";

export interface GrpcContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: (string | number)[];
  uint_contents?: number[];
  uint64_contents?: (string | number)[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Buffer[];
}

/** The InferTensorContents field that carries each datatype (FP16 and BF16 have none: they only travel raw). */
export const CONTENTS_FIELD: Readonly<Record<DataType, keyof GrpcContents | undefined>> = {
  BOOL: "bool_contents",
  INT8: "int_contents",
  INT16: "int_contents",
  INT32: "int_contents",
  INT64: "int64_contents",
  UINT8: "uint_contents",
  UINT16: "uint_contents",
  UINT32: "uint_contents",
  UINT64: "uint64_contents",
  FP32: "fp32_contents",
  FP64: "fp64_contents",
  BYTES: "bytes_contents",
  FP16: undefined,
  BF16: undefined,
};

const INT_LIMITS: Partial<Record<DataType, [number, number]>> = {
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
};

/** Packs typed contents of one input; `where` names the input in errors. */
export function contentsToRaw(datatype: DataType, shape: number[], contents: GrpcContents, where: string): Buffer {
  const field = CONTENTS_FIELD[datatype];
  if (field === undefined) throw invalidArg(`${where}: ${datatype} data cannot be sent as typed contents; use raw_input_contents`);
  for (const [k, v] of Object.entries(contents))
    if (k !== field && Array.isArray(v) && v.length > 0) throw invalidArg(`${where}: datatype ${datatype} expects '${field}', but '${k}' is set`);
  const values = (contents[field] ?? []) as unknown[];
  const count = elementCount(shape);
  if (values.length !== count) throw invalidArg(`${where}: '${field}' holds ${values.length} elements, shape [${shape.join(",")}] needs ${count}`);
  if (datatype === "BYTES") return encodeBytesElements(values as Buffer[]);
  const limits = INT_LIMITS[datatype];
  if (limits) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (v < limits[0] || v > limits[1]) throw invalidArg(`${where}: element ${i} (${v}) is out of range for ${datatype}`);
    }
  }
  const out = Buffer.allocUnsafe(count * elementSize(datatype));
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < count; i++) {
    const v = values[i];
    switch (datatype) {
      case "BOOL": view.setUint8(i, v ? 1 : 0); break;
      case "INT8": view.setInt8(i, v as number); break;
      case "UINT8": view.setUint8(i, v as number); break;
      case "INT16": view.setInt16(i * 2, v as number, true); break;
      case "UINT16": view.setUint16(i * 2, v as number, true); break;
      case "INT32": view.setInt32(i * 4, v as number, true); break;
      case "UINT32": view.setUint32(i * 4, v as number, true); break;
      case "INT64": view.setBigInt64(i * 8, BigInt(v as string), true); break;
      case "UINT64": view.setBigUint64(i * 8, BigInt(v as string), true); break;
      case "FP32": view.setFloat32(i * 4, v as number, true); break;
      case "FP64": view.setFloat64(i * 8, v as number, true); break;
    }
  }
  return out;
}
