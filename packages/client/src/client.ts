// createClient: the protocol-independent InferenceClient (api.ts) over an HTTP or gRPC transport.
import type {
  CallOptions,
  ClientOptions,
  EndpointStatus,
  InferCallback,
  InferOptions,
  InferResult,
  InferenceClient,
  LoadModelOptions,
  ModelCallOptions,
  ModelMetadata,
  ModelStatistics,
  Protocol,
  RegisterSystemSharedMemoryOptions,
  ServerMetadata,
  SystemSharedMemoryStatus,
} from "./api.ts";
import { InferenceError } from "./errors.ts";
import { InferResultImpl } from "./infer-result.ts";
import { withSequenceParameters } from "./sequence-parameters.ts";
import { InferStreamImpl } from "./streaming/infer-stream.ts";
import { InferSequenceImpl, runOnStream } from "./streaming/sequence.ts";
import type { DecoupledInferOptions, InferSequence, InferStream, SequenceOptions, StreamOptions } from "./streaming/types.ts";
import type {
  LogSettings,
  LogSettingsUpdate,
  RepositoryIndexEntry,
  RepositoryIndexOptions,
  TraceSettings,
  TraceSettingsOptions,
  TraceSettingsUpdate,
  UnloadModelOptions,
} from "./extension-types.ts";
import { loadFiles } from "./repository-args.ts";
import { outputParameters, requestParameters } from "./request-parameters.ts";
import { checkLogUpdate, traceUpdateToWire } from "./settings-wire.ts";
import { optionalRegion, outputRegion, registerRequest } from "./shared-memory-args.ts";
import { Tensor } from "./tensor.ts";
import { createGrpcTransport } from "./transport/grpc/transport.ts";
import { createHttpTransport } from "./transport/http/transport.ts";
import type { InferEnd, InferRequest, InferResponse, OutputRequest, Transport } from "./transport/transport.ts";
import { httpBaseUrl, resolveWire } from "./transport/wire-options.ts";
import { callBackFrom, callBackLater, type InferCallback as TransportCallback } from "./transport/infer-callback.ts";
import { assembleTransport, endpointUrls, grpcReconnectOptions } from "./transport/stack.ts";

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** Protocol named by the URL scheme: http/https -> http, grpc/grpcs -> grpc, none or other -> http. */
export function protocolOf(url: string): Protocol {
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  return scheme === "grpc" || scheme === "grpcs" ? "grpc" : "http";
}

const toInferResult = (response: InferResponse): InferResult => new InferResultImpl(response);
/** client.infer's InferEnd: the answer as an InferResult, failures as the layers below made them. */
const AS_RESULT: InferEnd<InferResult> = { done: toInferResult, failed: (error) => error };

class Client implements InferenceClient {
  readonly protocol: Protocol;
  readonly url: string;
  readonly #transport: Transport;
  readonly #timeoutMs: number | undefined;
  readonly #headers: Record<string, string> | undefined;
  readonly #binaryInputs: boolean;
  readonly #binaryOutputs: boolean;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Streams not yet over: close() cancels them (streaming/infer-stream.ts shutDown). */
  readonly #streams = new Set<InferStreamImpl>();
  /** The call options of every call made without options (shared: no layer modifies call options). */
  readonly #plainCall: CallOptions;

  constructor(options: ClientOptions, transport: Transport) {
    this.#transport = transport;
    this.protocol = transport.protocol;
    this.url = transport.url;
    this.#timeoutMs = options.timeoutMs;
    this.#headers = options.headers && Object.keys(options.headers).length > 0 ? options.headers : undefined;
    this.#binaryInputs = options.binaryInputs ?? true;
    this.#binaryOutputs = options.binaryOutputs ?? true;
    this.#plainCall = Object.freeze({ signal: undefined, timeoutMs: this.#timeoutMs, headers: this.#headers });
  }

  #call(what: string, options: CallOptions | undefined): CallOptions {
    if (this.#closed) throw new InferenceError("failed_precondition", `${what}: the client is closed`);
    if (options === undefined) return this.#plainCall;
    const headers =
      this.#headers && options?.headers ? { ...this.#headers, ...options.headers } : (options?.headers ?? this.#headers);
    return { signal: options?.signal, timeoutMs: options?.timeoutMs ?? this.#timeoutMs, headers };
  }

  #model(what: string, model: unknown): string {
    if (typeof model !== "string" || model === "")
      throw new InferenceError("invalid_argument", `${what}: model name must be a non-empty string, got ${JSON.stringify(model)}`);
    return model;
  }

