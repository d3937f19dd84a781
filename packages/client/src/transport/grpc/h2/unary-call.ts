// One unary gRPC call on node:http2: POST /<service>/<method> with the gRPC headers, the 5-byte length
// prefix and the message (joined when small, separate chunks when large: no copy of big tensors), the
// answer read by MessageReader, the status taken from trailers (or a trailers-only response). Failures
// reject with grpc-js-shaped errors (status.ts), or with what the spec's `fail` makes of them: the local
// deadline as DEADLINE_EXCEEDED, cancellation as CANCELLED, a connection that never completed its HTTP/2
// handshake as "No connection established" (nothing was sent), one that broke later as UNAVAILABLE without
// response headers (the server may have run the call).
//
// Memory and CPU per call in flight: one UnaryCall object (the reader, the promise's settlers and the
// call's state in one), found by the stream's listeners through a symbol property of the stream. The
// listeners, the abort handler (an EventListener object: the call itself) and the deadline callback are
// shared functions, so a call allocates no closures; the request headers are a raw header array that
// calls without metadata or deadline share (node:http2 keeps a reference to it, not a copy).
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders } from "node:http2";
import { promisify } from "node:util";
import zlib from "node:zlib";
import type { H2Connection, H2Session } from "./connection.ts";
import type { AlignProbe } from "./message-reader.ts";
import { watchAbort } from "../../abort-watch.ts";
import { SettlingCall } from "./settling-call.ts";
import { NOT_CONNECTED, Status, headerMap, statusError, statusForHttp, statusForRstCode, statusFromHeaders, type GrpcStatusError } from "./status.ts";

export type MessageEncoding = "gzip" | "deflate";

export interface UnaryCallSpec<T = Buffer> {
  /** Raw request headers ([name, value, ...]): pseudo-headers, gRPC headers and metadata (see requestHeaders). */
  headers: readonly string[];
  /** The serialized request, in order. */
  message: readonly Uint8Array[];
  /** Compress the request with this algorithm (the grpc-encoding header is added here). */
  encoding?: MessageEncoding | undefined;
  /** Local deadline in ms from now (the grpc-timeout header is the caller's). */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Largest message accepted either way. */
  maxMessageLength: number;
  align?: AlignProbe | undefined;
  /** Turns the answer's bytes into the result; what it throws rejects the call as it is. Default: the bytes. */
  decode?: ((bytes: Buffer, context: unknown) => T) | undefined;
  /** Turns a failure (a grpc-js-shaped status error) into the call's rejection. Default: the error itself. */
  fail?: ((error: GrpcStatusError, context: unknown) => unknown) | undefined;
  /** Handed to `decode` and `fail` (what they need of the call, without a closure per call). */
  context?: unknown;
  /**
   * The same maxMessageLength, align, decode, fail, context and signal in one object that calls of one kind share:
   * a call in flight then keeps a reference to it instead of an object (or fields) of its own.
   */
  ends?: CallEnds<T> | undefined;
}

/** What a call keeps of its spec until it settles (SettlingCall). */
export interface CallEnds<T> {
  readonly maxMessageLength: number;
  readonly align?: AlignProbe | undefined;
  readonly decode?: ((bytes: Buffer, context: unknown) => T) | undefined;
  readonly fail?: ((error: GrpcStatusError, context: unknown) => unknown) | undefined;
  readonly context?: unknown;
  /** The spec's signal (the same for every call sharing these ends). */
  readonly signal?: AbortSignal | undefined;
}

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);
const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

const USER_AGENT = `iaas-client-h2 node/${process.versions.node}`;

/** What grpc-js sends with every call (a server may compress answers in any of these). */
const ACCEPT_ENCODING = "identity,deflate,gzip";

/** Messages up to this size are written joined with their prefix, as one chunk (one stream write). */
const JOIN_LIMIT = 16 * 1024;

const REQUEST_OPTIONS = { endStream: false } as const;

/**
 * The raw header list of a call: pseudo-headers, the fixed gRPC headers and `extra` pairs (metadata,
 * grpc-timeout), names lower-case. Lists without extras can be built once and shared by every call.
 */
export function requestHeaders(scheme: string, authority: string, path: string, extra?: readonly string[]): string[] {
  const list = [
    ":method",
    "POST",
    ":scheme",
    scheme,
    ":authority",
    authority,
    ":path",
    path,
    "content-type",
    "application/grpc",
    "te",
    "trailers",
    "grpc-accept-encoding",
    ACCEPT_ENCODING,
    "user-agent",
    USER_AGENT,
  ];
  if (extra) for (let i = 0; i < extra.length; i++) list.push(extra[i]!);
  return list;
}

