// Outputs as typed InferTensorContents (int_contents, fp32_contents, ...), the way KServe's and
// MLServer's gRPC servers answer. The reference server answers so when binary_tensor_data is disabled,
// so clients can be tested against both shapes of ModelInferResponse.
import { decodeBytesElements, rawToJson, type DataType } from "@iaas/client/protocol";
import { CONTENTS_FIELD, type GrpcContents } from "./contents.ts";

/** Whether every datatype has a typed contents field (FP16 and BF16 do not: they only travel raw). */
export function canSendTyped(datatypes: readonly DataType[]): boolean {
  return datatypes.every((d) => CONTENTS_FIELD[d] !== undefined);
}

/** One output's raw little-endian bytes as typed contents. */
export function rawToContents(datatype: DataType, data: Buffer): GrpcContents {
  const field = CONTENTS_FIELD[datatype];
  if (field === undefined) throw new Error(`${datatype} has no typed contents field`);
  if (datatype === "BYTES") return { bytes_contents: decodeBytesElements(data).map((e) => Buffer.from(e.buffer, e.byteOffset, e.byteLength)) };
  const values = rawToJson(datatype, data);
  if (datatype === "INT64" || datatype === "UINT64") return { [field]: values.map((v) => String(v)) };
  return { [field]: values };
}
