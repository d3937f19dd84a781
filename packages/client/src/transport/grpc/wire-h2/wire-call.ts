// One unary gRPC call on the client's own HTTP/2 connection: the request's header list (encoded by the
// session's HPACK encoder when its stream opens), the 5-byte prefix and the message, the answer read by MessageReader from DATA
// pieces, the status from trailers or a trailers-only response. It takes the same UnaryCallSpec as the
// node:http2 path (h2/unary-call.ts), so H2UnaryClient drives both; failures are the same grpc-js-shaped
// status errors. Per call: this object (reader, resolve, stream state in one: 10 fields) and the promise;
// the abort listener is the object itself and its deadline a slot in the shared queue. What only large
// requests, large answers (their stream credit) or failed answers need is in a CallExtras made for
// those calls alone.
import { watchAbort } from "../../abort-watch.ts";
import { callBackLater, type InferCallback } from "../../infer-callback.ts";
import { CALL_FREE_BIT, CALLBACK, SettlingCall } from "../h2/settling-call.ts";
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

// WireCall's state in `bits` (one field for all of it: each field costs 8 bytes a call in flight): flags,
// then the answer's HTTP status (10 bits, 0 until seen) and its grpc-status plus one (5 bits, 0 until seen).
const SHARED_HEADERS = CALL_FREE_BIT;
const PREFIXED = CALL_FREE_BIT << 1;
const LOCAL_DONE = CALL_FREE_BIT << 2;
const REMOTE_DONE = CALL_FREE_BIT << 3;
const CLOSED = CALL_FREE_BIT << 4;
const GOT_HEADERS = CALL_FREE_BIT << 5;
const HTTP_SHIFT = Math.log2(GOT_HEADERS) + 1;
const HTTP_MASK = 0x3ff << HTTP_SHIFT;
const CODE_SHIFT = HTTP_SHIFT + 10;
const CODE_MASK = 0x1f << CODE_SHIFT;

const NO_CHUNKS: readonly Uint8Array[] = [];

/**
 * What only some calls need, made when first needed: a request that does not leave whole with its
 * HEADERS (large, or held back by flow control) keeps its send progress here, an answer that is not a
 * plain OK its message and metadata, an answer that may use up half its stream window its byte count.
 */
export class CallExtras {
  /** The request's message with its prefix, while it is being sent. */
  chunks: readonly Uint8Array[] = NO_CHUNKS;
  /** Where sending goes on: chunks[chunkIndex] from chunkOffset; sendLeft bytes to go. */
  chunkIndex = 0;
  chunkOffset = 0;
  sendLeft = 0;
  /** The stream's send window (tracked while the request has bytes to send). */
  sendWindow = 0;
  /** The answer's grpc-message and its non-pseudo headers and trailers. */
  details = "";
  metadata: Record<string, string | string[]> | undefined = undefined;
  /**
   * Answer bytes received since the stream's last WINDOW_UPDATE, counted (countsAnswer) only for answers
   * that could use up half the stream's receive window (WireCall.needsStreamCredit): a small answer ends
   * long before its stream needs credit, so the usual call keeps no counter.
   */
  countsAnswer = false;
  recvUnacked = 0;
}

export class WireCall<T> extends SettlingCall<T> {
  session: WireSession | undefined;
  // Stream state, kept by the session.
  id = 0;
  extras: CallExtras | undefined = undefined;

  /**
   * The request (its header list and message) is not kept here: the session takes it when the stream
   * opens (or holds it with the call while it waits for a stream slot, PendingCall).
   */
  constructor(spec: UnaryCallSpec<T>, sharedHeaders: boolean, prefixed: boolean, resolve: (value: T) => void) {
    super(spec, resolve);
    if (sharedHeaders) this.bits |= SHARED_HEADERS;
    if (prefixed) this.bits |= PREFIXED;
  }