const CALL = Symbol("iaas.unaryCall");
/** The status of a call that succeeded (its headers are not kept: nothing reads them). */
const OK_STATUS = { code: Status.OK, details: "", metadata: {} as IncomingHttpHeaders };
type CallStream = ClientHttp2Stream & { [CALL]?: UnaryCall<unknown> };

class UnaryCall<T> extends SettlingCall<T> {
  readonly session: H2Session;
  stream: ClientHttp2Stream | undefined;
  responseHeaders: IncomingHttpHeaders | undefined;
  status: { code: number; details: string; metadata: IncomingHttpHeaders } | undefined;
  streamError: Error | undefined;

  constructor(spec: UnaryCallSpec<T>, session: H2Session, resolve: (value: T) => void) {
    super(spec, resolve);
    this.session = session;
  }


  abandon(code: number, details: string): void {
    this.settle(statusError(code, details));
    const stream = this.stream;
    if (stream && !stream.closed) stream.close(constants.NGHTTP2_CANCEL);
  }

  /** The caller's AbortSignal fired (EventListener interface: no closure per call). */
  handleEvent(): void {
    this.abandon(Status.CANCELLED, "Cancelled on client");
  }
}

function onResponse(this: CallStream, h: IncomingHttpHeaders, flags: number): void {
  const call = this[CALL]!;
  call.responseHeaders = h;
  // The usual answer: 200 with the status still to come in the trailers.
  if (h["grpc-status"] === undefined && Number(h[":status"]) === 200) return;
  const s = statusFromHeaders(h);
  if (s && flags & constants.NGHTTP2_FLAG_END_STREAM) call.status = { ...s, metadata: h };
  else if (Number(h[":status"]) !== 200 && s === undefined) {
    const http = Number(h[":status"]);
    call.status = { code: statusForHttp(http), details: `Received HTTP status code ${http}`, metadata: h };
  } else if (s) call.status = { ...s, metadata: h };
}

function onTrailers(this: CallStream, h: IncomingHttpHeaders): void {
  const call = this[CALL]!;
  if (call.status !== undefined && call.status.code !== Status.OK) return;
  // The usual trailers: OK. Nothing reads an OK status's message or metadata, so nothing is decoded or merged.
  if (h["grpc-status"] === "0") {
    call.status = OK_STATUS;
    return;
  }
  const s = statusFromHeaders(h);
  if (s) call.status = { ...s, metadata: { ...call.responseHeaders, ...h } };
}

function onData(this: CallStream, chunk: Buffer): void {
  const call = this[CALL]!;
  if (call.settled) return;
  call.push(chunk);
  if (call.problem !== undefined) {
    const code = call.problem.startsWith("Received message larger") ? Status.RESOURCE_EXHAUSTED : Status.INTERNAL;
    call.abandon(code, call.problem);
  }
}

function onError(this: CallStream, e: Error): void {
  this[CALL]!.streamError ??= e;
}

function onClose(this: CallStream): void {
  const call = this[CALL]!;
  call.session.streamClosed();
  if (call.settled) return;
  const status = call.status;
  if (status === undefined) return call.settle(missingStatus(this, call.session, call.streamError));
  if (status.code !== Status.OK) return call.settle(statusError(status.code, status.details, headerMap(status.metadata)));
  const body = call.message();
  if (body === undefined)
    return call.settle(statusError(call.partial ? Status.INTERNAL : Status.UNIMPLEMENTED, call.partial ? "Truncated message" : "No message received"));
  if (!call.compressed) return call.settle(undefined, body);
  const enc = String(call.responseHeaders?.["grpc-encoding"] ?? "");
  const unpack = enc === "gzip" ? gunzip : enc === "deflate" ? inflate : undefined;
  if (!unpack) return call.settle(statusError(Status.INTERNAL, `Compressed message received with unsupported grpc-encoding "${enc}"`));
  unpack(body).then(
    (b) => call.settle(undefined, b),
    (e: Error) => call.settle(statusError(Status.INTERNAL, `Failed to decompress the response: ${e.message}`)),
  );
}

