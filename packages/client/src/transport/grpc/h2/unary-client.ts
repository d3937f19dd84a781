// The node:http2 gRPC client of one endpoint, for unary calls: validates metadata as grpc-js does, runs the
// auth hook, waits (bounded) for the handshake under connectTimeoutMs, sets grpc-timeout from the deadline
// and turns failures into the InferenceErrors the grpc-js path gives for the same conditions.
import type { OutgoingHttpHeaders } from "node:http2";
import type { CallOptions } from "../../../api.ts";
import type { AuthHook, ClientTlsOptions, Compression, GrpcConnectionOptions } from "../../../connection-options.ts";
import { InferenceError } from "../../../errors.ts";
import { hookHeaders } from "../../auth.ts";
import { cancelledError, deadlineError } from "../../call-scope.ts";
import { describeGrpcFailure, type ConnectionTarget } from "../../connection-errors.ts";
import { connectTimeoutError } from "../connect.ts";
import { MAX_MESSAGE_LENGTH } from "../service.ts";
import { H2Connection } from "./connection.ts";
import type { AlignProbe } from "./message-reader.ts";
import { Status, grpcTimeout, type GrpcStatusError } from "./status.ts";
import { unaryCall } from "./unary-call.ts";

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
}

/** Metadata as grpc-js's Metadata.set checks it (lower-cased keys, printable ASCII values). */
function addMetadata(into: OutgoingHttpHeaders, from: Record<string, string>): void {
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

export class H2UnaryClient {
  readonly #options: H2UnaryClientOptions;
  readonly #connection: H2Connection;
  readonly #encoding: "gzip" | "deflate" | undefined;

  constructor(options: H2UnaryClientOptions) {
    this.#options = options;
    const g = options.grpc ?? {};
    this.#connection = new H2Connection({
      address: options.address,
      secure: options.secure,
      tls: options.tls,
      keepaliveTimeMs: g.keepaliveTimeMs,
      keepaliveTimeoutMs: g.keepaliveTimeoutMs,
      keepalivePermitWithoutCalls: g.keepalivePermitWithoutCalls,
    });
    const c = options.compression;
    this.#encoding = c === "gzip" || c === "deflate" ? c : undefined;
  }

  /** One call of `method`; `message` is its serialized request in chunks. Resolves with the answer's bytes. */
  call(method: string, message: readonly Uint8Array[], call: CallOptions, what: string, align?: AlignProbe): Promise<Buffer> {
    const o = this.#options;
    if (o.authHook === undefined && o.connectTimeoutMs === undefined) return this.#send(method, message, call, what, undefined, undefined, align);
    return this.#prepareAndSend(method, message, call, what, align);
  }

  async #prepareAndSend(method: string, message: readonly Uint8Array[], call: CallOptions, what: string, align?: AlignProbe): Promise<Buffer> {
    const startedAt = Date.now();
    const signal = call.signal;
    if (signal?.aborted) throw cancelledError(what, signal.reason);
    const o = this.#options;
    const extra = o.authHook
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
    return this.#send(method, message, call, what, extra, startedAt, align);
  }

  #send(
    method: string,
    message: readonly Uint8Array[],
    call: CallOptions,
    what: string,
    extra: Record<string, string> | undefined,
    startedAt: number | undefined,
    align: AlignProbe | undefined,
  ): Promise<Buffer> {
    const signal = call.signal;
    if (signal?.aborted) return Promise.reject(cancelledError(what, signal.reason));
    const timeoutMs = call.timeoutMs;
    if (timeoutMs !== undefined && !(timeoutMs >= 0))
      return Promise.reject(new InferenceError("invalid_argument", `${what}: timeoutMs must be >= 0, got ${timeoutMs}`));
    // grpc-js throws this synchronously once its channel is closed; the same words here.
    if (this.#connection.closed) return Promise.reject(new InferenceError("invalid_argument", `${what}: Channel has been shut down`));
    const headers: OutgoingHttpHeaders = {};
    try {
      if (extra) addMetadata(headers, extra);
      if (call.headers) addMetadata(headers, call.headers);
    } catch (e) {
      return Promise.reject(new InferenceError("invalid_argument", `${what}: ${(e as Error).message}`, { cause: e }));
    }
    let left: number | undefined;
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      left = Math.max(0, (startedAt ?? Date.now()) + timeoutMs - Date.now());
      headers["grpc-timeout"] = grpcTimeout(left);
    }
    const target = this.#options.target;
    // Not an async function: its frame would hold `message` (the request's bytes) until the answer.
    return unaryCall(this.#connection, {
      path: SERVICE_PATH + method,
      headers,
      message,
      encoding: this.#encoding,
      timeoutMs: left,
      signal,
      maxMessageLength: MAX_MESSAGE_LENGTH,
      align,
    }).catch((e: unknown) => {
      const error = e as GrpcStatusError;
      if (signal?.aborted && error.code === Status.CANCELLED) throw cancelledError(what, signal.reason);
      if (error.code === Status.DEADLINE_EXCEEDED && timeoutMs !== undefined) throw deadlineError(what, timeoutMs);
      throw describeGrpcFailure(InferenceError.from(error), target);
    });
  }

  close(): void {
    this.#connection.close();
  }
}