  /** The request's header list is shared by many calls (the encoder may keep its block). */
  get sharedHeaders(): boolean {
    return (this.bits & SHARED_HEADERS) !== 0;
  }
  get prefixed(): boolean {
    return (this.bits & PREFIXED) !== 0;
  }
  set prefixed(on: boolean) {
    this.setFlag(PREFIXED, on);
  }
  /** Everything of the request was sent (END_STREAM). */
  get localDone(): boolean {
    return (this.bits & LOCAL_DONE) !== 0;
  }
  set localDone(on: boolean) {
    this.setFlag(LOCAL_DONE, on);
  }
  /** The server ended its side. */
  get remoteDone(): boolean {
    return (this.bits & REMOTE_DONE) !== 0;
  }
  set remoteDone(on: boolean) {
    this.setFlag(REMOTE_DONE, on);
  }
  /** The stream is closed both ways or reset (its slot is free). */
  get closed(): boolean {
    return (this.bits & CLOSED) !== 0;
  }
  set closed(on: boolean) {
    this.setFlag(CLOSED, on);
  }

  /** The answer's HTTP status; 0 until its headers came (or when it was not a 3-digit number). */
  private get httpStatus(): number {
    return (this.bits & HTTP_MASK) >>> HTTP_SHIFT;
  }
  private set httpStatus(status: number) {
    const s = Number.isInteger(status) && status >= 0 && status <= 999 ? status : 0;
    this.bits = (this.bits & ~HTTP_MASK) | (s << HTTP_SHIFT);
  }
  /** grpc-status, -1 until seen. */
  private get code(): number {
    return ((this.bits & CODE_MASK) >>> CODE_SHIFT) - 1;
  }
  private set code(code: number) {
    this.bits = (this.bits & ~CODE_MASK) | ((code + 1) << CODE_SHIFT);
  }

  // Not #private methods: those put a brand field on every instance (8 bytes a call in flight).
  private setFlag(bit: number, on: boolean): void {
    if (on) this.bits |= bit;
    else this.bits &= ~bit;
  }