export function unaryCall<T = Buffer>(connection: H2Connection, spec: UnaryCallSpec<T>): Promise<T> {
  if (spec.encoding === undefined) return send(connection, spec, spec.headers, spec.message, false);
  return sendCompressed(connection, spec, spec.encoding);
}

async function sendCompressed<T>(connection: H2Connection, spec: UnaryCallSpec<T>, encoding: MessageEncoding): Promise<T> {
  const plain = spec.message.length === 1 ? spec.message[0]! : Buffer.concat(spec.message);
  const packed = await (encoding === "gzip" ? gzip(plain) : deflate(plain));
  return send(connection, spec, [...spec.headers, "grpc-encoding", encoding], [packed], true);
}

function rejected<T>(spec: UnaryCallSpec<T>, error: GrpcStatusError): Promise<T> {
  return Promise.reject(spec.fail ? spec.fail(error, spec.context) : error);
}

/** Not an async function: its frame would hold the request's bytes until the answer. */
function send<T>(connection: H2Connection, spec: UnaryCallSpec<T>, headers: readonly string[], message: readonly Uint8Array[], compressed: boolean): Promise<T> {
  let length = 0;
  for (let i = 0; i < message.length; i++) length += message[i]!.byteLength;
  if (length > spec.maxMessageLength) return rejected(spec, statusError(Status.RESOURCE_EXHAUSTED, `Sent message larger than max (${length} vs. ${spec.maxMessageLength})`));
  const signal = spec.signal;
  if (signal?.aborted) return rejected(spec, statusError(Status.CANCELLED, "Cancelled on client"));
  const session = connection.session();
  let stream: CallStream;
  try {
    stream = session.request(headers, REQUEST_OPTIONS);
  } catch (e) {
    session.dead = true;
    const why = (e as Error).message;
    return rejected(spec, statusError(Status.UNAVAILABLE, session.established ? `Connection dropped: ${why}` : `${NOT_CONNECTED}. Last error: ${why}`, {}, e));
  }
  let call!: UnaryCall<T>;
  const promise = new Promise<T>((resolve) => {
    call = new UnaryCall(spec, session, resolve);
  });
  call.stream = stream;
  stream[CALL] = call as UnaryCall<unknown>;
  // Listeners first: from here on the stream's end (and the session's stream count) is always handled.
  stream.on("response", onResponse);
  stream.on("trailers", onTrailers);
  stream.on("data", onData);
  stream.on("error", onError);
  stream.on("close", onClose);
  if (signal) {
    try {
      watchAbort(signal, call);
    } catch (e) {
      call.abandon(Status.INVALID_ARGUMENT, `signal is not an AbortSignal: ${(e as Error).message}`);
      return promise;
    }
  }
  const t = spec.timeoutMs;
  if (t !== undefined) call.setDeadline(t);

  if (length <= JOIN_LIMIT) {
    const frame = Buffer.allocUnsafe(5 + length);
    frame[0] = compressed ? 1 : 0;
    frame.writeUInt32BE(length, 1);
    let at = 5;
    for (let i = 0; i < message.length; i++) {
      const m = message[i]!;
      frame.set(m, at);
      at += m.byteLength;
    }
    stream.end(frame);
  } else {
    const prefix = Buffer.allocUnsafe(5);
    prefix[0] = compressed ? 1 : 0;
    prefix.writeUInt32BE(length, 1);
    stream.write(prefix);
    const last = message.length - 1;
    for (let i = 0; i < last; i++) stream.write(message[i]);
    if (last >= 0) stream.end(message[last]);
    else stream.end();
  }
  return promise;
}

/** Why a stream closed without a gRPC status: the connection (never made, or broken) or a reset. */
function missingStatus(stream: ClientHttp2Stream, session: H2Session, streamError: Error | undefined): GrpcStatusError {
  const cause = session.error ?? streamError;
  if (!session.established)
    return statusError(Status.UNAVAILABLE, `${NOT_CONNECTED}. Last error: ${cause?.message ?? "Failed to connect"}`, {}, cause);
  if (session.dead || streamError !== undefined || stream.rstCode === undefined || stream.rstCode === constants.NGHTTP2_NO_ERROR) {
    // No metadata: connectionFailure reads an UNAVAILABLE with headers as the server's own answer.
    return statusError(Status.UNAVAILABLE, `Connection dropped${cause ? `: ${cause.message}` : ""}`, {}, cause);
  }
  const s = statusForRstCode(stream.rstCode);
  return statusError(s.code, s.details);
}
