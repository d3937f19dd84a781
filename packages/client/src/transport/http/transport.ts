// KServe v2 over HTTP/1.1: the client's own keep-alive connections on node:net / node:tls (fast/) when
// the options allow, undici's Pool otherwise (pipelining, raw Pool options); no fetch on the hot path.
import { Pool, type Dispatcher } from "undici";
import type { CallOptions, ModelMetadata, ModelStatistics, ServerMetadata, SystemSharedMemoryStatus, TensorMetadata } from "../../api.ts";
import { InferenceError, httpError } from "../../errors.ts";
import { parseJson } from "../../protocol/json-data.ts";
import { toModelStatistics } from "../../statistics.ts";
import type { AuthHook, ClientTlsOptions, Compression, HttpConnectionOptions } from "../../connection-options.ts";
import { hookHeaders } from "../auth.ts";
import { NO_CALL_SCOPE, cancelledError, openCallScope, openQueuedScope, queuedTimeout } from "../call-scope.ts";
import { describeHttpFailure, type ConnectionTarget } from "../connection-errors.ts";
import { checkTls } from "../tls-options.ts";
import type {
  InferEnd,
  InferRequest,
  InferResponse,
  LoadRequest,
  ModelRef,
  SharedMemoryRegisterRequest,
  StatisticsRequest,
  TraceUpdateWire,
  Transport,
  UnloadRequest,
} from "../transport.ts";
import { dispatchRequest, type CollectedResponse } from "./dispatch.ts";
import { statusFromJson, systemSharedMemoryPath } from "../shared-memory-status.ts";
import { MIN_COMPRESS_BYTES, bodyLength, checkCompression, compressBody, decodeResponseBody, type Coding } from "./compression.ts";
import { HEADER_LENGTH, encodeInferRequest, type EncodedBody } from "./infer-codec.ts";
import { InferJsonReuse } from "./infer-json-reuse.ts";
import { loggingPath, modelPath, repositoryIndexPath, repositoryPath, statisticsPath, traceSettingsPath } from "./paths.ts";
import type { LogSettings, RepositoryIndexEntry, TraceSettings } from "../../extension-types.ts";
import { logSettingsFromWire, traceSettingsFromWire } from "../../settings-wire.ts";
import { extensionHttpError } from "../../unsupported.ts";
import { poolOptions } from "./pool-options.ts";
import { FastPool } from "./fast/pool.ts";
import { checkRequest, type ExchangeFinish } from "./fast/exchange.ts";
import { InferHeaderCache } from "./infer-header-cache.ts";
import type { CallScope } from "../call-scope.ts";
import { fastPoolSettings } from "./fast/settings.ts";
import { joinChunks } from "./body.ts";
import { endWith } from "../infer-end.ts";
import { callBackFrom, callBackLater, type InferCallback } from "../infer-callback.ts";

export interface HttpTransportOptions {
  /** http(s)://host:port, optionally with a path prefix. */
  url: string;
  /** Connections kept open to the server (default 64). */
  connections?: number;
  /** Idle keep-alive time of a connection in ms (default 60000); `http.keepAliveTimeoutMs` wins. */
  keepAliveTimeoutMs?: number;
  /** TLS settings; needs an https:// URL. */
  tls?: ClientTlsOptions;
  /** Content-Encoding for request bodies. */
  compression?: Compression;
  /** Send `Accept-Encoding: gzip, deflate` (responses in either coding are inflated whether asked for or not). */
  acceptCompression?: boolean;
  /** TCP + TLS connection establishment limit in ms (undici default 10000). */
  connectTimeoutMs?: number;
  /** undici Pool tuning. */
  http?: HttpConnectionOptions;
  /** Per-request headers (authentication). */
  authHook?: AuthHook;
}

// Above this size the request body goes out as separate chunks instead of one concatenation.
const CONCAT_LIMIT = 64 * 1024;

interface Answer {
  status: number;
  headers: Dispatcher.ResponseData["headers"];
  body: Buffer;
}

type Method = "GET" | "POST";

function jsonBody(answer: Answer): unknown {
  const text = answer.body.toString("utf8");
  if (text.trim() === "") return {};
  try {
    return parseJson(text);
  } catch (e) {
    throw new InferenceError("internal", `server answered HTTP ${answer.status} with a body that is not JSON: ${(e as Error).message}`, {
      httpStatus: answer.status,
    });
  }
}

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new InferenceError("internal", `${what}: expected a JSON object from the server`);
  return v as Record<string, unknown>;
}

