// One unary gRPC call on the client's own HTTP/2 connection: the request's header block (encoded once per
// shared header list), the 5-byte prefix and the message, the answer read by MessageReader from DATA
// pieces, the status from trailers or a trailers-only response. It takes the same UnaryCallSpec as the
// node:http2 path (h2/unary-call.ts), so H2UnaryClient drives both; failures are the same grpc-js-shaped
// status errors. Per call: this object (reader, settlers, stream state in one) and the promise; the
// abort listener is the object itself and the deadline callback a shared function.
import { SettlingCall } from "../h2/settling-call.ts";
import { Status, decodeGrpcMessage, statusError, statusForHttp, type GrpcStatusError } from "../h2/status.ts";
import type { UnaryCallSpec } from "../h2/unary-call.ts";
import type { WireConnection } from "./connection.ts";
import { DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER, Flag, FrameType, writeFrameHeader } from "./frames.ts";
import { encodeHeaderBlock } from "./hpack-encoder.ts";
import type { WireSession } from "./session.ts";

const NO_CHUNKS: readonly Uint8Array[] = [];
/** Response headers every answer carries: not kept as an error's metadata unless something else comes too. */
const ROUTINE_HEADERS = new Set(["content-type", "grpc-encoding", "grpc-accept-encoding", "date", "server"]);
/** Requests up to this size (with their 5-byte prefix) are built as one buffer with their HEADERS frame. */
const JOIN_LIMIT = 16 * 1024;

/** Header blocks of shared header lists (H2UnaryClient keeps one list per method for plain calls). */
const blocks = new WeakMap<readonly string[], Buffer>();

/**
 * The block of `headers`. This path does not decompress answers, so it asks for none: the list's
 * grpc-accept-encoding (written for the node:http2 path, which does) is sent as "identity".
 */
function headerBlock(headers: readonly string[], shared: boolean): Buffer {
  let block = shared ? blocks.get(headers) : undefined;
  if (block !== undefined) return block;
  const list = headers.slice();
  for (let i = 0; i < list.length; i += 2) if (list[i] === "grpc-accept-encoding") list[i + 1] = "identity";
  block = encodeHeaderBlock(list);
  if (shared) blocks.set(headers, block);
  return block;
}

export class WireCall<T> extends SettlingCall<T> {
  session: WireSession | undefined;
  // Stream state, kept by the session.
  id = 0;
  readonly block: Buffer;
  /** Small requests: HEADERS and DATA (END_STREAM) frames built whole, stream ids left 0 for the session. */
  joined: Buffer | undefined;
  chunks: readonly Uint8Array[];
  chunkIndex = 0;
  chunkOffset = 0;
  sendLeft: number;
  sendWindow = 0;
  recvUnacked = 0;
  localDone = false;
  remoteDone = false;
  closed = false;
  // The answer.
  #gotHeaders = false;
  #httpStatus = 0;
  /** grpc-status, -1 until seen. */
  #code = -1;
  #details = "";
  /** Non-pseudo response headers and trailers, kept for an error's metadata. */
  #metadata: Record<string, string | string[]> | undefined;

  constructor(
    spec: UnaryCallSpec<T>,
    block: Buffer,
    joined: Buffer | undefined,
    chunks: readonly Uint8Array[],
    length: number,
    resolve: (value: T) => void,
    reject: (error: unknown) => void,
  ) {
    super(spec, resolve, reject);
    this.block = block;
    this.joined = joined;
    this.chunks = chunks;
    this.sendLeft = length;
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
    const first = !this.#gotHeaders;
    this.#gotHeaders = true;
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
    this.#metadata ??= {};
    for (let i = 0; i < list.length; i += 2) {
      const name = list[i]!;
      if (name.charCodeAt(0) === 58 /* ':' */) continue;
      const value = list[i + 1]!;
      const had = this.#metadata[name];
      this.#metadata[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
    }
    if (grpcStatus !== undefined && this.#code <= 0) {
      const code = Number(grpcStatus);
      const details = decodeGrpcMessage(grpcMessage);
      if (!Number.isInteger(code) || code < 0 || code > 16) {
        this.#code = Status.UNKNOWN;
        this.#details = details || `invalid grpc-status ${grpcStatus}`;
      } else {
        this.#code = code;
        this.#details = details;
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

  /** END_STREAM from the server: the answer is complete. */
  onEnd(): void {
    if (this.settled) return;
    if (this.#code < 0) {
      const http = this.#httpStatus;
      if (http !== 200) return this.settle(statusError(statusForHttp(http), `Received HTTP status code ${http}`, this.#metadata ?? {}));
      return this.settle(statusError(Status.UNKNOWN, "Server ended the stream without a grpc-status", this.#metadata ?? {}));
    }
    if (this.#code !== Status.OK) return this.settle(statusError(this.#code, this.#details, this.#metadata ?? {}));
    const body = this.message();
    if (body === undefined)
      return this.settle(statusError(this.partial ? Status.INTERNAL : Status.UNIMPLEMENTED, this.partial ? "Truncated message" : "No message received"));
    if (this.compressed)
      return this.settle(statusError(Status.INTERNAL, "Received a compressed message although the call asked for none (grpc-accept-encoding: identity)"));
    this.settle(undefined, body);
  }
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
  const block = headerBlock(spec.headers, sharedHeaders);
  let joined: Buffer | undefined;
  let chunks: readonly Uint8Array[] = NO_CHUNKS;
  if (length + 5 <= JOIN_LIMIT && block.length <= DEFAULT_MAX_FRAME_SIZE) {
    // One buffer for the whole request (HTTP/2's default frame size bounds both frames, so it fits any peer).
    joined = Buffer.allocUnsafe(2 * FRAME_HEADER + block.length + 5 + length);
    writeFrameHeader(joined, 0, block.length, FrameType.HEADERS, Flag.END_HEADERS, 0);
    block.copy(joined, FRAME_HEADER);
    let at = FRAME_HEADER + block.length;
    writeFrameHeader(joined, at, length + 5, FrameType.DATA, Flag.END_STREAM, 0);
    at += FRAME_HEADER;
    joined[at] = 0;
    joined.writeUInt32BE(length, at + 1);
    at += 5;
    for (let i = 0; i < message.length; i++) {
      const m = message[i]!;
      joined.set(m, at);
      at += m.byteLength;
    }
  } else {
    const prefix = Buffer.allocUnsafe(5);
    prefix[0] = 0;
    prefix.writeUInt32BE(length, 1);
    const list: Uint8Array[] = [prefix];
    for (let i = 0; i < message.length; i++) list.push(message[i]!);
    chunks = list;
  }
  let call!: WireCall<T>;
  const promise = new Promise<T>((resolve, reject) => {
    call = new WireCall(spec, block, joined, chunks, length + 5, resolve, reject);
  });
  if (signal) {
    try {
      signal.addEventListener("abort", call, { once: true });
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
