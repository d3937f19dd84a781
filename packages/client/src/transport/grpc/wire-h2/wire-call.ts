// One unary gRPC call on the client's own HTTP/2 connection: the request's header list (encoded by the
// session's HPACK encoder when its stream opens), the 5-byte prefix and the message, the answer read by MessageReader from DATA
// pieces, the status from trailers or a trailers-only response. It takes the same UnaryCallSpec as the
// node:http2 path (h2/unary-call.ts), so H2UnaryClient drives both; failures are the same grpc-js-shaped
// status errors. Per call: this object (reader, resolve, stream state in one) and the promise; the
// abort listener is the object itself and the deadline callback a shared function.
import { watchAbort } from "../../abort-watch.ts";
import { CALL_FREE_BIT, SettlingCall } from "../h2/settling-call.ts";
import { Status, decodeGrpcMessage, statusError, statusForHttp, type GrpcStatusError } from "../h2/status.ts";
import type { UnaryCallSpec } from "../h2/unary-call.ts";
import type { WireConnection } from "./connection.ts";
import type { WireSession } from "./session.ts";

/** Response headers every answer carries: not kept as an error's metadata unless something else comes too. */
const ROUTINE_HEADERS = new Set(["content-type", "grpc-encoding", "grpc-accept-encoding", "date", "server"]);
/** Requests up to this size (with their 5-byte prefix) get the prefix written by the session with their frames. */
export const JOIN_LIMIT = 16 * 1024;

/** The wire lists of shared header lists (H2UnaryClient keeps one list per method for plain calls). */
const wireLists = new WeakMap<readonly string[], readonly string[]>();

/**
 * The list as sent. This path does not decompress answers, so it asks for none: the list's
 * grpc-accept-encoding (written for the node:http2 path, which does) is sent as "identity". A shared list
 * maps to one wire list, so the session's encoder keeps one block for it.
 */
function wireHeaders(headers: readonly string[], shared: boolean): readonly string[] {
  let list = shared ? wireLists.get(headers) : undefined;
  if (list !== undefined) return list;
  const copy = headers.slice();
  for (let i = 0; i < copy.length; i += 2) if (copy[i] === "grpc-accept-encoding") copy[i + 1] = "identity";
  if (shared) wireLists.set(headers, copy);
  return copy;
}

// WireCall's flags in `bits` (one field for all of them: each boolean field would cost 8 bytes a call in flight).
const SHARED_HEADERS = CALL_FREE_BIT;
const PREFIXED = CALL_FREE_BIT << 1;
const LOCAL_DONE = CALL_FREE_BIT << 2;
const REMOTE_DONE = CALL_FREE_BIT << 3;
const CLOSED = CALL_FREE_BIT << 4;
const GOT_HEADERS = CALL_FREE_BIT << 5;

export class WireCall<T> extends SettlingCall<T> {
  session: WireSession | undefined;
  // Stream state, kept by the session.
  id = 0;
  /** The request's header list, encoded by the session's HPACK encoder when the stream opens. */
  readonly headers: readonly string[];
  /** The message; without its 5-byte prefix until `prefixed` (small requests get it written in place). */
  chunks: readonly Uint8Array[];
  chunkIndex = 0;
  chunkOffset = 0;
  sendLeft: number;
  sendWindow = 0;
  recvUnacked = 0;
  // The answer.
  #httpStatus = 0;
  /** grpc-status, -1 until seen. */
  #code = -1;
  /** The answer's grpc-message and its non-pseudo headers and trailers: only for answers that are not plain OK. */
  #failure: { details: string; metadata: Record<string, string | string[]> } | undefined;

  constructor(
    spec: UnaryCallSpec<T>,
    headers: readonly string[],
    sharedHeaders: boolean,
    chunks: readonly Uint8Array[],
    prefixed: boolean,
    length: number,
    resolve: (value: T) => void,
  ) {
    super(spec, resolve);
    this.headers = headers;
    this.chunks = chunks;
    this.sendLeft = length;
    if (sharedHeaders) this.bits |= SHARED_HEADERS;
    if (prefixed) this.bits |= PREFIXED;
  }

