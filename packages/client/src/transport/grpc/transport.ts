// KServe v2 over gRPC (GRPCInferenceService) with @grpc/grpc-js: deadlines, cancellation via call.cancel(),
// Triton's 2 GiB message limits.
import * as grpc from "@grpc/grpc-js";
import type { CallOptions, ModelMetadata, ModelStatistics, ServerMetadata, SystemSharedMemoryStatus, TensorMetadata } from "../../api.ts";
import { InferenceError } from "../../errors.ts";
import { toModelStatistics } from "../../statistics.ts";
import type { AuthHook, ClientTlsOptions, Compression, GrpcConnectionOptions } from "../../connection-options.ts";
import { hookHeaders } from "../auth.ts";
import { cancelledError, deadlineError } from "../call-scope.ts";
import { checkConnectTimeout } from "../option-checks.ts";
import { describeGrpcFailure, type ConnectionTarget } from "../connection-errors.ts";
import { checkTls } from "../tls-options.ts";
import { channelCredentials, channelOptions } from "./channel.ts";
import { awaitChannel, connectTimeoutError } from "./connect.ts";
import type {
  InferEnd,
  InferRequest,
  InferResponse,
  LoadRequest,
  ModelRef,
  SharedMemoryRegisterRequest,
  StatisticsRequest,
  StreamChannel,
  StreamHandlers,
  TraceUpdateWire,
  Transport,
  UnloadRequest,
} from "../transport.ts";
import { openGrpcStream } from "./stream-channel.ts";
import { statusFromGrpc } from "../shared-memory-status.ts";
import { decodeInferResponse, encodeInferRequest, type WireInferResponse } from "./infer-codec.ts";
import { inferenceServiceClient, modelInferCodec } from "./service.ts";
import { InferRequestLayouts } from "./infer-request-layout.ts";
import { InferAnswerDecoders } from "./infer-answer-decoders.ts";
import { endWith } from "../infer-end.ts";
import { callBackFrom, callBackLater, type InferCallback } from "../infer-callback.ts";
import { H2UnaryClient } from "./h2/unary-client.ts";
import { rawOutputOffset } from "./h2/message-reader.ts";
import { inferImplementation } from "./h2/implementation.ts";
import type { LogSettings, RepositoryIndexEntry, TraceSettings } from "../../extension-types.ts";
import { logSettingsFromWire, traceSettingsFromWire } from "../../settings-wire.ts";
import { extensionGrpcError } from "../../unsupported.ts";

export interface GrpcTransportOptions {
  /** host:port, grpc://host:port, or grpcs://host:port for TLS. */
  url: string;
  /** TLS credentials; default: insecure for grpc:// and bare host:port, system roots for grpcs://. */
  credentials?: grpc.ChannelCredentials;
  /** Extra grpc-js channel options (merged over the defaults). */
  channelOptions?: grpc.ChannelOptions;
  /** TLS settings; setting them implies TLS for a bare host:port. */
  tls?: ClientTlsOptions;
  /** Message compression of requests. */
  compression?: Compression;
  /** Keepalive and channel options. */
  grpc?: GrpcConnectionOptions;
  /** Bound on waiting for the connection before a call goes out. */
  connectTimeoutMs?: number;
  /** Per-call metadata (authentication). */
  authHook?: AuthHook;
}

type Callback = (error: grpc.ServiceError | null, response?: unknown) => void;
type UnaryMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback) => grpc.ClientUnaryCall;

interface Target {
  address: string;
  secure: boolean;
  /** The URL named a scheme (so `secure` was chosen explicitly). */
  explicit?: boolean;
}

function parseTarget(url: string): Target {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(url);
  if (!m) return { address: url, secure: false };
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!.replace(/\/+$/, "");
  if (scheme === "grpc" || scheme === "http") return { address: rest, secure: false, explicit: true };
  if (scheme === "grpcs" || scheme === "https") return { address: rest, secure: true, explicit: true };
  throw new InferenceError("invalid_argument", `gRPC transport needs host:port, grpc:// or grpcs://, got ${url}`);
}