  // Every method is async so that argument errors reject the promise instead of throwing synchronously.
  async isServerLive(options?: CallOptions): Promise<boolean> {
    return this.#transport.serverLive(this.#call("isServerLive", options));
  }

  async isServerReady(options?: CallOptions): Promise<boolean> {
    return this.#transport.serverReady(this.#call("isServerReady", options));
  }

  async isModelReady(model: string, options?: ModelCallOptions): Promise<boolean> {
    const call = this.#call("isModelReady", options);
    return this.#transport.modelReady({ model: this.#model("isModelReady", model), version: options?.version }, call);
  }

  async serverMetadata(options?: CallOptions): Promise<ServerMetadata> {
    return this.#transport.serverMetadata(this.#call("serverMetadata", options));
  }

  async modelMetadata(model: string, options?: ModelCallOptions): Promise<ModelMetadata> {
    const call = this.#call("modelMetadata", options);
    return this.#transport.modelMetadata({ model: this.#model("modelMetadata", model), version: options?.version }, call);
  }

  async modelConfig(model: string, options?: ModelCallOptions): Promise<Record<string, unknown>> {
    const call = this.#call("modelConfig", options);
    return this.#transport.modelConfig({ model: this.#model("modelConfig", model), version: options?.version }, call);
  }

  async modelStatistics(model?: string, options?: ModelCallOptions): Promise<ModelStatistics[]> {
    const call = this.#call("modelStatistics", options);
    if (model !== undefined && typeof model !== "string")
      throw new InferenceError("invalid_argument", `modelStatistics: model name must be a string, got ${JSON.stringify(model)}`);
    return this.#transport.modelStatistics({ model: model || undefined, version: options?.version }, call);
  }

  async loadModel(model: string, options?: LoadModelOptions): Promise<void> {
    const call = this.#call("loadModel", options);
    const config = options?.config;
    const text = config === undefined || typeof config === "string" ? config : JSON.stringify(config);
    const files = loadFiles(options?.files, text !== undefined);
    return this.#transport.loadModel({ model: this.#model("loadModel", model), config: text, files }, call);
  }

  async unloadModel(model: string, options?: UnloadModelOptions): Promise<void> {
    const call = this.#call("unloadModel", options);
    const unloadDependents = options?.unloadDependents;
    if (unloadDependents !== undefined && typeof unloadDependents !== "boolean")
      throw new InferenceError("invalid_argument", `unloadModel: unloadDependents must be a boolean, got ${JSON.stringify(unloadDependents)}`);
    return this.#transport.unloadModel({ model: this.#model("unloadModel", model), unloadDependents }, call);
  }

  async repositoryIndex(options?: RepositoryIndexOptions): Promise<RepositoryIndexEntry[]> {
    const call = this.#call("repositoryIndex", options);
    const ready = options?.ready ?? false;
    if (typeof ready !== "boolean") throw new InferenceError("invalid_argument", `repositoryIndex: ready must be a boolean, got ${JSON.stringify(ready)}`);
    return this.#transport.repositoryIndex(ready, call);
  }

  async traceSettings(options?: TraceSettingsOptions): Promise<TraceSettings> {
    const call = this.#call("traceSettings", options);
    const model = options?.model === undefined ? undefined : this.#model("traceSettings", options.model);
    return this.#transport.traceSettings(model, undefined, call);
  }

  async updateTraceSettings(settings: TraceSettingsUpdate, options?: TraceSettingsOptions): Promise<TraceSettings> {
    const call = this.#call("updateTraceSettings", options);
    const model = options?.model === undefined ? undefined : this.#model("updateTraceSettings", options.model);
    return this.#transport.traceSettings(model, traceUpdateToWire(settings), call);
  }

  async logSettings(options?: CallOptions): Promise<LogSettings> {
    return this.#transport.logSettings(undefined, this.#call("logSettings", options));
  }

  async updateLogSettings(settings: LogSettingsUpdate, options?: CallOptions): Promise<LogSettings> {
    const call = this.#call("updateLogSettings", options);
    return this.#transport.logSettings(checkLogUpdate(settings), call);
  }

