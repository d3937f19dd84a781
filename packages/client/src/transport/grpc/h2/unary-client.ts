// The node:http2 gRPC client of one endpoint, for unary calls (with `wire`, the same over the client's own
// HTTP/2 connection, ../wire-h2/): validates metadata as grpc-js does, runs the
// auth hook, waits (bounded) for the handshake under connectTimeoutMs, sets grpc-timeout from the deadline
// and turns failures into the InferenceErrors the grpc-js path gives for the same conditions.
import type { CallOptions } from "../../../api.ts";
import type { AuthHook, ClientTlsOptions, Compression, GrpcConnectionOptions } from "../../../connection-options.ts";
import { InferenceError } from "../../../errors.ts";
import { hookHeaders } from "../../auth.ts";
import { cancelledError, deadlineError } from "../../call-scope.ts";
import { describeGrpcFailure, type ConnectionTarget } from "../../connection-errors.ts";
import { connectTimeoutError } from "../connect.ts";
import { MAX_MESSAGE_LENGTH } from "../service.ts";
import { H2Connection } from "./connection.ts";
import { WireConnection } from "../wire-h2/connection.ts";
import { wireCallbackCall, wireUnaryCall } from "../wire-h2/wire-call.ts";
import { callBackFrom, callBackLater, type InferCallback } from "../../infer-callback.ts";
import type { AlignProbe } from "./message-reader.ts";
import { Status, grpcTimeout, type GrpcStatusError } from "./status.ts";
import { requestHeaders, unaryCall, type CallEnds } from "./unary-call.ts";