function tensorMetadata(list: unknown): TensorMetadata[] {
  if (!Array.isArray(list)) return [];
  return list.map((t: { name?: string; datatype?: string; shape?: (string | number)[] }) => ({
    name: t.name ?? "",
    datatype: t.datatype ?? "",
    shape: (t.shape ?? []).map((d) => Number(d)),
  }));
}

export class GrpcTransport implements Transport {
  readonly protocol = "grpc" as const;
  readonly url: string;
  readonly #client: grpc.Client & Record<string, UnaryMethod>;
  readonly #scheme: "grpc" | "grpcs";
  readonly #authHook: AuthHook | undefined;
  readonly #connectTimeoutMs: number | undefined;
  readonly #target: ConnectionTarget;
  /** The node:http2 path for infer; undefined when grpc-js carries it. */
  readonly #h2: H2UnaryClient | undefined;
  /** Kept request prefixes of repeated infer calls, and the answers' decoders (the h2 paths). */
  readonly #requestLayouts = new InferRequestLayouts();
  readonly #answers = new InferAnswerDecoders();
  /** The last infer's model and its "infer(model)": calls to one model share the string (no string per call). */
  #whatModel: string | undefined;
  #what = "";

  constructor(options: GrpcTransportOptions) {
    const target = parseTarget(options.url);
    if (target.address === "") throw new InferenceError("invalid_argument", `gRPC URL has no host:port: ${options.url}`);
    const tls = checkTls(options.tls);
    if (tls && target.explicit && !target.secure)
      throw new InferenceError("invalid_argument", `createClient: tls options given but the URL ${options.url} asks for plaintext; use grpcs://`);
    checkConnectTimeout(options.connectTimeoutMs);
    const secure = target.secure || tls !== undefined;
    this.url = target.address;
    this.#scheme = secure ? "grpcs" : "grpc";
    this.#target = { address: `${this.#scheme}://${target.address}`, secure, clientCert: tls?.cert !== undefined };
    this.#authHook = options.authHook;
    this.#connectTimeoutMs = options.connectTimeoutMs;
    const implementation = inferImplementation(options.grpc, options.credentials !== undefined, options.compression);
    if (implementation !== "grpc-js")
      this.#h2 = new H2UnaryClient({
        wire: implementation === "iaas-h2",
        address: target.address,
        secure,
        tls,
        target: this.#target,
        compression: options.compression,
        grpc: options.grpc,
        authHook: options.authHook,
        connectTimeoutMs: options.connectTimeoutMs,
      });
    const credentials = options.credentials ?? channelCredentials(secure, tls);
    const Ctor = inferenceServiceClient();
    this.#client = new Ctor(target.address, credentials, {
      ...channelOptions({ tls, compression: options.compression, grpc: options.grpc }),
      ...options.channelOptions,
    }) as unknown as grpc.Client & Record<string, UnaryMethod>;
  }

  #unary<T>(method: string, request: unknown, call: CallOptions, what: string): Promise<T> {
    if (this.#authHook === undefined && this.#connectTimeoutMs === undefined) return this.#send<T>(method, request, call, what);
    return this.#prepareAndSend<T>(method, request, call, what);
  }

  /** Auth metadata and the bounded wait for a connection, then the call; the call's deadline counts from here. */
  async #prepareAndSend<T>(method: string, request: unknown, call: CallOptions, what: string): Promise<T> {
    const startedAt = Date.now();
    const signal = call.signal;
    if (signal?.aborted) throw cancelledError(what, signal.reason);
    const extra = this.#authHook
      ? await hookHeaders(this.#authHook, { protocol: "grpc", method, url: `${this.#scheme}://${this.url}/inference.GRPCInferenceService/${method}` })
      : undefined;
    const connectMs = this.#connectTimeoutMs;
    if (connectMs !== undefined) {
      const t = call.timeoutMs;
      const left = t !== undefined && t >= 0 && Number.isFinite(t) ? t - (Date.now() - startedAt) : Infinity;
      const callFirst = left < connectMs;
      await awaitChannel(
        this.#client,
        callFirst ? Math.max(0, left) : connectMs,
        () => (callFirst ? deadlineError(what, t!) : connectTimeoutError(this.url, connectMs)),
        signal,
        () => cancelledError(what, signal?.reason),
      );
    }
    return this.#send<T>(method, request, call, what, extra, startedAt);
  }

  #send<T>(method: string, request: unknown, call: CallOptions, what: string, extra?: Record<string, string>, startedAt?: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const signal = call.signal;
      if (signal?.aborted) return reject(cancelledError(what, signal.reason));
      const timeoutMs = call.timeoutMs;
      if (timeoutMs !== undefined && !(timeoutMs >= 0))
        return reject(new InferenceError("invalid_argument", `${what}: timeoutMs must be >= 0, got ${timeoutMs}`));
      const metadata = new grpc.Metadata();
      if (extra) for (const k of Object.keys(extra)) metadata.set(k, extra[k]!);
      if (call.headers) for (const k of Object.keys(call.headers)) metadata.set(k, call.headers[k]!);
      const options: grpc.CallOptions =
        timeoutMs !== undefined && Number.isFinite(timeoutMs) ? { deadline: (startedAt ?? Date.now()) + timeoutMs } : {};
      let onAbort: (() => void) | undefined;
      let pending: grpc.ClientUnaryCall;
      try {
        pending = this.#client[method]!.call(this.#client, request, metadata, options, (error, response) => {
          if (onAbort) signal!.removeEventListener("abort", onAbort);
          if (!error) return resolve(response as T);
          if (signal?.aborted && error.code === grpc.status.CANCELLED) return reject(cancelledError(what, signal.reason));
          if (error.code === grpc.status.DEADLINE_EXCEEDED && timeoutMs !== undefined) return reject(deadlineError(what, timeoutMs));
          reject(describeGrpcFailure(InferenceError.from(error), this.#target));
        });
      } catch (e) {
        // grpc-js throws synchronously on a closed channel or an unserializable message.
        const err = InferenceError.from(e);
        return reject(err.code === "unknown" ? new InferenceError("invalid_argument", `${what}: ${err.message}`, { cause: e }) : err);
      }
      if (signal) {
        onAbort = () => pending.cancel();
        signal.addEventListener("abort", onAbort, { once: true });
      }
    });
  }

  async serverLive(call: CallOptions): Promise<boolean> {
    const r = await this.#unary<{ live?: boolean }>("ServerLive", {}, call, "isServerLive");
    return r.live ?? false;
  }

  async serverReady(call: CallOptions): Promise<boolean> {
    const r = await this.#unary<{ ready?: boolean }>("ServerReady", {}, call, "isServerReady");
    return r.ready ?? false;
  }

  async modelReady(ref: ModelRef, call: CallOptions): Promise<boolean> {
    try {
      const r = await this.#unary<{ ready?: boolean }>(
        "ModelReady",
        { name: ref.model, version: ref.version ?? "" },
        call,
        `isModelReady(${ref.model})`,
      );
      return r.ready ?? false;
    } catch (e) {
      // An unknown model is simply not ready (HTTP answers such a query with 4xx, read as false too).
      if (e instanceof InferenceError && (e.code === "not_found" || e.code === "invalid_argument")) return false;
      throw e;
    }
  }

  async serverMetadata(call: CallOptions): Promise<ServerMetadata> {
    const r = await this.#unary<{ name?: string; version?: string; extensions?: string[] }>(
      "ServerMetadata",
      {},
      call,
      "serverMetadata",
    );
    return { name: r.name ?? "", version: r.version ?? "", extensions: r.extensions ?? [] };
  }

  async modelMetadata(ref: ModelRef, call: CallOptions): Promise<ModelMetadata> {
    const r = await this.#unary<Record<string, unknown>>(
      "ModelMetadata",
      { name: ref.model, version: ref.version ?? "" },
      call,
      `modelMetadata(${ref.model})`,
    );
    return {
      name: (r.name as string | undefined) ?? "",
      versions: (r.versions as string[] | undefined) ?? [],
      platform: (r.platform as string | undefined) ?? "",
      inputs: tensorMetadata(r.inputs),
      outputs: tensorMetadata(r.outputs),
    };
  }

  /** An RPC of a Triton extension: UNIMPLEMENTED becomes an "unimplemented" error naming the RPC. */
  async #extension<T>(method: string, request: unknown, call: CallOptions, what: string): Promise<T> {
    try {
      return await this.#unary<T>(method, request, call, what);
    } catch (e) {
      throw extensionGrpcError(e, what, method);
    }
  }

  async modelConfig(ref: ModelRef, call: CallOptions): Promise<Record<string, unknown>> {
    const r = await this.#extension<{ config?: Record<string, unknown> }>(
      "ModelConfig",
      { name: ref.model, version: ref.version ?? "" },
      call,
      `modelConfig(${ref.model})`,
    );
    return r.config ?? {};
  }

  async modelStatistics(req: StatisticsRequest, call: CallOptions): Promise<ModelStatistics[]> {
    const r = await this.#extension<{ model_stats?: unknown[] }>(
      "ModelStatistics",
      { name: req.model ?? "", version: req.version ?? "" },
      call,
      `modelStatistics(${req.model ?? ""})`,
    );
    return toModelStatistics(r.model_stats ?? []);
  }

  async loadModel(req: LoadRequest, call: CallOptions): Promise<void> {
    const parameters: Record<string, { string_param: string } | { bytes_param: Uint8Array }> = {};
    if (req.config !== undefined) parameters.config = { string_param: req.config };
    // Over gRPC a model file travels as raw bytes.
    for (const f of req.files ?? []) parameters[`file:${f.path}`] = { bytes_param: f.content };
    await this.#extension("RepositoryModelLoad", { model_name: req.model, parameters }, call, `loadModel(${req.model})`);
  }

  async systemSharedMemoryRegister(req: SharedMemoryRegisterRequest, call: CallOptions): Promise<void> {
    const message = { name: req.name, key: req.key, offset: req.offset, byte_size: req.byteSize };
    await this.#unary("SystemSharedMemoryRegister", message, call, `registerSystemSharedMemory(${req.name})`);
  }

  async systemSharedMemoryUnregister(name: string | undefined, call: CallOptions): Promise<void> {
    await this.#unary("SystemSharedMemoryUnregister", { name: name ?? "" }, call, `unregisterSystemSharedMemory(${name ?? ""})`);
  }

  async systemSharedMemoryStatus(name: string | undefined, call: CallOptions): Promise<SystemSharedMemoryStatus[]> {
    const r = await this.#unary<{ regions?: Record<string, unknown> }>(
      "SystemSharedMemoryStatus",
      { name: name ?? "" },
      call,
      `systemSharedMemoryStatus(${name ?? ""})`,
    );
    return statusFromGrpc(r.regions);
  }

  async unloadModel(ref: UnloadRequest, call: CallOptions): Promise<void> {
    const parameters = ref.unloadDependents === undefined ? {} : { unload_dependents: { bool_param: ref.unloadDependents } };
    await this.#extension("RepositoryModelUnload", { model_name: ref.model, parameters }, call, `unloadModel(${ref.model})`);
  }

  async repositoryIndex(ready: boolean, call: CallOptions): Promise<RepositoryIndexEntry[]> {
    const r = await this.#extension<{ models?: { name?: string; version?: string; state?: string; reason?: string }[] }>(
      "RepositoryIndex",
      { ready },
      call,
      "repositoryIndex",
    );
    return (r.models ?? []).map((m) => ({ name: m.name ?? "", version: m.version ?? "", state: m.state ?? "", reason: m.reason ?? "" }));
  }

  async traceSettings(model: string | undefined, update: TraceUpdateWire | undefined, call: CallOptions): Promise<TraceSettings> {
    const settings: Record<string, { value: string[] }> = {};
    // An empty value list is gRPC's way of clearing a setting (JSON null over HTTP).
    for (const [k, v] of Object.entries(update ?? {})) settings[k] = { value: v === null ? [] : Array.isArray(v) ? v : [v] };
    const what = update === undefined ? "traceSettings" : "updateTraceSettings";
    const r = await this.#extension<{ settings?: Record<string, { value?: string[] }> }>("TraceSetting", { settings, model_name: model ?? "" }, call, what);
    const flat: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r.settings ?? {})) flat[k] = k === "trace_level" ? (v.value ?? []) : (v.value ?? [])[0];
    return traceSettingsFromWire(flat);
  }

  async logSettings(update: Record<string, boolean | number | string> | undefined, call: CallOptions): Promise<LogSettings> {
    const settings: Record<string, object> = {};
    for (const [k, v] of Object.entries(update ?? {}))
      settings[k] = typeof v === "boolean" ? { bool_param: v } : typeof v === "number" ? { uint32_param: v } : { string_param: v };
    const what = update === undefined ? "logSettings" : "updateLogSettings";
    const r = await this.#extension<{ settings?: Record<string, { bool_param?: boolean; uint32_param?: number; string_param?: string }> }>(
      "LogSettings",
      { settings },
      call,
      what,
    );
    const flat: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r.settings ?? {})) flat[k] = v.bool_param ?? v.uint32_param ?? v.string_param;
    return logSettingsFromWire(flat);
  }

  infer(req: InferRequest, call: CallOptions): Promise<InferResponse> {
    if (this.#h2) return this.#h2Infer(req, call, undefined);
    return this.#grpcJsInfer(req, call);
  }

  /** infer ended by `end` where the answer settles (the h2 paths; grpc-js: one `.then`). */
  inferWith<T>(req: InferRequest, call: CallOptions, end: InferEnd<T>): Promise<T> {
    if (this.#h2) return this.#h2Infer(req, call, end);
    return endWith(this.#grpcJsInfer(req, call), end);
  }

  async #grpcJsInfer(req: InferRequest, call: CallOptions): Promise<InferResponse> {
    const r = await this.#unary<WireInferResponse>("ModelInfer", encodeInferRequest(req), call, `infer(${req.model})`);
    return decodeInferResponse(r, req.outputs);
  }

  /** Not async: an async frame would hold the serialized request until the answer. */
  #h2Infer(req: InferRequest, call: CallOptions, end: undefined): Promise<InferResponse>;
  #h2Infer<T>(req: InferRequest, call: CallOptions, end: InferEnd<T>): Promise<T>;
  #h2Infer<T>(req: InferRequest, call: CallOptions, end: InferEnd<T> | undefined): Promise<InferResponse | T> {
    const message = this.#h2Message(req);
    if (message instanceof InferenceError) return Promise.reject(end ? end.failed(message) : message);
    // The answer is decoded (and with `end`, made the layers' result) by the call itself: no promise and
    // closure per call for a .then here or above.
    const decoder = end === undefined ? this.#answers.plain(req.outputs) : this.#answers.ended(req.outputs, end);
    return this.#h2!.call<InferResponse | T>("ModelInfer", message, call, this.#what, rawOutputOffset, decoder);
  }

  /** inferWith by a callback (transport.ts): on the h2 paths no promise at all. */
  inferCallback<T, C>(req: InferRequest, call: CallOptions, end: InferEnd<T>, callback: InferCallback<T, C>, context: C): void {
    if (!this.#h2) return callBackFrom(this.inferWith(req, call, end), callback, context);
    const message = this.#h2Message(req);
    if (message instanceof InferenceError) return callBackLater(callback, end.failed(message), context);
    this.#h2.callBack<T, C>("ModelInfer", message, call, this.#what, rawOutputOffset, this.#answers.ended(req.outputs, end), callback, context);
  }

  /** The serialized request (kept layouts when they fit), or why it cannot be; sets #what for req.model. */
  #h2Message(req: InferRequest): Uint8Array[] | InferenceError {
    if (req.model !== this.#whatModel) {
      this.#whatModel = req.model;
      this.#what = `infer(${req.model})`;
    }
    try {
      return this.#requestLayouts.message(req) ?? modelInferCodec().serialize(encodeInferRequest(req));
    } catch (e) {
      const err = InferenceError.from(e);
      return err.code === "unknown" ? new InferenceError("invalid_argument", `${this.#what}: ${err.message}`, { cause: e }) : err;
    }
  }

  openStream(call: CallOptions, handlers: StreamHandlers): StreamChannel {
    const hook = this.#authHook;
    const url = `${this.#scheme}://${this.url}/inference.GRPCInferenceService/ModelStreamInfer`;
    return openGrpcStream(this.#client, call, handlers, hook ? () => hookHeaders(hook, { protocol: "grpc", method: "ModelStreamInfer", url }) : undefined);
  }

  async close(): Promise<void> {
    this.#h2?.close();
    this.#client.close();
  }
}

export function createGrpcTransport(options: GrpcTransportOptions): Transport {
  return new GrpcTransport(options);
}
