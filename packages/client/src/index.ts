// Public entry point of @iaas/client.
export { createClient, protocolOf } from "./client.ts";
export { Tensor } from "./tensor.ts";
export { parseClassification, parseClassifications, type Classification } from "./classification.ts";
export { RESERVED_REQUEST_PARAMETERS, RESERVED_OUTPUT_PARAMETERS } from "./request-parameters.ts";
export type {
  InferResponseStatistics,
  LogFormat,
  LogSettings,
  LogSettingsUpdate,
  MemoryUsage,
  RepositoryIndexEntry,
  RepositoryIndexOptions,
  TraceLevel,
  TraceSettings,
  TraceSettingsOptions,
  TraceSettingsUpdate,
  UnloadModelOptions,
} from "./extension-types.ts";
export type { BytesData, SharedMemoryRef, TensorData, TensorDataFor } from "./tensor.ts";
export { flattenRagged, splitByOffsets, splitByCounts } from "./ragged.ts";
export type { FlattenOptions, OffsetsDataType, RaggedEvent, RaggedScalar, RaggedTensor, SplitOptions } from "./ragged.ts";
export { OrderedInflight, OrderedInferQueue, orderedInflight, mapOrdered } from "./ordered-inflight.ts";
export type { MapOrderedOptions, OrderedInflightOptions, Settled, Task } from "./ordered-inflight.ts";
export { InferenceError, ERROR_CODES, codeForHttpStatus, codeForGrpcStatus } from "./errors.ts";
export type { SequenceId } from "./sequence-parameters.ts";
export type {
  DecoupledInferOptions,
  InferSequence,
  InferStream,
  SequenceInferOptions,
  SequenceOptions,
  StreamError,
  StreamInferOptions,
  StreamOptions,
  StreamResponse,
  StreamResult,
} from "./streaming/types.ts";
export type { ErrorCode } from "./errors.ts";
export type {
  AuthHook,
  AuthRequestContext,
  ClientAuth,
  ClientTlsOptions,
  Compression,
  GrpcConnectionOptions,
  HttpConnectionOptions,
  Pem,
} from "./connection-options.ts";
export { toFp16, fromFp16, toBf16, fromBf16 } from "./protocol/half.ts";
export { DATATYPES, isDataType } from "./protocol/datatypes.ts";
export type { DataType, FixedDataType, NumericTypedArray } from "./protocol/datatypes.ts";
export type { BalancePolicy, EndpointStatus, HealthCheckOptions, RetryEvent, RetryJitter, RetryOptions } from "./api.ts";
export type {
  CallOptions,
  ClientOptions,
  InferBatchStatistics,
  InferCallback,
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
  RegisterSystemSharedMemoryOptions,
  RequestedOutput,
  ServerMetadata,
  StatisticDuration,
  SystemSharedMemoryStatus,
  TensorMetadata,
} from "./api.ts";
