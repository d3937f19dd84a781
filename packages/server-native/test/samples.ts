// Sample values per datatype, chosen to hit each type's limits (sign, width, precision, UTF-8).
import { jsonToRaw, toBf16, toFp16, type DataType } from "@iaas/client/protocol";

export const JSON_SAMPLES: Partial<Record<DataType, unknown[]>> = {
  BOOL: [true, false, true],
  UINT8: [0, 255, 7],
  UINT16: [0, 65535, 300],
  UINT32: [0, 4294967295, 70000],
  UINT64: [0n, 18446744073709551615n, 9007199254740993n],
  INT8: [-128, 127, 0],
  INT16: [-32768, 32767, -1],
  INT32: [-2147483648, 2147483647, 42],
  INT64: [-9223372036854775808n, 9223372036854775807n, -9007199254740993n],
  FP32: [1.5, -2.25, 3.4028234663852886e38],
  FP64: [Math.PI, -1e300, 5e-324],
  BYTES: ["a", "héllo wörld ✓", ""],
};

/** Raw little-endian bytes of the samples (FP16/BF16 from float values). */
export function rawSample(dt: DataType): Buffer {
  if (dt === "FP16") return Buffer.from(toFp16([1, -0.5, 65504]).buffer);
  if (dt === "BF16") return Buffer.from(toBf16([1, -0.5, 3e38]).buffer);
  return jsonToRaw(dt, JSON_SAMPLES[dt], dt);
}