function tensorMetadata(list: unknown): TensorMetadata[] {
  if (!Array.isArray(list)) return [];
  return list.map((t: Record<string, unknown>) => ({
    name: String(t.name ?? ""),
    datatype: String(t.datatype ?? ""),
    shape: Array.isArray(t.shape) ? t.shape.map((d: unknown) => Number(d)) : [],
  }));
}

/** Offset of the binary section (Inference-Header-Content-Length), for aligning the body. */
function binaryOffset(res: CollectedResponse): number | undefined {
  const len = res.headers[HEADER_LENGTH];
  const n = typeof len === "string" ? Number(len) : undefined;
  return n !== undefined && Number.isSafeInteger(n) ? n : undefined;
}

function plainAnswer(res: CollectedResponse): Answer {
  return { status: res.statusCode, headers: res.headers, body: joinChunks(res.body, binaryOffset(res)) };
}

async function decodedAnswer(res: CollectedResponse): Promise<Answer> {
  const body = await decodeResponseBody(joinChunks(res.body), res.headers["content-encoding"], binaryOffset(res));
  return { status: res.statusCode, headers: res.headers, body };
}

/** An infer answer (status checked) as the call's result; the header cache skips parsing repeated JSON headers. */
function inferResult(answer: Answer, cache: InferHeaderCache, outputs: InferRequest["outputs"]): InferResponse {
  const len = answer.headers[HEADER_LENGTH];
  return decodedResult(answer.status, answer.body, typeof len === "string" ? Number(len) : undefined, cache, outputs);
}

function decodedResult(status: number, body: Buffer, headerLength: number | undefined, cache: InferHeaderCache, outputs: InferRequest["outputs"]): InferResponse {
  if (status >= 400) throw httpError(status, body.toString("utf8"));
  try {
    return cache.decode(body, headerLength, outputs);
  } catch (e) {
    throw InferenceError.from(e);
  }
}

/** A FastInferEnd kept for the calls that share its signal, timeout, model and end (HttpTransport.#sharedSignalEnd). */
interface SignalEnd {
  signal: AbortSignal | undefined;
  timeoutMs: number | undefined;
  target: InferTarget;
  end: InferEnd<unknown>;
  finish: FastInferEnd<unknown>;
}

/**
 * The end of an infer call on the fast path, run by the pool as the answer completes: the call's one
 * promise settles with what the layers above make of the decoded result (their InferEnd, applied here
 * instead of a `.then` each), or with the described failure, with no async frames in between. Calls with
 * neither a signal nor a timeout nor requested outputs share one per InferEnd (#plainEnd); calls with only
 * a signal and/or a timeout share one while signal, timeout, model and InferEnd repeat from call to call
 * (#sharedSignalEnd; the request keeps its deadline in the shared queue, FastRequest.timeoutMs).
 */
class FastInferEnd<T> implements ExchangeFinish<T> {
  readonly #scope: CallScope;
  readonly #target: ConnectionTarget;
  readonly #cache: InferHeaderCache;
  readonly #outputs: InferRequest["outputs"];
  readonly #end: InferEnd<T>;

  constructor(scope: CallScope, target: ConnectionTarget, cache: InferHeaderCache, outputs: InferRequest["outputs"], end: InferEnd<T>) {
    this.#scope = scope;
    this.#target = target;
    this.#cache = cache;
    this.#outputs = outputs;
    this.#end = end;
  }

  get scope(): CallScope {
    return this.#scope;
  }

  done(res: CollectedResponse): T | Promise<T> {
    if (res.headers["content-encoding"] === undefined) {
      // As plainAnswer + inferResult, without the answer object and a second read of the header length.
      const len = res.headers[HEADER_LENGTH];
      const n = typeof len === "string" ? Number(len) : undefined;
      const body = joinChunks(res.body, n !== undefined && Number.isSafeInteger(n) ? n : undefined);
      return this.#result(res.statusCode, body, n);
    }
    return decodedAnswer(res).then(
      (answer) => {
        const len = answer.headers[HEADER_LENGTH];
        return this.#result(answer.status, answer.body, typeof len === "string" ? Number(len) : undefined);
      },
      (e: unknown) => {
        throw this.failed(e);
      },
    );
  }

