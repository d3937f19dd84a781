// Public entry point of @iaas/client.
export { createClient, protocolOf } from "./client.ts";
export { Tensor } from "./tensor.ts";
export type { BytesData, TensorData, TensorDataFor } from "./tensor.ts";
export { InferenceError, ERROR_CODES, codeForHttpStatus, codeForGrpcStatus } from "./errors.ts";
export type { ErrorCode } from "./errors.ts";
export { toFp16, fromFp16, toBf16, fromBf16 } from "./protocol/half.ts";
export { DATATYPES, isDataType } from "./protocol/datatypes.ts";
export type { DataType, FixedDataType, NumericTypedArray } from "./protocol/datatypes.ts";
export type {
  CallOptions,
  ClientOptions,
  InferBatchStatistics,
  InferOptions,
  InferResult,
  InferStatistics,
  InferenceClient,
  LoadModelOptions,
  ModelCallOptions,
  ModelMetadata,
  ModelStatistics,
  ParameterValue,
  Protocol,
  RequestedOutput,
  ServerMetadata,
  StatisticDuration,
  TensorMetadata,
} from "./api.ts";