  /** `headers` is shared by many calls (the encoder may keep its block). */
  get sharedHeaders(): boolean {
    return (this.bits & SHARED_HEADERS) !== 0;
  }
  get prefixed(): boolean {
    return (this.bits & PREFIXED) !== 0;
  }
  set prefixed(on: boolean) {
    this.#flag(PREFIXED, on);
  }
  /** Everything of the request was sent (END_STREAM). */
  get localDone(): boolean {
    return (this.bits & LOCAL_DONE) !== 0;
  }
  set localDone(on: boolean) {
    this.#flag(LOCAL_DONE, on);
  }
  /** The server ended its side. */
  get remoteDone(): boolean {
    return (this.bits & REMOTE_DONE) !== 0;
  }
  set remoteDone(on: boolean) {
    this.#flag(REMOTE_DONE, on);
  }
  /** The stream is closed both ways or reset (its slot is free). */
  get closed(): boolean {
    return (this.bits & CLOSED) !== 0;
  }
  set closed(on: boolean) {
    this.#flag(CLOSED, on);
  }

  #flag(bit: number, on: boolean): void {
    if (on) this.bits |= bit;
    else this.bits &= ~bit;
  }


  /** The connection or the server ended the stream without an answer. */
  fail(error: GrpcStatusError): void {
    this.settle(error);
  }

  /** The call gives up: settle, then reset the stream (or leave the queue). */
  abandon(code: number, details: string): void {
    this.settle(statusError(code, details));
    this.session?.cancel(this as WireCall<unknown>);
  }

  /** The caller's AbortSignal fired (EventListener interface: no closure per call). */
  handleEvent(): void {
    this.abandon(Status.CANCELLED, "Cancelled on client");
  }

  onHeaders(list: string[], endStream: boolean): void {
    const first = (this.bits & GOT_HEADERS) === 0;
    this.bits |= GOT_HEADERS;
    if (!first && !endStream) {
      this.abandon(Status.INTERNAL, "Received a second HEADERS frame that does not end the stream");
      return;
    }
    let grpcStatus: string | undefined;
    let grpcMessage: string | undefined;
    let plain = true;
    for (let i = 0; i < list.length; i += 2) {
      const name = list[i]!;
      if (name === "grpc-status") grpcStatus = list[i + 1];
      else if (name === "grpc-message") grpcMessage = list[i + 1];
      else if (name === ":status") {
        if (first) this.#httpStatus = Number(list[i + 1]);
      } else if (!ROUTINE_HEADERS.has(name)) plain = false;
    }
    // The usual answer: 200 with the status to come, then "grpc-status: 0" trailers. Nothing reads an OK
    // status's message or metadata, so nothing else is kept.
    if (grpcStatus === "0") {
      if (this.#code < 0) this.#code = 0;
      return;
    }
    if (grpcStatus === undefined && plain) return;
    const failure = (this.#failure ??= { details: "", metadata: {} });
    const metadata = failure.metadata;
    for (let i = 0; i < list.length; i += 2) {
      const name = list[i]!;
      if (name.charCodeAt(0) === 58 /* ':' */) continue;
      const value = list[i + 1]!;
      const had = metadata[name];
      metadata[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
    }
    if (grpcStatus !== undefined && this.#code <= 0) {
      const code = Number(grpcStatus);
      const details = decodeGrpcMessage(grpcMessage);
      if (!Number.isInteger(code) || code < 0 || code > 16) {
        this.#code = Status.UNKNOWN;
        failure.details = details || `invalid grpc-status ${grpcStatus}`;
      } else {
        this.#code = code;
        failure.details = details;
      }
    }
  }

  onData(piece: Buffer): void {
    // A non-200 answer's body (an HTML or text error page) is not a gRPC message: the HTTP status decides.
    if (this.settled || this.#httpStatus !== 200) return;
    this.push(piece);
    if (this.problem !== undefined) {
      const code = this.problem.startsWith("Received message larger") ? Status.RESOURCE_EXHAUSTED : Status.INTERNAL;
      this.abandon(code, this.problem);
    }
  }

  /**
   * Where the answer's next bytes can be read straight from the socket (MessageReader.inPlace): only
   * while a large 200 answer is being read into its buffer.
   */
  readTarget(want: number, extra: number): Buffer | undefined {
    return this.settled || this.#httpStatus !== 200 ? undefined : this.inPlace(want, extra);
  }

  /** END_STREAM from the server: the answer is complete. */
  onEnd(): void {
    if (this.settled) return;
    if (this.#code < 0) {
      const http = this.#httpStatus;
      if (http !== 200) return this.settle(statusError(statusForHttp(http), `Received HTTP status code ${http}`, this.#failure?.metadata ?? {}));
      return this.settle(statusError(Status.UNKNOWN, "Server ended the stream without a grpc-status", this.#failure?.metadata ?? {}));
    }
    if (this.#code !== Status.OK) return this.settle(statusError(this.#code, this.#failure?.details ?? "", this.#failure?.metadata ?? {}));
    const body = this.message();
    if (body === undefined)
      return this.settle(statusError(this.partial ? Status.INTERNAL : Status.UNIMPLEMENTED, this.partial ? "Truncated message" : "No message received"));
    if (this.compressed)
      return this.settle(statusError(Status.INTERNAL, "Received a compressed message although the call asked for none (grpc-accept-encoding: identity)"));
    this.settle(undefined, body);
  }
}

// The promise's resolve, taken by a shared executor (Promise runs it synchronously) instead of a closure
// per call (the call keeps only resolve: see SettlingCall).
let capturedResolve: ((value: unknown) => void) | undefined;
function captureSettlers(resolve: (value: never) => void): void {
  capturedResolve = resolve as (value: unknown) => void;
}

function onDeadline(call: WireCall<unknown>): void {
  call.abandon(Status.DEADLINE_EXCEEDED, "Deadline exceeded");
}

function rejected<T>(spec: UnaryCallSpec<T>, error: GrpcStatusError): Promise<T> {
  return Promise.reject(spec.fail ? spec.fail(error, spec.context) : error);
}

/**
 * Runs one unary call. `sharedHeaders`: spec.headers is a list shared by many calls (its header block is
 * kept). Not an async function: its frame would hold the request's bytes until the answer.
 */
export function wireUnaryCall<T = Buffer>(connection: WireConnection, spec: UnaryCallSpec<T>, sharedHeaders: boolean): Promise<T> {
  if (spec.encoding !== undefined) return rejected(spec, statusError(Status.INTERNAL, "the iaas-h2 gRPC path does not compress requests"));
  const message = spec.message;
  let length = 0;
  for (let i = 0; i < message.length; i++) length += message[i]!.byteLength;
  if (length > spec.maxMessageLength) return rejected(spec, statusError(Status.RESOURCE_EXHAUSTED, `Sent message larger than max (${length} vs. ${spec.maxMessageLength})`));
  const signal = spec.signal;
  if (signal?.aborted) return rejected(spec, statusError(Status.CANCELLED, "Cancelled on client"));
  const headers = wireHeaders(spec.headers, sharedHeaders);
  let chunks: readonly Uint8Array[] = message;
  let prefixed = false;
  if (length + 5 > JOIN_LIMIT) {
    // Large requests leave as views of the caller's chunks after their own prefix.
    const prefix = Buffer.allocUnsafe(5);
    prefix[0] = 0;
    prefix.writeUInt32BE(length, 1);
    const list: Uint8Array[] = [prefix];
    for (let i = 0; i < message.length; i++) list.push(message[i]!);
    chunks = list;
    prefixed = true;
  }
  const promise = new Promise<T>(captureSettlers);
  const call = new WireCall<T>(spec, headers, sharedHeaders, chunks, prefixed, length + 5, capturedResolve as (value: T) => void);
  capturedResolve = undefined;
  if (signal) {
    try {
      watchAbort(signal, call);
      call.signal = signal;
    } catch (e) {
      call.settle(statusError(Status.INVALID_ARGUMENT, `signal is not an AbortSignal: ${(e as Error).message}`));
      return promise;
    }
  }
  const t = spec.timeoutMs;
  if (t !== undefined) call.timer = setTimeout(onDeadline, t, call as unknown as WireCall<unknown>);
  connection.start(call as unknown as WireCall<unknown>);
  return promise;
}