const SERVICE_PATH = "/inference.GRPCInferenceService/";
const LEGAL_KEY = /^[0-9a-z_.-]+$/;
const LEGAL_VALUE = /^[ -~]*$/;
/** Headers the call itself sets; metadata of these names would corrupt the request. */
const RESERVED = new Set(["content-type", "te", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding", "user-agent", "host", "connection"]);

export interface H2UnaryClientOptions {
  /** host:port */
  address: string;
  secure: boolean;
  tls?: ClientTlsOptions | undefined;
  target: ConnectionTarget;
  compression?: Compression | undefined;
  grpc?: GrpcConnectionOptions | undefined;
  authHook?: AuthHook | undefined;
  connectTimeoutMs?: number | undefined;
  /** Carry calls on the client's own HTTP/2 connection (wire-h2/) instead of node:http2. */
  wire?: boolean | undefined;
}

/** Metadata as grpc-js's Metadata.set checks it (lower-cased keys, printable ASCII values); later keys win. */
function addMetadata(into: Record<string, string>, from: Record<string, string>): void {
  for (const k of Object.keys(from)) {
    const key = k.toLowerCase();
    if (!LEGAL_KEY.test(key)) throw new Error(`Metadata key "${key}" contains illegal characters`);
    const value = from[k]!;
    if (key.endsWith("-bin")) throw new Error("keys that end with '-bin' must have Buffer values");
    if (!LEGAL_VALUE.test(value)) throw new Error(`Metadata string value "${value}" contains illegal characters`);
    if (RESERVED.has(key)) continue;
    into[key] = value;
  }
}

/** host:port as node:http2 would send it in :authority (tls.servername first), IPv6 literals in brackets. */
function authorityOf(address: string, secure: boolean, servername: string | undefined): string {
  try {
    const u = new URL(`${secure ? "https" : "http"}://${address}`);
    const port = u.port !== "" ? u.port : secure ? "443" : "80";
    return `${servername || u.hostname}:${port}`;
  } catch {
    return address;
  }
}

/**
 * What a call keeps until it settles, in one object: the CallEnds (limits, decodeWith, callFailure) whose
 * `context` is the object itself, and what the failure handler and decoder need (instead of a closure).
 * Shared by calls that repeat all of it (H2UnaryClient.#ends).
 */
interface FailureContext extends CallEnds<unknown> {
  /** The object itself (set once made). */
  context: unknown;
  what: string;
  signal: AbortSignal | undefined;
  /** The caller's timeoutMs, for the deadline error's message. */
  timeoutMs: number | undefined;
  target: ConnectionTarget;
  /** The caller's own context for `decode` and `failed`. */
  inner: unknown;
  /** The caller's decode (the CallEnds' `decode` is decodeWith, which calls it). */
  answerDecode: ((bytes: Buffer, context: unknown) => unknown) | undefined;
  failed: ((error: unknown, context: unknown) => unknown) | undefined;
}

/** The InferenceError of a failed call, as the grpc-js path words it. */
function callFailure(error: GrpcStatusError, context: unknown): unknown {
  const c = context as FailureContext;
  let e: InferenceError;
  if (c.signal?.aborted && error.code === Status.CANCELLED) e = cancelledError(c.what, c.signal.reason);
  else if (error.code === Status.DEADLINE_EXCEEDED && c.timeoutMs !== undefined) e = deadlineError(c.what, c.timeoutMs);
  else e = describeGrpcFailure(InferenceError.from(error), c.target);
  return c.failed ? c.failed(e, c.inner) : e;
}

/** A call that fails before it starts: rejected with `error`, or with what the decoder's `failed` makes of it. */
function failedCall<T>(decoder: AnswerDecoder<T> | undefined, error: unknown): Promise<T> {
  return Promise.reject(decoder?.failed ? decoder.failed(error, decoder.context) : error);
}

/** A call that fails before it starts, by promise (no callback) or called back later. */
function refused<T, C>(decoder: AnswerDecoder<T> | undefined, callback: InferCallback<T, C> | undefined, context: C | undefined, error: unknown): Promise<T> | undefined {
  if (callback === undefined) return failedCall(decoder, error);
  callBackLater(callback, decoder?.failed ? decoder.failed(error, decoder.context) : error, context as C);
  return undefined;
}

function decodeWith(bytes: Buffer, context: unknown): unknown {
  const c = context as FailureContext;
  return c.answerDecode ? c.answerDecode(bytes, c.inner) : bytes;
}

/** How a call's answer becomes its result: `decode(bytes, context)`; what it throws rejects the call as it is. */
export interface AnswerDecoder<T> {
  decode: (bytes: Buffer, context: unknown) => T;
  context?: unknown;
  /**
   * Every other failure of the call (the InferenceError it would reject with), exactly once: the call
   * rejects with what this returns. Default: the error itself.
   */
  failed?: ((error: unknown, context: unknown) => unknown) | undefined;
}

export class H2UnaryClient {
  readonly #options: H2UnaryClientOptions;
  readonly #connection: H2Connection | WireConnection;
  readonly #encoding: "gzip" | "deflate" | undefined;
  readonly #scheme: string;
  readonly #authority: string;
  /** The raw header list of calls without metadata or deadline, per method (shared by those calls). */
  readonly #plainHeaders = new Map<string, readonly string[]>();
  /**
   * The same with grpc-timeout, per method and timeoutMs, for calls whose only per-call header is their
   * deadline sent whole (no auth hook or connect wait spent part of it): one list and header block for all
   * calls with the client's default timeoutMs instead of a list built and encoded per call.
   */
  readonly #timedHeaders = new Map<string, Map<number, readonly string[]>>();
  /** The ends of the last call (see #ends), and the decoder they were made for. */
  #lastEnds: FailureContext | undefined;
  #lastDecoder: AnswerDecoder<unknown> | undefined;

  constructor(options: H2UnaryClientOptions) {
    this.#options = options;
    const g = options.grpc ?? {};
    const connectionOptions = {
      address: options.address,
      secure: options.secure,
      tls: options.tls,
      keepaliveTimeMs: g.keepaliveTimeMs,
      keepaliveTimeoutMs: g.keepaliveTimeoutMs,
      keepalivePermitWithoutCalls: g.keepalivePermitWithoutCalls,
    };
    this.#connection = options.wire ? new WireConnection(connectionOptions) : new H2Connection(connectionOptions);
    const c = options.compression;
    this.#encoding = c === "gzip" || c === "deflate" ? c : undefined;
    this.#scheme = options.secure ? "https" : "http";
    this.#authority = authorityOf(options.address, options.secure, options.tls?.servername);
  }

  /**
   * One call of `method`; `message` is its serialized request in chunks. Resolves with the answer's bytes,
   * or with `decoder.decode(bytes, decoder.context)` (no promise of its own per call).
   */
  call<T = Buffer>(method: string, message: readonly Uint8Array[], call: CallOptions, what: string, align?: AlignProbe, decoder?: AnswerDecoder<T>): Promise<T> {
    const o = this.#options;
    if (o.authHook === undefined && o.connectTimeoutMs === undefined) return this.#send(method, message, call, what, undefined, undefined, align, decoder);
    return this.#prepareAndSend(method, message, call, what, align, decoder);
  }

  /**
   * `call` without a promise: `callback(error, value, context)` once, never before this returns. On the
   * own connection with no auth hook and no connect timeout, a call in flight is its WireCall alone; else
   * called back from `call`'s promise.
   */
  callBack<T, C>(
    method: string,
    message: readonly Uint8Array[],
    call: CallOptions,
    what: string,
    align: AlignProbe | undefined,
    decoder: AnswerDecoder<T>,
    callback: InferCallback<T, C>,
    context: C,
  ): void {
    const o = this.#options;
    if (o.authHook !== undefined || o.connectTimeoutMs !== undefined || !(this.#connection instanceof WireConnection))
      return callBackFrom(this.call(method, message, call, what, align, decoder), callback, context);
    this.#send(method, message, call, what, undefined, undefined, align, decoder, callback, context);
  }

  async #prepareAndSend<T>(method: string, message: readonly Uint8Array[], call: CallOptions, what: string, align?: AlignProbe, decoder?: AnswerDecoder<T>): Promise<T> {
    const startedAt = Date.now();
    const signal = call.signal;
    const o = this.#options;
    let extra: Record<string, string> | undefined;
    try {
      if (signal?.aborted) throw cancelledError(what, signal.reason);
      extra = o.authHook
        ? await hookHeaders(o.authHook, { protocol: "grpc", method, url: `${o.target.address}${SERVICE_PATH}${method}` })
        : undefined;
      const connectMs = o.connectTimeoutMs;
      if (connectMs !== undefined && !this.#connection.closed) {
        const t = call.timeoutMs;
        const left = t !== undefined && t >= 0 && Number.isFinite(t) ? t - (Date.now() - startedAt) : Infinity;
        const callFirst = left < connectMs;
        await this.#connection.awaitEstablished(
          callFirst ? Math.max(0, left) : connectMs,
          () => (callFirst ? deadlineError(what, t!) : connectTimeoutError(o.address, connectMs)),
          signal,
          () => cancelledError(what, signal?.reason),
        );
      }
    } catch (e) {
      throw decoder?.failed ? decoder.failed(e, decoder.context) : e;
    }
    return this.#send(method, message, call, what, extra, startedAt, align, decoder);
  }

  /**
   * What a call keeps until it settles: its failure context, decode, fail and limits in one object. Calls
   * that repeat the last call's `what`, decoder, signal, deadline and align probe share it (a call in flight
   * then keeps no object and no `what` string of its own).
   */
  #ends<T>(what: string, signal: AbortSignal | undefined, timeoutMs: number | undefined, decoder: AnswerDecoder<T> | undefined, align: AlignProbe | undefined): CallEnds<T> {
    const last = this.#lastEnds;
    if (last !== undefined && last.what === what && last.signal === signal && last.timeoutMs === timeoutMs && this.#lastDecoder === decoder && last.align === align)
      return last as CallEnds<unknown> as CallEnds<T>;
    const ends: FailureContext = {
      maxMessageLength: MAX_MESSAGE_LENGTH,
      align,
      decode: decodeWith,
      fail: callFailure,
      context: undefined,
      what,
      signal,
      timeoutMs,
      target: this.#options.target,
      inner: decoder?.context,
      answerDecode: decoder?.decode,
      failed: decoder?.failed,
    };
    ends.context = ends;
    this.#lastEnds = ends;
    this.#lastDecoder = decoder as AnswerDecoder<unknown> | undefined;
    return ends as CallEnds<unknown> as CallEnds<T>;
  }

  /** The shared raw header list of `method`'s calls without metadata or deadline. */
  #plain(method: string): readonly string[] {
    let list = this.#plainHeaders.get(method);
    if (list === undefined) {
      list = requestHeaders(this.#scheme, this.#authority, SERVICE_PATH + method);
      this.#plainHeaders.set(method, list);
    }
    return list;
  }

  /** The shared raw header list of `method`'s calls with only a grpc-timeout of `timeoutMs` (see #timedHeaders). */
  #timed(method: string, timeoutMs: number): readonly string[] {
    let byTimeout = this.#timedHeaders.get(method);
    if (byTimeout === undefined) this.#timedHeaders.set(method, (byTimeout = new Map()));
    let list = byTimeout.get(timeoutMs);
    if (list === undefined) {
      // Callers with a timeout of their own per call get no sharing, and no unbounded map.
      if (byTimeout.size >= 16) byTimeout.clear();
      list = requestHeaders(this.#scheme, this.#authority, SERVICE_PATH + method, ["grpc-timeout", grpcTimeout(timeoutMs)]);
      byTimeout.set(timeoutMs, list);
    }
    return list;
  }

  /** With `callback`: the call ends by it (own connection only) and nothing is returned. */
  #send<T>(
    method: string,
    message: readonly Uint8Array[],
    call: CallOptions,
    what: string,
    extra: Record<string, string> | undefined,
    startedAt: number | undefined,
    align: AlignProbe | undefined,
    decoder: AnswerDecoder<T> | undefined,
  ): Promise<T>;
  #send<T, C>(
    method: string,
    message: readonly Uint8Array[],
    call: CallOptions,
    what: string,
    extra: Record<string, string> | undefined,
    startedAt: number | undefined,
    align: AlignProbe | undefined,
    decoder: AnswerDecoder<T> | undefined,
    callback: InferCallback<T, C>,
    context: C,
  ): undefined;
  #send<T, C>(
    method: string,
    message: readonly Uint8Array[],
    call: CallOptions,
    what: string,
    extra: Record<string, string> | undefined,
    startedAt: number | undefined,
    align: AlignProbe | undefined,
    decoder: AnswerDecoder<T> | undefined,
    callback?: InferCallback<T, C>,
    context?: C,
  ): Promise<T> | undefined {
    const signal = call.signal;
    if (signal?.aborted) return refused(decoder, callback, context, cancelledError(what, signal.reason));
    const timeoutMs = call.timeoutMs;
    if (timeoutMs !== undefined && !(timeoutMs >= 0)) return refused(decoder, callback, context, new InferenceError("invalid_argument", `${what}: timeoutMs must be >= 0, got ${timeoutMs}`));
    // grpc-js throws this synchronously once its channel is closed; the same words here.
    if (this.#connection.closed) return refused(decoder, callback, context, new InferenceError("invalid_argument", `${what}: Channel has been shut down`));
    let left: number | undefined;
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) left = Math.max(0, (startedAt ?? Date.now()) + timeoutMs - Date.now());
    let headers: readonly string[];
    let shared = extra === undefined && call.headers === undefined && left === undefined;
    if (shared) headers = this.#plain(method);
    else if (extra === undefined && call.headers === undefined && startedAt === undefined) {
      headers = this.#timed(method, left!);
      shared = true;
    } else {
      const metadata: Record<string, string> = {};
      try {
        if (extra) addMetadata(metadata, extra);
        if (call.headers) addMetadata(metadata, call.headers);
      } catch (e) {
        return refused(decoder, callback, context, new InferenceError("invalid_argument", `${what}: ${(e as Error).message}`, { cause: e }));
      }
      const pairs: string[] = [];
      for (const k of Object.keys(metadata)) pairs.push(k, metadata[k]!);
      if (left !== undefined) pairs.push("grpc-timeout", grpcTimeout(left));
      headers = requestHeaders(this.#scheme, this.#authority, SERVICE_PATH + method, pairs);
    }
    const ends = this.#ends(what, signal, timeoutMs, decoder, align);
    // Not an async function: its frame would hold `message` (the request's bytes) until the answer.
    const spec = {
      headers,
      message,
      encoding: this.#encoding,
      timeoutMs: left,
      signal,
      maxMessageLength: MAX_MESSAGE_LENGTH,
      align,
      decode: ends.decode,
      fail: callFailure,
      context: ends.context,
      ends,
    };
    const connection = this.#connection;
    if (callback !== undefined) {
      wireCallbackCall<T, C>(connection as WireConnection, spec, shared, callback, context as C);
      return undefined;
    }
    return connection instanceof WireConnection ? wireUnaryCall<T>(connection, spec, shared) : unaryCall<T>(connection, spec);
  }

  close(): void {
    this.#connection.close();
  }
}
