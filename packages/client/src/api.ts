// The public, protocol-independent API of @iaas/client. Both transports implement it exactly.
// (Contract between the client package and its users, the CLI's load engine first among them.)
import type { DataType } from "./protocol/datatypes.ts";
import type { ErrorCode, InferenceError } from "./errors.ts";
import type { Tensor } from "./tensor.ts";
import type { SequenceId } from "./sequence-parameters.ts";
import type { DecoupledInferOptions, InferSequence, InferStream, SequenceOptions, StreamOptions } from "./streaming/types.ts";
import type {
  InferResponseStatistics,
  LogSettings,
  LogSettingsUpdate,
  MemoryUsage,
  RepositoryIndexEntry,
  RepositoryIndexOptions,
  TraceSettings,
  TraceSettingsOptions,
  TraceSettingsUpdate,
  UnloadModelOptions,
} from "./extension-types.ts";
import type {
  ClientAuth,
  ClientTlsOptions,
  Compression,
  GrpcConnectionOptions,
  HttpConnectionOptions,
} from "./connection-options.ts";

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
  /**
   * Classification extension: return the top `classCount` classes of this output instead of its data, as
   * a BYTES tensor of "value:index[:label]" strings (read them with parseClassifications). Sent as the
   * output parameter `classification`.
   */
  classCount?: number;
  /**
   * Have the server write this output into a registered system shared-memory region: `byteSize` bytes at
   * `offset` (default 0) of region `region`. The result's tensor then has `sharedMemory` set and no data.
   */
  sharedMemory?: { region: string; offset?: number; byteSize: number };
}

export interface InferOptions extends ModelCallOptions {
  /** Request id, echoed by the server. */
  id?: string;
  /** Outputs to return; all of them when absent. */
  outputs?: (string | RequestedOutput)[];
  /**
   * Custom request parameters. Names the protocol reserves (sequence_id, sequence_start, sequence_end,
   * priority, timeout, headers, binary_data_output, triton_*, shared_memory_*) are refused with an
   * "invalid_argument" error naming the option that sets them.
   */
  parameters?: Record<string, ParameterValue>;
  /** Scheduling priority (request parameter `priority`): 1 is highest, 0 the model's default level. */
  priority?: number | bigint;
  /**
   * Server-side queue timeout in microseconds (request parameter `timeout`), as Triton's schedule_policy;
   * unlike timeoutMs (the client's deadline), the server enforces it. 0 = the model's default.
   */
  serverTimeoutUs?: number | bigint;
  /** HTTP: send inputs with the binary tensor extension (default true). Ignored by gRPC (always raw). */
  binaryInputs?: boolean;
  /** HTTP: ask for binary outputs (default true). Ignored by gRPC. */
  binaryOutputs?: boolean;
  /**
   * Sequence (correlation) id for sequence-batched, stateful models (Triton's sequence extension, request
   * parameter sequence_id): a positive integer below 2^64 (number up to 2^53, bigint beyond) or a
   * non-empty string. Sent exactly over HTTP (JSON integer) and gRPC (int64_param, or string_param).
   */
  sequenceId?: SequenceId;
  /** First request of the sequence (sequence_start); needs sequenceId. Default false. */
  sequenceStart?: boolean;
  /** Last request of the sequence (sequence_end); needs sequenceId. Default false. */
  sequenceEnd?: boolean;
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
  /** Memory held per device ([] when the server reports none). */
  memory_usage: MemoryUsage[];
  /** Per response index ("0" = first response): compute, success, fail, empty and cancelled responses. */
  response_stats: Record<string, InferResponseStatistics>;
}

export interface RegisterSystemSharedMemoryOptions extends CallOptions {
  /** Offset of the region inside the shared-memory object, in bytes (default 0). */
  offset?: number;
}

/** A registered system shared-memory region as the server reports it. */
export interface SystemSharedMemoryStatus {
  name: string;
  key: string;
  offset: number;
  byteSize: number;
}

