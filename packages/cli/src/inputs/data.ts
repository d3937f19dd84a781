// Raw little-endian tensor data for benchmark requests: zeros or seeded random values per datatype.
import {
  TYPED_ARRAY,
  elementSize,
  encodeBytesElements,
  float32ToBf16Bits,
  float32ToFp16Bits,
  type DataType,
} from "@iaas/client/protocol";
import type { Random } from "@iaas/client/protocol";

export type InputDataMode = "zero" | "random";

// Small integer ranges keep arithmetic models (simple's add/sub) clear of overflow for every int width.
const SIGNED_SPAN = 128;
const UNSIGNED_SPAN = 128;
const PRINTABLE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

function randomString(length: number, random: Random): string {
  let s = "";
  for (let i = 0; i < length; i++) s += PRINTABLE[Math.floor(random() * PRINTABLE.length)];
  return s;
}

/**
 * `count` elements of `datatype` in the wire layout. BYTES elements are strings of `stringLength`
 * characters ("0"s for zero data).
 */
export function generateTensorData(
  datatype: DataType,
  count: number,
  mode: InputDataMode,
  random: Random,
  stringLength: number,
): Buffer {
  if (datatype === "BYTES") {
    const elements: string[] = [];
    for (let i = 0; i < count; i++) elements.push(mode === "zero" ? "0".repeat(stringLength) : randomString(stringLength, random));
    return encodeBytesElements(elements);
  }
  const buf = Buffer.alloc(count * elementSize(datatype));
  if (mode === "zero") return buf;
  const arr = new TYPED_ARRAY[datatype](buf.buffer, buf.byteOffset, count);
  switch (datatype) {
    case "BOOL":
      for (let i = 0; i < count; i++) arr[i] = random() < 0.5 ? 0 : 1;
      break;
    case "FP16":
      for (let i = 0; i < count; i++) arr[i] = float32ToFp16Bits(random() * 2 - 1);
      break;
    case "BF16":
      for (let i = 0; i < count; i++) arr[i] = float32ToBf16Bits(random() * 2 - 1);
      break;
    case "FP32":
    case "FP64":
      for (let i = 0; i < count; i++) arr[i] = random() * 2 - 1;
      break;
    case "INT64":
      for (let i = 0; i < count; i++) arr[i] = BigInt(Math.floor(random() * SIGNED_SPAN) - SIGNED_SPAN / 2) as never;
      break;
    case "UINT64":
      for (let i = 0; i < count; i++) arr[i] = BigInt(Math.floor(random() * UNSIGNED_SPAN)) as never;
      break;
    case "INT8":
    case "INT16":
    case "INT32":
      for (let i = 0; i < count; i++) arr[i] = Math.floor(random() * SIGNED_SPAN) - SIGNED_SPAN / 2;
      break;
    default:
      for (let i = 0; i < count; i++) arr[i] = Math.floor(random() * UNSIGNED_SPAN);
  }
  return buf;
}
