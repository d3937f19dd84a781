// The public, protocol-independent API of @iaas/client. Both transports implement it exactly.
// (Contract between the client package and its users, the CLI's load engine first among them.)
import type { DataType } from "./protocol/datatypes.ts";
import type { Tensor } from "./tensor.ts";

export type Protocol = "http" | "grpc";

/** Options every call takes. */
export interface CallOptions {
  /** Aborts the call; the promise rejects with an InferenceError of code "cancelled". */
  signal?: AbortSignal;
  /** Per-call deadline in milliseconds; rejects with code "deadline_exceeded". Overrides the client default. */
  timeoutMs?: number;
  /** Extra HTTP headers / gRPC metadata for this call. */
  headers?: Record<string, string>;
}

export interface ModelCallOptions extends CallOptions {
  /** Model version; the server's choice (latest) when absent. */
  version?: string;
}

export type ParameterValue = boolean | number | string | bigint;

export interface RequestedOutput {
  name: string;
  /** HTTP only: ask for this output in binary (default: the client's binaryOutputs setting). */
  binary?: boolean;
  parameters?: Record<string, ParameterValue>;
}

export interface InferOptions extends ModelCallOptions {
  /** Request id, echoed by the server. */
  id?: string;
  /** Outputs to return; all of them when absent. */
  outputs?: (string | RequestedOutput)[];
  /** Request parameters. */
  parameters?: Record<string, ParameterValue>;
  /** HTTP: send inputs with the binary tensor extension (default true). Ignored by gRPC (always raw). */
  binaryInputs?: boolean;
  /** HTTP: ask for binary outputs (default true). Ignored by gRPC. */
  binaryOutputs?: boolean;
}

export interface TensorMetadata {
  name: string;
  datatype: DataType | string;
  /** -1 marks a variable dimension. */
  shape: number[];
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface InferResult {
  modelName: string;
  modelVersion: string;
  id: string;
  parameters: Record<string, ParameterValue>;
  outputs: Tensor[];
  /** The output of that name; throws an InferenceError (code "invalid_argument") when absent. */
  output(name: string): Tensor;
}

export interface StatisticDuration {
  count: bigint;
  ns: bigint;
}

export interface InferStatistics {
  success: StatisticDuration;
  fail: StatisticDuration;
  queue: StatisticDuration;
  compute_input: StatisticDuration;
  compute_infer: StatisticDuration;
  compute_output: StatisticDuration;
  cache_hit: StatisticDuration;
  cache_miss: StatisticDuration;
}

export interface InferBatchStatistics {
  batch_size: bigint;
  compute_input: StatisticDuration;
  compute_infer: StatisticDuration;
  compute_output: StatisticDuration;
}

/** Triton's ModelStatistics, field names as on the wire, uint64 counters as bigint. */
export interface ModelStatistics {
  name: string;
  version: string;
  last_inference: bigint;
  inference_count: bigint;
  execution_count: bigint;
  inference_stats: InferStatistics;
  batch_stats: InferBatchStatistics[];
}

export interface LoadModelOptions extends CallOptions {
  /** Model configuration override: a ModelConfig object (protobuf JSON field names) or its JSON text. */
  config?: Record<string, unknown> | string;
}

/** One client over either transport. */
export interface InferenceClient {
  readonly protocol: Protocol;
  readonly url: string;
  isServerLive(options?: CallOptions): Promise<boolean>;
  isServerReady(options?: CallOptions): Promise<boolean>;
  isModelReady(model: string, options?: ModelCallOptions): Promise<boolean>;
  serverMetadata(options?: CallOptions): Promise<ServerMetadata>;
  modelMetadata(model: string, options?: ModelCallOptions): Promise<ModelMetadata>;
  /** Model configuration as JSON with protobuf field names (Triton's model_configuration extension). */
  modelConfig(model: string, options?: ModelCallOptions): Promise<Record<string, unknown>>;
  /** Statistics of one model, or of every model when `model` is omitted. */
  modelStatistics(model?: string, options?: ModelCallOptions): Promise<ModelStatistics[]>;
  /** Model repository extension: load (or reload) a model, optionally with a config override. */
  loadModel(model: string, options?: LoadModelOptions): Promise<void>;
  unloadModel(model: string, options?: CallOptions): Promise<void>;
  infer(model: string, inputs: Tensor[], options?: InferOptions): Promise<InferResult>;
  /** Releases connections; later calls reject. */
  close(): Promise<void>;
}

export interface ClientOptions {
  /** http(s)://host:port for HTTP, host:port (or grpc://host:port) for gRPC. */
  url: string;
  protocol?: Protocol;
  /** Default per-call deadline in ms (none by default). */
  timeoutMs?: number;
  /** Headers / metadata sent with every call. */
  headers?: Record<string, string>;
  /** HTTP: default for InferOptions.binaryInputs / binaryOutputs (true). */
  binaryInputs?: boolean;
  binaryOutputs?: boolean;
  /** HTTP: connections kept to the server (undici Pool size); default 64. */
  connections?: number;
}