  // Not async (unlike the other methods): a suspended frame per call in flight costs memory and a promise
  // turn on the hot path. Argument errors still reject instead of throwing.
  // Where the transport stack offers inferWith, the InferResult is made where the answer settles (one
  // promise per call in all, transport.ts InferEnd) instead of in a `.then` here.
  infer(model: string, inputs: Tensor[], options?: InferOptions): Promise<InferResult> {
    try {
      if (this.#transport.inferWith !== undefined) return this.#startInfer(model, inputs, options, AS_RESULT);
      return this.#startInfer(model, inputs, options, undefined).then(toInferResult);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * infer without a promise (api.ts): argument errors and every failure are called back (never from inside
   * this call); where the transport stack offers inferCallback, a call in flight keeps no promise at all.
   */
  inferCallback<C = undefined>(model: string, inputs: Tensor[], callback: InferCallback<C>, options?: InferOptions, context?: C): void {
    if (typeof callback !== "function") throw new InferenceError("invalid_argument", `inferCallback: callback must be a function, got ${typeof callback}`);
    const back = callback as unknown as TransportCallback<InferResult, unknown>;
    try {
      this.#startInfer(model, inputs, options, AS_RESULT, back, context);
    } catch (e) {
      callBackLater(back, e, context);
    }
  }

  #startInfer(model: string, inputs: Tensor[], options: InferOptions | undefined, end: InferEnd<InferResult>): Promise<InferResult>;
  #startInfer(model: string, inputs: Tensor[], options: InferOptions | undefined, end: undefined): Promise<InferResponse>;
  #startInfer(model: string, inputs: Tensor[], options: InferOptions | undefined, end: InferEnd<InferResult>, callback: TransportCallback<InferResult, unknown>, context: unknown): undefined;
  #startInfer(
    model: string,
    inputs: Tensor[],
    options: InferOptions | undefined,
    end: InferEnd<InferResult> | undefined,
    callback?: TransportCallback<InferResult, unknown>,
    context?: unknown,
  ): Promise<InferResponse | InferResult> | undefined {
    const call = this.#call("infer", options);
    this.#model("infer", model);
    if (!Array.isArray(inputs)) throw new InferenceError("invalid_argument", "infer: inputs must be an array of Tensor");
    for (let i = 0; i < inputs.length; i++)
      if (!(inputs[i] instanceof Tensor))
        throw new InferenceError("invalid_argument", `infer: inputs[${i}] is not a Tensor (build it with new Tensor(...))`);
    const binaryOutputs = options?.binaryOutputs ?? this.#binaryOutputs;
    let outputs: OutputRequest[] | undefined;
    if (options?.outputs) {
      outputs = options.outputs.map((o) =>
        typeof o === "string"
          ? { name: o, binary: binaryOutputs }
          : { name: o.name, binary: o.binary ?? binaryOutputs, parameters: outputParameters(o), sharedMemory: outputRegion(o) },
      );
    }
    return this.#sendInfer(
      {
        model,
        version: options?.version,
        id: options?.id,
        inputs,
        outputs,
        parameters: withSequenceParameters("infer", requestParameters(options), options),
        binaryInputs: options?.binaryInputs ?? this.#binaryInputs,
        binaryOutputs,
      },
      call,
      end,
      callback,
      context,
    );
  }