export interface LoadModelOptions extends CallOptions {
  /** Model configuration override: a ModelConfig object (protobuf JSON field names) or its JSON text. */
  config?: Record<string, unknown> | string;
  /**
   * Model files to load instead of the repository's, by path inside the model directory (e.g.
   * "1/model.bin"; strings are sent as UTF-8). Needs `config`. Sent as "file:<path>" parameters.
   */
  files?: Record<string, Uint8Array | string>;
}

/** One client over either transport. */
/** What InferenceClient.inferCallback calls once: (null, result, context) or (error, undefined, context). */
export type InferCallback<C = undefined> = (error: InferenceError | null, result: InferResult | undefined, context: C) => void;

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
  unloadModel(model: string, options?: UnloadModelOptions): Promise<void>;
  /** Model repository extension: every model the server's repository has, with its state (or only ready ones). */
  repositoryIndex(options?: RepositoryIndexOptions): Promise<RepositoryIndexEntry[]>;
  /** Trace extension: the global trace settings, or a model's (`options.model`). */
  traceSettings(options?: TraceSettingsOptions): Promise<TraceSettings>;
  /** Trace extension: changes the named settings (null clears one); resolves to the settings now in force. */
  updateTraceSettings(settings: TraceSettingsUpdate, options?: TraceSettingsOptions): Promise<TraceSettings>;
  /** Logging extension: the server's log settings. */
  logSettings(options?: CallOptions): Promise<LogSettings>;
  /** Logging extension: changes the named settings; resolves to the settings now in force. */
  updateLogSettings(settings: LogSettingsUpdate, options?: CallOptions): Promise<LogSettings>;
  infer(model: string, inputs: Tensor[], options?: InferOptions): Promise<InferResult>;
  /**
   * infer without a promise: `callback(error, result, context)` is called exactly once, with `error` null
   * and the result, or with the InferenceError the promise of `infer` would reject with (argument errors
   * included), and `context` as given. Never called before inferCallback returns. On gRPC (the default
   * "iaas-h2" connection, no auth hook, no connect timeout, no infer retries, no tracer, one endpoint) a
   * call in flight keeps no promise (about 160 bytes less a call); elsewhere it is called back from
   * infer's promise. An exception thrown by the callback is raised again on its own (uncaught).
   */
  inferCallback<C = undefined>(model: string, inputs: Tensor[], callback: InferCallback<C>, options?: InferOptions, context?: C): void;
  /**
   * Opens a bidirectional inference stream (gRPC ModelStreamInfer). Throws an InferenceError of code
   * "unimplemented" on an HTTP client (the protocol has no streaming inference).
   */
  stream(options?: StreamOptions): InferStream;
  /**
   * Runs one request of a decoupled model on its own stream and yields each response until the final
   * one; an in-band error is thrown as an InferenceError. gRPC only ("unimplemented" over HTTP).
   */
  inferDecoupled(model: string, inputs: Tensor[], options?: DecoupledInferOptions): AsyncIterable<InferResult>;
  /** A sequence of a stateful model: infer() sets sequence_start on the first request, end() sequence_end. */
  sequence(model: string, options?: SequenceOptions): InferSequence;
  /**
   * System shared memory extension: registers `byteSize` bytes at `options.offset` (default 0) of the POSIX
   * shared-memory object `key` (its shm_open name, e.g. "/input0") as region `name` on the server.
   */
  registerSystemSharedMemory(name: string, key: string, byteSize: number, options?: RegisterSystemSharedMemoryOptions): Promise<void>;
  /** Unregisters region `name`, or every region when `name` is omitted. Unknown names are not an error. */
  unregisterSystemSharedMemory(name?: string, options?: CallOptions): Promise<void>;
  /** The registered regions, or the one named (an unknown name is a "not_found" error). */
  systemSharedMemoryStatus(name?: string, options?: CallOptions): Promise<SystemSharedMemoryStatus[]>;
  /** State of every endpoint behind the client (one for a single URL): health, calls in flight, counters. */
  endpoints(): EndpointStatus[];
  /**
   * Cancels open streams (their reads reject with "cancelled": the client was closed), lets calls in flight
   * finish, then releases the connections; later calls reject with "failed_precondition".
   */
  close(): Promise<void>;
}