  /**
   * Whether the stream's received bytes must be counted for its receive window (CallExtras.recvUnacked):
   * a gRPC message of at least `large` bytes with its prefix, or an answer that is not HTTP 200 (its body,
   * an error page, is not read as a message, so its size is not known).
   */
  needsStreamCredit(large: number): boolean {
    return this.httpStatus !== 200 || this.messageLength + 5 >= large;
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
        if (first) this.httpStatus = Number(list[i + 1]);
      } else if (!ROUTINE_HEADERS.has(name)) plain = false;
    }
    // The usual answer: 200 with the status to come, then "grpc-status: 0" trailers. Nothing reads an OK
    // status's message or metadata, so nothing else is kept.
    if (grpcStatus === "0") {
      if (this.code < 0) this.code = 0;
      return;
    }
    if (grpcStatus === undefined && plain) return;
    const failure = (this.extras ??= new CallExtras());
    const metadata = (failure.metadata ??= {});
    for (let i = 0; i < list.length; i += 2) {
      const name = list[i]!;
      if (name.charCodeAt(0) === 58 /* ':' */) continue;
      const value = list[i + 1]!;
      const had = metadata[name];
      metadata[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
    }
    if (grpcStatus !== undefined && this.code <= 0) {
      const code = Number(grpcStatus);
      const details = decodeGrpcMessage(grpcMessage);
      if (!Number.isInteger(code) || code < 0 || code > 16) {
        this.code = Status.UNKNOWN;
        failure.details = details || `invalid grpc-status ${grpcStatus}`;
      } else {
        this.code = code;
        failure.details = details;
      }
    }
  }

  onData(piece: Buffer): void {
    // A non-200 answer's body (an HTML or text error page) is not a gRPC message: the HTTP status decides.
    if (this.settled || this.httpStatus !== 200) return;
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
    return this.settled || this.httpStatus !== 200 ? undefined : this.inPlace(want, extra);
  }

  /** END_STREAM from the server: the answer is complete. */
  onEnd(): void {
    if (this.settled) return;
    if (this.code < 0) {
      const http = this.httpStatus;
      if (http !== 200) return this.settle(statusError(statusForHttp(http), `Received HTTP status code ${http}`, this.extras?.metadata ?? {}));
      return this.settle(statusError(Status.UNKNOWN, "Server ended the stream without a grpc-status", this.extras?.metadata ?? {}));
    }
    if (this.code !== Status.OK) return this.settle(statusError(this.code, this.extras?.details ?? "", this.extras?.metadata ?? {}));
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

function mapped<T>(spec: UnaryCallSpec<T>, error: GrpcStatusError): unknown {
  return spec.fail ? spec.fail(error, spec.context) : error;
}

/** A call that ends by `callback(error, value, context)` instead of a promise (wireCallbackCall). */
class CallbackWireCall<T> extends WireCall<T> {
  readonly #context: unknown;

  constructor(spec: UnaryCallSpec<T>, sharedHeaders: boolean, prefixed: boolean, callback: InferCallback<T, unknown>, context: unknown) {
    super(spec, sharedHeaders, prefixed, callback as unknown as (value: T) => void);
    this.bits |= CALLBACK;
    this.#context = context;
  }

  protected override callbackContext(): unknown {
    return this.#context;
  }
}

/** A request as the session takes it, or the failure that stops it before it starts. */
interface Prepared {
  headers: readonly string[];
  chunks: readonly Uint8Array[];
  prefixed: boolean;
}

function prepare<T>(spec: UnaryCallSpec<T>, sharedHeaders: boolean): Prepared | GrpcStatusError {
  if (spec.encoding !== undefined) return statusError(Status.INTERNAL, "the iaas-h2 gRPC path does not compress requests");
  const message = spec.message;
  let length = 0;
  for (let i = 0; i < message.length; i++) length += message[i]!.byteLength;
  if (length > spec.maxMessageLength) return statusError(Status.RESOURCE_EXHAUSTED, `Sent message larger than max (${length} vs. ${spec.maxMessageLength})`);
  if (spec.signal?.aborted) return statusError(Status.CANCELLED, "Cancelled on client");
  const headers = wireHeaders(spec.headers, sharedHeaders);
  if (length + 5 <= JOIN_LIMIT) return { headers, chunks: message, prefixed: false };
  // Large requests leave as views of the caller's chunks after their own prefix.
  const prefix = Buffer.allocUnsafe(5);
  prefix[0] = 0;
  prefix.writeUInt32BE(length, 1);
  const list: Uint8Array[] = [prefix];
  for (let i = 0; i < message.length; i++) list.push(message[i]!);
  return { headers, chunks: list, prefixed: true };
}

/** Watches the signal, sets the deadline and starts the call; a signal that is not an AbortSignal fails it. */
function launch<T>(connection: WireConnection, spec: UnaryCallSpec<T>, call: WireCall<T>, p: Prepared): GrpcStatusError | undefined {
  const signal = spec.signal;
  if (signal) {
    try {
      watchAbort(signal, call);
    } catch (e) {
      return statusError(Status.INVALID_ARGUMENT, `signal is not an AbortSignal: ${(e as Error).message}`);
    }
  }
  const t = spec.timeoutMs;
  if (t !== undefined) call.setDeadline(t);
  connection.start(call as unknown as WireCall<unknown>, p.headers, p.chunks);
  return undefined;
}

/**
 * Runs one unary call. `sharedHeaders`: spec.headers is a list shared by many calls (its header block is
 * kept). Not an async function: its frame would hold the request's bytes until the answer.
 */
export function wireUnaryCall<T = Buffer>(connection: WireConnection, spec: UnaryCallSpec<T>, sharedHeaders: boolean): Promise<T> {
  const p = prepare(spec, sharedHeaders);
  if (!("chunks" in p)) return Promise.reject(mapped(spec, p));
  const promise = new Promise<T>(captureSettlers);
  const call = new WireCall<T>(spec, sharedHeaders, p.prefixed, capturedResolve as (value: T) => void);
  capturedResolve = undefined;
  const refused = launch(connection, spec, call, p);
  if (refused !== undefined) call.settle(refused);
  return promise;
}

/**
 * wireUnaryCall without a promise: `callback(error, value, context)` once, never before this returns. A
 * call in flight is then its WireCall alone (the callback and context are the caller's, usually shared).
 */
export function wireCallbackCall<T, C>(connection: WireConnection, spec: UnaryCallSpec<T>, sharedHeaders: boolean, callback: InferCallback<T, C>, context: C): void {
  const p = prepare(spec, sharedHeaders);
  if (!("chunks" in p)) return callBackLater(callback, mapped(spec, p), context);
  const call = new CallbackWireCall<T>(spec, sharedHeaders, p.prefixed, callback as InferCallback<T, unknown>, context);
  const refused = launch(connection, spec, call, p);
  // The call never started (nothing watches or holds it): called back later, not from inside this call.
  if (refused !== undefined) callBackLater(callback, mapped(spec, refused), context);
}
