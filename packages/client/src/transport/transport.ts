// The protocol seam: one method per KServe v2 operation, typed requests in, protocol-independent
// results out. createClient puts the public API on top; HTTP and gRPC implement this.
import type {
  CallOptions,
  EndpointStatus,
  ModelMetadata,
  ModelStatistics,
  ParameterValue,
  Protocol,
  ServerMetadata,
  SystemSharedMemoryStatus,
} from "../api.ts";
import type { LogSettings, RepositoryIndexEntry, TraceSettings } from "../extension-types.ts";
import type { InferenceError } from "../errors.ts";
import type { SharedMemoryRef, Tensor } from "../tensor.ts";
import type { InferCallback } from "./infer-callback.ts";

export interface ModelRef {
  model: string;
  /** Empty or absent: the server's choice. */
  version?: string | undefined;
}

export interface StatisticsRequest {
  /** Absent: every model. */
  model?: string | undefined;
  version?: string | undefined;
}

export interface LoadRequest {
  model: string;
  /** ModelConfig JSON text. */
  config?: string | undefined;
  /** Model files ("file:<path>" load parameters): path inside the model directory and content. */
  files?: { path: string; content: Uint8Array }[] | undefined;
}

export interface UnloadRequest extends ModelRef {
  /** Triton's unload_dependents parameter; not sent when undefined. */
  unloadDependents?: boolean | undefined;
}

/** A checked trace settings update on the wire: strings, trace_level a list, null = clear. */
export type TraceUpdateWire = Record<string, string | string[] | null>;

export interface OutputRequest {
  name: string;
  /** HTTP: ask for binary data. */
  binary: boolean;
  parameters?: Record<string, ParameterValue> | undefined;
  /** Have the server write the output into this shared-memory region (the response then carries no data). */
  sharedMemory?: SharedMemoryRef | undefined;
}

export interface SharedMemoryRegisterRequest {
  name: string;
  /** shm_open name of the POSIX shared-memory object, e.g. "/input0". */
  key: string;
  offset: number;
  byteSize: number;
}

export interface InferRequest extends ModelRef {
  id?: string | undefined;
  inputs: readonly Tensor[];
  /** Absent: all outputs. */
  outputs?: readonly OutputRequest[] | undefined;
  parameters?: Record<string, ParameterValue> | undefined;
  /** HTTP: binary tensor extension for inputs. */
  binaryInputs: boolean;
  /** HTTP: binary outputs when `outputs` is absent. */
  binaryOutputs: boolean;
}

export interface InferResponse {
  modelName: string;
  modelVersion: string;
  id: string;
  parameters: Record<string, ParameterValue>;
  outputs: Tensor[];
}

/**
 * How the layers above want an infer call to end, applied where the answer settles instead of one `.then`
 * (a promise and a reaction per call in flight) per layer. `done` makes the call's result of the answer
 * and must not throw; `failed` gets every failure exactly once and returns what the call rejects with.
 */
export interface InferEnd<T> {
  done(response: InferResponse): T;
  failed(error: unknown): unknown;
}

export interface Transport {
  readonly protocol: Protocol;
  /** Normalised address: http(s)://host:port[/prefix] or host:port for gRPC. */
  readonly url: string;
  serverLive(call: CallOptions): Promise<boolean>;
  serverReady(call: CallOptions): Promise<boolean>;
  modelReady(ref: ModelRef, call: CallOptions): Promise<boolean>;
  serverMetadata(call: CallOptions): Promise<ServerMetadata>;
  modelMetadata(ref: ModelRef, call: CallOptions): Promise<ModelMetadata>;
  modelConfig(ref: ModelRef, call: CallOptions): Promise<Record<string, unknown>>;
  modelStatistics(request: StatisticsRequest, call: CallOptions): Promise<ModelStatistics[]>;
  loadModel(request: LoadRequest, call: CallOptions): Promise<void>;
  unloadModel(ref: UnloadRequest, call: CallOptions): Promise<void>;
  repositoryIndex(ready: boolean, call: CallOptions): Promise<RepositoryIndexEntry[]>;
  /** GET (`update` undefined) or POST of the global (`model` undefined) or a model's trace settings. */
  traceSettings(model: string | undefined, update: TraceUpdateWire | undefined, call: CallOptions): Promise<TraceSettings>;
  /** GET (`update` undefined) or POST of the log settings. */
  logSettings(update: Record<string, boolean | number | string> | undefined, call: CallOptions): Promise<LogSettings>;
  infer(request: InferRequest, call: CallOptions): Promise<InferResponse>;
  /**
   * infer, ended by `end` (see InferEnd): the promise settles with end.done(answer) or rejects with
   * end.failed(error). Optional: a layer offers it only when everything below it does, and never forwards
   * it blindly (forwarding.ts skips it), so that a layer's own infer handling is never bypassed.
   */
  inferWith?<T>(request: InferRequest, call: CallOptions, end: InferEnd<T>): Promise<T>;
  /**
   * inferWith without a promise: `callback(error, value, context)` exactly once, with end.done(answer) or
   * end.failed(error), never before this returns (infer-callback.ts). Offered only by layers that pass it
   * down (or end it themselves); without it, the client calls back from inferWith's promise.
   */
  inferCallback?<T, C>(request: InferRequest, call: CallOptions, end: InferEnd<T>, callback: InferCallback<T, C>, context: C): void;
  systemSharedMemoryRegister(request: SharedMemoryRegisterRequest, call: CallOptions): Promise<void>;
  /** `name` undefined: every region. */
  systemSharedMemoryUnregister(name: string | undefined, call: CallOptions): Promise<void>;
  /** `name` undefined: every region. */
  systemSharedMemoryStatus(name: string | undefined, call: CallOptions): Promise<SystemSharedMemoryStatus[]>;
  /** The endpoints behind a balancing layer (balanced.ts); plain transports have none. */
  endpoints?(): EndpointStatus[];
  /** gRPC ModelStreamInfer (stream-channel.ts); transports without a streaming RPC (HTTP) lack it. */
  openStream?(call: CallOptions, handlers: StreamHandlers): StreamChannel;
  close(): Promise<void>;
}

/** What a streaming transport reports; calls arrive in the order the server sent them. */
export interface StreamHandlers {
  /** A response (ModelStreamInferResponse.infer_response). */
  response(response: InferResponse): void;
  /** An in-band error; `response` holds what the server said about the failed request (its id), if anything. */
  error(message: string, response: InferResponse | undefined): void;
  /** The stream is over: no error when the server ended it with OK, else why (cancelled, deadline, ...). */
  close(error?: InferenceError): void;
}

/** One open bidirectional inference stream. */
export interface StreamChannel {
  /** Queues a request; throws an InferenceError when it cannot be encoded or the stream is closed. */
  send(request: InferRequest): void;
  /** Half-closes: the server finishes what was sent, then ends the stream. */
  end(): void;
  /** Cancels the stream (the server sees CANCELLED); `close` follows with code "cancelled". */
  cancel(reason?: unknown): void;
}