  /** The layers' result of an answer; an error answer or an undecodable one goes to their `failed`. */
  #result(status: number, body: Buffer, headerLength: number | undefined): T {
    this.#scope.dispose();
    let response: InferResponse;
    try {
      response = decodedResult(status, body, headerLength, this.#cache, this.#outputs);
    } catch (e) {
      throw this.#end.failed(e);
    }
    return this.#end.done(response);
  }

  failed(error: unknown): unknown {
    this.#scope.dispose();
    return this.#end.failed(describeHttpFailure(this.#scope.fail(error), this.#target));
  }
}

/** infer's own end: the answer as it is, failures as they are. */
const AS_IS: InferEnd<InferResponse> = { done: (response) => response, failed: (error) => error };

interface InferTarget {
  path: string;
  binaryHead: string;
  jsonHead: string;
  /** The model's last reusable JSON header (infer-json-reuse.ts). */
  json: InferJsonReuse;
  /** "infer(<model>)", for error messages (kept: a call with a signal holds it while in flight). */
  what: string;
}

function inferHeaders(encoded: EncodedBody): Record<string, string> {
  return encoded.binary
    ? { "content-type": "application/octet-stream", [HEADER_LENGTH]: String(encoded.headerLength), "content-length": String(encoded.byteLength) }
    : { "content-type": "application/json" };
}

export class HttpTransport implements Transport {
  readonly protocol = "http" as const;
  readonly url: string;
  /** undici, when the fast path cannot serve the options (fast/settings.ts). */
  readonly #pool: Pool | undefined;
  readonly #fast: FastPool | undefined;
  readonly #prefix: string;
  readonly #origin: string;
  readonly #authHook: AuthHook | undefined;
  readonly #compression: Coding | undefined;
  readonly #acceptCompression: boolean;
  readonly #target: ConnectionTarget;
  /** host:port for the Host header of infer heads built here. */
  readonly #host: string;
  readonly #headerCache = new InferHeaderCache();
  /** FastInferEnd by InferEnd, for calls without signal, timeout or requested outputs (#plainEnd). */
  readonly #plainEnds = new Map<InferEnd<unknown>, FastInferEnd<unknown>>();
  /** The FastInferEnd of the last call with a signal and/or timeout and nothing else per call (#sharedSignalEnd). */
  #signalEnd: SignalEnd | undefined = undefined;
  /** Infer paths and request heads by model (and version), see #inferTarget. */
  readonly #inferTargets = new Map<string, InferTarget>();