  #sendInfer(
    req: InferRequest,
    call: CallOptions,
    end: InferEnd<InferResult> | undefined,
    callback?: TransportCallback<InferResult, unknown>,
    context?: unknown,
  ): Promise<InferResponse | InferResult> | undefined {
    const t = this.#transport;
    if (callback === undefined) return end === undefined ? t.infer(req, call) : t.inferWith!(req, call, end);
    if (t.inferCallback !== undefined) t.inferCallback(req, call, AS_RESULT, callback, context);
    else callBackFrom(t.inferWith !== undefined ? t.inferWith(req, call, AS_RESULT) : t.infer(req, call).then(toInferResult), callback, context);
    return undefined;
  }

  async registerSystemSharedMemory(name: string, key: string, byteSize: number, options?: RegisterSystemSharedMemoryOptions): Promise<void> {
    const call = this.#call("registerSystemSharedMemory", options);
    return this.#transport.systemSharedMemoryRegister(registerRequest(name, key, byteSize, options?.offset), call);
  }

  async unregisterSystemSharedMemory(name?: string, options?: CallOptions): Promise<void> {
    const call = this.#call("unregisterSystemSharedMemory", options);
    return this.#transport.systemSharedMemoryUnregister(optionalRegion(name, "unregisterSystemSharedMemory"), call);
  }

  async systemSharedMemoryStatus(name?: string, options?: CallOptions): Promise<SystemSharedMemoryStatus[]> {
    const call = this.#call("systemSharedMemoryStatus", options);
    return this.#transport.systemSharedMemoryStatus(optionalRegion(name, "systemSharedMemoryStatus"), call);
  }

  endpoints(): EndpointStatus[] {
    return this.#transport.endpoints?.() ?? [];
  }

  stream(options?: StreamOptions): InferStream {
    const call = this.#call("stream", options);
    const transport = this.#transport;
    if (typeof transport.openStream !== "function")
      throw new InferenceError("unimplemented", `stream: streaming inference needs gRPC (ModelStreamInfer); this client speaks ${this.protocol}`);
    const stream = new InferStreamImpl((handlers) => transport.openStream!(call, handlers));
    const streams = this.#streams;
    streams.add(stream);
    const forget = (): void => void streams.delete(stream);
    stream.closed.then(forget, forget);
    return stream;
  }

  async *inferDecoupled(model: string, inputs: Tensor[], options?: DecoupledInferOptions): AsyncGenerator<InferResult, void, undefined> {
    const stream = this.stream({ signal: options?.signal, timeoutMs: options?.timeoutMs, headers: options?.headers });
    let complete = false;
    try {
      const id = stream.send(model, inputs, { ...options, enableEmptyFinalResponse: true });
      stream.end();
      yield* stream.responses(id);
      complete = true;
    } finally {
      // Stopped early (or failed): the server must stop sending. Complete: the server ends the stream itself.
      if (!complete) stream.cancel();
    }
  }

  sequence(model: string, options?: SequenceOptions): InferSequence {
    this.#model("sequence", model);
    const stream = options?.stream;
    if (stream !== undefined && !(stream instanceof InferStreamImpl))
      throw new InferenceError("invalid_argument", "sequence: options.stream must be a stream opened with client.stream()");
    return new InferSequenceImpl(model, options?.id, stream ? runOnStream(stream, model) : (inputs, o) => this.infer(model, inputs, o));
  }

  /**
   * Open streams are cancelled first, while their connection is up (the server sees CANCELLED; their
   * reads reject with "cancelled", "the client was closed"): a stream has no end of its own and would hold
   * the connection and the process open. Calls in flight are left to finish: the balancing layer closes an
   * endpoint's connections once nothing is outstanding there (balanced.ts).
   */
  close(): Promise<void> {
    this.#closed = true;
    return (this.#closing ??= this.#shutDown());
  }

  async #shutDown(): Promise<void> {
    await Promise.all(Array.from(this.#streams, (stream) => stream.shutDown()));
    await this.#transport.close();
  }
}

/**
 * Creates a client. The protocol is `options.protocol`, else the URL scheme's (http/https -> "http",
 * grpc/grpcs -> "grpc"), else "http".
 */
export function createClient(options: ClientOptions): InferenceClient {
  if (options === null || typeof options !== "object")
    throw new InferenceError("invalid_argument", "createClient: options must be an object");
  const urls = endpointUrls(options.url);
  // TLS, auth, compression and connection settings: the same for every transport of this client.
  const wire = resolveWire(options);
  const reconnect = grpcReconnectOptions(options, urls.length);
  // One protocol transport per endpoint URL; assembleTransport adds tracing, balancing and retries.
  const open = (url: string): Transport => {
    const protocol = options.protocol ?? protocolOf(url);
    if (protocol === "grpc") return createGrpcTransport({ ...wire.transport, url, channelOptions: reconnect });
    if (protocol === "http") return createHttpTransport({ ...wire.transport, url: httpBaseUrl(url, wire.transport.tls !== undefined) });
    throw new InferenceError("invalid_argument", `createClient: unknown protocol ${JSON.stringify(protocol)}`);
  };
  // Constant headers (static credentials included) go with every call and every readiness probe.
  const settled = { ...options, headers: wire.headers };
  return new Client(settled, assembleTransport(urls, settled, open));
}