export interface ClientOptions {
  /**
   * http(s)://host:port for HTTP, host:port (or grpc://host:port) for gRPC; several URLs (same protocol)
   * put one client in front of several servers, balanced by `balance`.
   */
  url: string | readonly string[];
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
  /** TLS / mutual TLS (see ClientTlsOptions); implies https:// or grpcs:// for a URL without a scheme. */
  tls?: ClientTlsOptions;
  /** Credentials for every request: { bearer }, { basic: { username, password } } or a header hook. */
  auth?: ClientAuth;
  /** Request compression: HTTP Content-Encoding of bodies, gRPC message compression (default "none"). */
  compression?: Compression;
  /** HTTP: ask for gzip/deflate responses (Accept-Encoding) and inflate them (default false). */
  acceptCompression?: boolean;
  /** Limit on establishing a connection (TCP and TLS handshake), in ms; unavailable error naming the address. */
  connectTimeoutMs?: number;
  /** HTTP: undici Pool tuning (pipelining, keep-alive, header/body timeouts, raw Pool options). */
  http?: HttpConnectionOptions;
  /** gRPC: keepalive pings and raw channel options. */
  grpc?: GrpcConnectionOptions;
  /** Retries with exponential backoff; see RetryOptions. `false` turns them off. Default: RetryOptions defaults. */
  retry?: RetryOptions | false;
  /** How calls are spread over several URLs (default "least-outstanding"). */
  balance?: BalancePolicy;
  /** Readiness probes of the endpoints (default: on with several URLs, off with one). */
  healthCheck?: HealthCheckOptions | boolean;
  /** W3C trace context and OpenTelemetry CLIENT spans when an SDK is registered (default true). */
  tracing?: boolean;
}

/** "round-robin": each endpoint in turn. "least-outstanding": the one with the fewest calls in flight (ties in turn). */
export type BalancePolicy = "round-robin" | "least-outstanding";

/** Backoff jitter: "full" = random in [0, d], "equal" = d/2 + random in [0, d/2], "none" = d. */
export type RetryJitter = "full" | "equal" | "none";

export interface RetryOptions {
  /** Tries of a retryable call in all, the first included (default 3; 1 = no retries). */
  attempts?: number;
  /** Backoff before the first retry, in ms (default 50). */
  initialDelayMs?: number;
  /** Largest backoff, in ms (default 2000). */
  maxDelayMs?: number;
  /** Backoff growth per retry (default 2). */
  multiplier?: number;
  /** Default "full". */
  jitter?: RetryJitter;
  /** Codes on which idempotent calls (health, metadata, config, statistics) are retried (default ["unavailable"]). */
  retryOn?: readonly ErrorCode[];
  /** Retry infer too, only after connection-level failures (refused, reset, dropped before an answer). Default false. */
  retryInfer?: boolean;
  /** Called before each backoff sleep. */
  onRetry?: (event: RetryEvent) => void;
}

export interface RetryEvent {
  /** The call, e.g. "serverMetadata" or "infer(simple)". */
  operation: string;
  /** Attempts made so far. */
  attempts: number;
  /** The backoff about to be slept, in ms. */
  delayMs: number;
  /** Why the last attempt failed. */
  error: InferenceError;
}

export interface HealthCheckOptions {
  /** Period of the readiness probes (server ready), in ms (default 1000). */
  intervalMs?: number;
  /** Deadline of one probe, in ms (default 1000). */
  timeoutMs?: number;
  /** Probe endpoints in service too, ejecting those that stop being ready (default true). Ejected ones are always probed. */
  probeHealthy?: boolean;
}

export interface EndpointStatus {
  /** Normalised URL, as the client's `url`. */
  url: string;
  /** "ejected": out of rotation after a connection failure or a failed probe, until a probe (or a call) succeeds. */
  state: "healthy" | "ejected";
  /** Calls in flight on this endpoint now. */
  outstanding: number;
  /** Attempts sent to this endpoint since the client was created. */
  requests: number;
  /** Attempts and probes that failed at the connection level, and probes that found the server not ready. */
  failures: number;
  /** Times the endpoint was taken out of rotation. */
  ejections: number;
  /** Why it was last ejected. */
  lastError?: string;
}