  constructor(options: HttpTransportOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new InferenceError("invalid_argument", `not an HTTP URL: ${JSON.stringify(options.url)}`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
      throw new InferenceError("invalid_argument", `HTTP transport needs an http:// or https:// URL, got ${options.url}`);
    const tls = checkTls(options.tls);
    if (tls && parsed.protocol === "http:")
      throw new InferenceError("invalid_argument", `createClient: tls options given but the URL ${options.url} is plaintext http://; use https://`);
    this.#compression = checkCompression(options.compression);
    this.#acceptCompression = options.acceptCompression === true;
    this.#authHook = options.authHook;
    this.#prefix = parsed.pathname.replace(/\/+$/, "");
    this.#origin = parsed.origin;
    this.#target = { address: parsed.origin, secure: parsed.protocol === "https:", clientCert: tls?.cert !== undefined };
    this.url = parsed.origin + this.#prefix;
    this.#host = parsed.host;
    const http = options.keepAliveTimeoutMs === undefined ? options.http : { keepAliveTimeoutMs: options.keepAliveTimeoutMs, ...options.http };
    const undiciOptions = poolOptions({ connections: options.connections, connectTimeoutMs: options.connectTimeoutMs, tls, http });
    const fast = fastPoolSettings({ url: parsed, connections: options.connections, connectTimeoutMs: options.connectTimeoutMs, tls, http });
    this.#fast = fast ? new FastPool(fast) : undefined;
    this.#pool = fast ? undefined : new Pool(parsed.origin, undiciOptions);
  }

  async #request(
    method: Method,
    path: string,
    call: CallOptions,
    what: string,
    body?: string | Buffer | Uint8Array[],
    headers?: Record<string, string>,
  ): Promise<Answer> {
    const scope = openCallScope(call, what);
    try {
      let allHeaders = call.headers ? { ...call.headers, ...headers } : headers;
      let payload = body;
      // Explicit headers (client, call) win over auth and encoding defaults.
      if (this.#authHook)
        allHeaders = { ...(await hookHeaders(this.#authHook, { protocol: "http", method, url: this.#origin + path })), ...allHeaders };
      if (this.#acceptCompression) allHeaders = { "accept-encoding": "gzip, deflate", ...allHeaders };
      // (#leanInfer repeats these steps for infer without the awaits; keep the two in step.)
      if (this.#compression && body !== undefined && bodyLength(body) >= MIN_COMPRESS_BYTES) {
        const compressed = await compressBody(body, this.#compression);
        payload = compressed.chunks;
        allHeaders = { ...allHeaders, "content-encoding": this.#compression, "content-length": String(compressed.byteLength) };
      }
      const request = { method, path, headers: allHeaders ?? null, body: payload ?? null, signal: scope.signal ?? null };
      // undici: dispatch, not pool.request: no Readable stream per response (client CPU, see bench/client-cpu.mjs).
      const res = this.#fast !== undefined ? await this.#fast.request(request) : await dispatchRequest(this.#pool!, request);
      return res.headers["content-encoding"] === undefined ? plainAnswer(res) : await decodedAnswer(res);
    } catch (e) {
      throw describeHttpFailure(scope.fail(e), this.#target);
    } finally {
      scope.dispose();
    }
  }

  async #json(method: Method, path: string, call: CallOptions, what: string, body?: string): Promise<unknown> {
    const answer = await this.#request(
      method,
      path,
      call,
      what,
      body,
      body === undefined ? undefined : { "content-type": "application/json" },
    );
    if (answer.status >= 400) throw httpError(answer.status, answer.body.toString("utf8"));
    return jsonBody(answer);
  }

  /**
   * A call to a Triton extension endpoint: like #json, but an answer saying the server has no such route
   * becomes an "unimplemented" error naming the endpoint (`perModel`: the path names a model).
   */
  async #extension(method: Method, path: string, call: CallOptions, what: string, perModel: boolean, body?: string): Promise<unknown> {
    const answer = await this.#request(method, path, call, what, body, body === undefined ? undefined : { "content-type": "application/json" });
    if (answer.status >= 400) throw extensionHttpError(answer.status, answer.body.toString("utf8"), what, `${method} ${path}`, perModel);
    return jsonBody(answer);
  }

  async #health(path: string, call: CallOptions, what: string, field: string): Promise<boolean> {
    const answer = await this.#request("GET", path, call, what);
    // Refused credentials say nothing about health: an error, as over gRPC.
    if (answer.status === 401 || answer.status === 403) throw httpError(answer.status, answer.body.toString("utf8"));
    if (answer.status !== 200) return false;
    // Decided by the status code (Triton sends no body); an explicit `false` in a JSON body still counts.
    const text = answer.body.toString("utf8").trim();
    if (text.startsWith("{")) {
      try {
        return (JSON.parse(text) as Record<string, unknown>)[field] !== false;
      } catch {
        return true;
      }
    }
    return true;
  }

  serverLive(call: CallOptions): Promise<boolean> {
    return this.#health(`${this.#prefix}/v2/health/live`, call, "isServerLive", "live");
  }

  serverReady(call: CallOptions): Promise<boolean> {
    return this.#health(`${this.#prefix}/v2/health/ready`, call, "isServerReady", "ready");
  }

  modelReady(ref: ModelRef, call: CallOptions): Promise<boolean> {
    return this.#health(`${modelPath(this.#prefix, ref)}/ready`, call, `isModelReady(${ref.model})`, "ready");
  }

  async serverMetadata(call: CallOptions): Promise<ServerMetadata> {
    const m = asObject(await this.#json("GET", `${this.#prefix}/v2`, call, "serverMetadata"), "serverMetadata");
    return {
      name: String(m.name ?? ""),
      version: String(m.version ?? ""),
      extensions: Array.isArray(m.extensions) ? m.extensions.map(String) : [],
    };
  }

  async modelMetadata(ref: ModelRef, call: CallOptions): Promise<ModelMetadata> {
    const what = `modelMetadata(${ref.model})`;
    const m = asObject(await this.#json("GET", modelPath(this.#prefix, ref), call, what), what);
    return {
      name: String(m.name ?? ""),
      versions: Array.isArray(m.versions) ? m.versions.map(String) : [],
      platform: String(m.platform ?? ""),
      inputs: tensorMetadata(m.inputs),
      outputs: tensorMetadata(m.outputs),
    };
  }

  async modelConfig(ref: ModelRef, call: CallOptions): Promise<Record<string, unknown>> {
    const what = `modelConfig(${ref.model})`;
    const c = asObject(await this.#extension("GET", `${modelPath(this.#prefix, ref)}/config`, call, what, true), what);
    // Triton answers the ModelConfig itself; some servers wrap it as {"config": {...}} like the gRPC answer.
    return c.config !== null && typeof c.config === "object" && !("name" in c) ? (c.config as Record<string, unknown>) : c;
  }

  async modelStatistics(req: StatisticsRequest, call: CallOptions): Promise<ModelStatistics[]> {
    const what = `modelStatistics(${req.model ?? ""})`;
    const s = asObject(await this.#extension("GET", statisticsPath(this.#prefix, req), call, what, req.model !== undefined), what);
    return toModelStatistics(s.model_stats);
  }

  async loadModel(req: LoadRequest, call: CallOptions): Promise<void> {
    const parameters: Record<string, string> = {};
    if (req.config !== undefined) parameters.config = req.config;
    // Triton's HTTP form of a model file: "file:<path>" with the content in base64.
    for (const f of req.files ?? []) parameters[`file:${f.path}`] = Buffer.from(f.content.buffer, f.content.byteOffset, f.content.byteLength).toString("base64");
    const body = Object.keys(parameters).length === 0 ? "{}" : JSON.stringify({ parameters });
    await this.#extension("POST", repositoryPath(this.#prefix, req.model, "load"), call, `loadModel(${req.model})`, true, body);
  }

  async systemSharedMemoryRegister(req: SharedMemoryRegisterRequest, call: CallOptions): Promise<void> {
    const body = JSON.stringify({ key: req.key, offset: req.offset, byte_size: req.byteSize });
    await this.#json("POST", systemSharedMemoryPath(this.#prefix, req.name, "register"), call, `registerSystemSharedMemory(${req.name})`, body);
  }

  async systemSharedMemoryUnregister(name: string | undefined, call: CallOptions): Promise<void> {
    await this.#json("POST", systemSharedMemoryPath(this.#prefix, name, "unregister"), call, `unregisterSystemSharedMemory(${name ?? ""})`, "{}");
  }

  async systemSharedMemoryStatus(name: string | undefined, call: CallOptions): Promise<SystemSharedMemoryStatus[]> {
    return statusFromJson(await this.#json("GET", systemSharedMemoryPath(this.#prefix, name, "status"), call, `systemSharedMemoryStatus(${name ?? ""})`));
  }

  async unloadModel(ref: UnloadRequest, call: CallOptions): Promise<void> {
    const body = ref.unloadDependents === undefined ? "{}" : JSON.stringify({ parameters: { unload_dependents: ref.unloadDependents } });
    await this.#extension("POST", repositoryPath(this.#prefix, ref.model, "unload"), call, `unloadModel(${ref.model})`, true, body);
  }

  async repositoryIndex(ready: boolean, call: CallOptions): Promise<RepositoryIndexEntry[]> {
    const list = await this.#extension("POST", repositoryIndexPath(this.#prefix), call, "repositoryIndex", false, JSON.stringify(ready ? { ready: true } : {}));
    if (!Array.isArray(list)) throw new InferenceError("internal", "repositoryIndex: expected a JSON list from the server");
    return list.map((m: Record<string, unknown>) => ({
      name: String(m?.name ?? ""),
      version: m?.version === undefined || m?.version === null ? "" : String(m.version),
      state: String(m?.state ?? ""),
      reason: String(m?.reason ?? ""),
    }));
  }

  async traceSettings(model: string | undefined, update: TraceUpdateWire | undefined, call: CallOptions): Promise<TraceSettings> {
    const what = update === undefined ? "traceSettings" : "updateTraceSettings";
    const path = traceSettingsPath(this.#prefix, model);
    const raw = await this.#extension(update === undefined ? "GET" : "POST", path, call, what, model !== undefined, update === undefined ? undefined : JSON.stringify(update));
    return traceSettingsFromWire(asObject(raw, what));
  }

  async logSettings(update: Record<string, boolean | number | string> | undefined, call: CallOptions): Promise<LogSettings> {
    const what = update === undefined ? "logSettings" : "updateLogSettings";
    const raw = await this.#extension(update === undefined ? "GET" : "POST", loggingPath(this.#prefix), call, what, false, update === undefined ? undefined : JSON.stringify(update));
    return logSettingsFromWire(asObject(raw, what));
  }

  infer(req: InferRequest, call: CallOptions): Promise<InferResponse> {
    return this.inferWith(req, call, AS_IS);
  }

  inferWith<T>(req: InferRequest, call: CallOptions, end: InferEnd<T>): Promise<T> {
    const fast = this.#fast;
    if (fast === undefined || this.#authHook !== undefined || this.#compression !== undefined)
      return endWith(this.#inferOverRequest(req, call), end);
    try {
      return this.#fastInfer(fast, req, call, end);
    } catch (e) {
      return Promise.reject(end.failed(e));
    }
  }

  /** inferWith by a callback (transport.ts): on the fast path no promise at all (FastPool.requestCallback). */
  inferCallback<T, C>(req: InferRequest, call: CallOptions, end: InferEnd<T>, callback: InferCallback<T, C>, context: C): void {
    const fast = this.#fast;
    if (fast === undefined || this.#authHook !== undefined || this.#compression !== undefined)
      return callBackFrom(this.inferWith(req, call, end), callback, context);
    try {
      this.#fastInfer(fast, req, call, end, callback, context);
    } catch (e) {
      callBackLater(callback, end.failed(e), context);
    }
  }

  async #inferOverRequest(req: InferRequest, call: CallOptions): Promise<InferResponse> {
    const encoded = encodeInferRequest(req);
    // undici's chunk-list path is slow: small bodies go as one buffer. (The fast path writes small
    // requests as one buffer itself, so a request waiting for a connection there holds no copy.)
    const body =
      encoded.chunks.length === 1
        ? (encoded.chunks[0] as Buffer)
        : this.#fast === undefined && encoded.byteLength <= CONCAT_LIMIT
          ? Buffer.concat(encoded.chunks, encoded.byteLength)
          : encoded.chunks;
    const answer = await this.#request("POST", `${modelPath(this.#prefix, req)}/infer`, call, `infer(${req.model})`, body, inferHeaders(encoded));
    return inferResult(answer, this.#headerCache, req.outputs);
  }

  /**
   * infer on the fast path without an auth hook or request compression: nothing to await before sending,
   * so the caller gets the pool's promise itself, settled with the layers' result (FastInferEnd). The
   * request is held as its JSON header text and the tensors' typed arrays; without per-call headers its
   * head is built at write time from a prefix kept per model (#inferTarget), not from a headers object.
   */
  #fastInfer<T>(fast: FastPool, req: InferRequest, call: CallOptions, end: InferEnd<T>): Promise<T>;
  #fastInfer<T, C>(fast: FastPool, req: InferRequest, call: CallOptions, end: InferEnd<T>, callback: InferCallback<T, C>, context: C): undefined;
  #fastInfer<T, C>(fast: FastPool, req: InferRequest, call: CallOptions, end: InferEnd<T>, callback?: InferCallback<T, C>, context?: C): Promise<T> | undefined {
    const target = this.#inferTarget(req);
    const parts = target.json.encode(req);
    const json = parts.json;
    const jsonBytes = parts.jsonBytes;
    const data = parts.data;
    const body = data.length === 0 ? null : data.length === 1 ? data[0]! : data;
    const plain = call.signal === undefined && call.timeoutMs === undefined;
    let scope: CallScope;
    let finish: FastInferEnd<T>;
    if (plain && req.outputs === undefined) {
      scope = NO_CALL_SCOPE;
      finish = this.#plainEnd(end);
    } else if (req.outputs === undefined) {
      finish = this.#sharedSignalEnd(call.signal, call.timeoutMs, target, end);
      scope = finish.scope;
    } else {
      scope = plain ? NO_CALL_SCOPE : openQueuedScope(call.signal, call.timeoutMs, target.what);
      finish = new FastInferEnd(scope, this.#target, this.#headerCache, req.outputs, end);
    }
    let headers: Record<string, string> | null = null;
    let head: string | undefined;
    if (call.headers !== undefined || this.#acceptCompression) {
      const own: Record<string, string> = parts.binary
        ? { "content-type": "application/octet-stream", [HEADER_LENGTH]: String(jsonBytes) }
        : { "content-type": "application/json" };
      headers = call.headers ? { ...call.headers, ...own } : own;
      if (this.#acceptCompression) headers = { "accept-encoding": "gzip, deflate", ...headers };
    } else if (parts.prefix === undefined) head = parts.binary ? target.binaryHead : target.jsonHead;
    // A reused header's prefix (head and JSON header as kept bytes, infer-json-reuse.ts) goes instead of head
    // and json; with `head` and binary data (body not null), the head's last line (Inference-Header-Content-Length)
    // ends with jsonBytes.
    const prefix = headers === null ? parts.prefix : undefined;
    const timeoutMs = queuedTimeout(scope);
    const request = { method: "POST", path: target.path, headers, body, signal: scope.signal ?? null, head, json, jsonBytes, prefix, timeoutMs } as const;
    if (callback !== undefined) {
      fast.requestCallback(request, finish, callback, context as C);
      return undefined;
    }
    return fast.request(request, finish);
  }

  /** The FastInferEnd shared by calls without signal, timeout or requested outputs that end with `end`. */
  #plainEnd<T>(end: InferEnd<T>): FastInferEnd<T> {
    let finish = this.#plainEnds.get(end) as FastInferEnd<T> | undefined;
    if (finish === undefined) {
      finish = new FastInferEnd(NO_CALL_SCOPE, this.#target, this.#headerCache, undefined, end);
      // Layers pass one InferEnd per client or endpoint; a caller making one per call gets no sharing.
      if (this.#plainEnds.size >= 16) this.#plainEnds.clear();
      this.#plainEnds.set(end, finish as FastInferEnd<unknown>);
    }
    return finish;
  }

  /**
   * The FastInferEnd of a call whose only per-call options are a signal and/or a timeout, shared with the
   * previous such call when that one had the same signal, timeout, model and end (a load generator passes
   * one stop signal, and one timeoutMs, to every call): its scope (openQueuedScope) holds nothing but the
   * signal, the timeout and the call's description. Throws, as openCallScope, when the signal has fired or
   * the timeout is negative.
   */
  #sharedSignalEnd<T>(signal: AbortSignal | undefined, timeoutMs: number | undefined, target: InferTarget, end: InferEnd<T>): FastInferEnd<T> {
    const kept = this.#signalEnd;
    if (kept !== undefined && kept.signal === signal && kept.timeoutMs === timeoutMs && kept.target === target && kept.end === end) {
      if (signal?.aborted) throw cancelledError(target.what, signal.reason);
      return kept.finish as FastInferEnd<T>;
    }
    const finish = new FastInferEnd(openQueuedScope(signal, timeoutMs, target.what), this.#target, this.#headerCache, undefined, end);
    // Callers with a signal per call replace it every call: the record is reused, not made again.
    if (kept === undefined) this.#signalEnd = { signal, timeoutMs, target, end, finish };
    else {
      kept.signal = signal;
      kept.timeoutMs = timeoutMs;
      kept.target = target;
      kept.end = end;
      kept.finish = finish;
    }
    return finish;
  }

  /**
   * The infer path of a model (version) and its request heads: the request line, Host and Content-Type,
   * the binary one ending where the JSON header's length goes. Kept by model name, a string the caller
   * passes again and again, so that no path is built or hashed per request.
   */
  #inferTarget(ref: ModelRef): InferTarget {
    const key = ref.version ? `${ref.model}\0${ref.version}` : ref.model;
    let target = this.#inferTargets.get(key);
    if (target === undefined) {
      const path = `${modelPath(this.#prefix, ref)}/infer`;
      checkRequest(path, null);
      const line = `POST ${path} HTTP/1.1\r\nhost: ${this.#host}\r\n`;
      const binaryHead = `${line}content-type: application/octet-stream\r\n${HEADER_LENGTH}: `;
      target = { path, binaryHead, jsonHead: `${line}content-type: application/json\r\n`, json: new InferJsonReuse(binaryHead), what: `infer(${ref.model})` };
      if (this.#inferTargets.size >= 256) this.#inferTargets.clear();
      this.#inferTargets.set(key, target);
    }
    return target;
  }

  async close(): Promise<void> {
    if (this.#fast !== undefined) await this.#fast.close();
    else await this.#pool!.close();
  }
}

export function createHttpTransport(options: HttpTransportOptions): Transport {
  return new HttpTransport(options);
}
