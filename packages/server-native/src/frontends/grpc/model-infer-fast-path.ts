// Unary ModelInfer served straight from node:http2, on the same HTTP/2 server(s) grpc-js created for the
// port. grpc-js spent 35-67 us of the JS thread per unary call (metadata object, interceptor chain, call
// object, stream decoder, listener closures, several promise and tick hops) and keeps ~4 KB a call alive
// past a scavenge; the fast path reads the one message, runs the inference and answers with HEADERS, one
// DATA frame and trailers. It takes only plain calls: `POST /inference.GRPCInferenceService/ModelInfer`,
// content-type application/grpc or application/grpc+proto, no grpc-encoding other than identity. Every
// other stream (other RPCs, ModelStreamInfer, compressed calls, odd content types) goes to grpc-js's own
// 'stream' listener unchanged. What grpc-js did for these calls is done here too: bearer-token / verify
// authentication (UNAUTHENTICATED), grpc-timeout deadlines (DEADLINE_EXCEEDED), the receive limit
// (RESOURCE_EXHAUSTED), framing across DATA frames, one message per call, error statuses with a
// percent-encoded grpc-message, and a trace carrier (the request headers) for the server span.
import type { Http2Server, IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { status, type Server as GrpcServer } from "@grpc/grpc-js";
import { toServerError } from "../../core/errors.ts";
import type { LogFn } from "../../core/log-settings.ts";
import type { Authenticator, AuthVerdict } from "../../security/auth.ts";
import { GrpcCallError } from "./grpc-call-error.ts";
import { MAX_TIMER_MS, encodeGrpcMessage, grpcTimeoutMs } from "./grpc-call-headers.ts";
import { BodyPool } from "../request-buffers/body-pool.ts";
import { UnaryMessageReader } from "./unary-message-reader.ts";

export const MODEL_INFER_PATH = "/inference.GRPCInferenceService/ModelInfer";

/** One fast-path call as the inference side sees it. */
export interface FastInferCall {
  /** The request headers (lower-case names): the trace carrier. */
  readonly headers: IncomingHttpHeaders;
  /** process.hrtime.bigint() when the call's stream opened. */
  readonly receivedAt: bigint;
  /** Answers with this gRPC frame (5-byte prefix + ModelInferResponse) and grpc-status 0. Once. */
  answer(frame: Buffer): void;
  /** Ends the call with the status of `err` (GrpcCallError as is, anything else as a ServerError). Once. */
  fail(err: unknown): void;
}

export interface ModelInferFastPathOptions {
  /** Largest accepted request message (RESOURCE_EXHAUSTED above it). */
  maxReceiveBytes: number;
  /** Largest answer message (RESOURCE_EXHAUSTED above it, as grpc-js). */
  maxSendBytes: number;
  auth?: Authenticator;
  log: LogFn;
  /** Runs one request message; must end the call with exactly one answer() or fail(), and never throw. */
  infer(message: Buffer, call: FastInferCall): void;
}

export interface ModelInferFastPath {
  /** Resolves once no fast-path inference is running (calls whose client went away included). */
  idle(): Promise<void>;
}

let callsTaken = 0;
/** ModelInfer calls the fast path has taken in this process, all servers together (tests read it). */
export const fastModelInferCalls = (): number => callsTaken;

type StreamListener = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void;

interface GrpcServerInternals {
  http2Servers?: Map<Http2Server, unknown>;
}

const OK_HEADERS = {
  ":status": 200,
  "content-type": "application/grpc+proto",
  // As grpc-js answers: its clients read the server's accepted encodings from here before compressing.
  "grpc-accept-encoding": "identity,deflate,gzip",
  "grpc-encoding": "identity",
};
const OK_TRAILERS = { "grpc-status": "0", "grpc-message": "OK" };
const WAIT_FOR_TRAILERS = { waitForTrailers: true };
const END_STREAM = { endStream: true };
// grpc-js leaves these out of the metadata an interceptor sees; the auth check gets the same view.
const NOT_METADATA = new Set(["grpc-timeout", "grpc-encoding", "grpc-accept-encoding", "accept-encoding", "te", "content-type"]);
const CALL = Symbol("iaas.fastInferCall");
type CallStream = ServerHttp2Stream & { [CALL]?: Call };

function isPlainModelInfer(headers: IncomingHttpHeaders): boolean {
  if (headers[":path"] !== MODEL_INFER_PATH || headers[":method"] !== "POST") return false;
  const type = headers["content-type"];
  if (type !== "application/grpc" && type !== "application/grpc+proto") return false;
  const encoding = headers["grpc-encoding"];
  return encoding === undefined || encoding === "identity";
}

/** Text metadata as grpc-js's auth interceptor passed it to the authenticator (first value of each). */
function authHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(headers)) {
    if (key.charCodeAt(0) === 58 /* ':' */ || key.endsWith("-bin") || NOT_METADATA.has(key)) continue;
    const value = headers[key];
    const text = Array.isArray(value) ? value[0] : value;
    if (text !== undefined) out[key] = text;
  }
  return out;
}

const ignore = (): void => {};

class Shared {
  readonly options: ModelInferFastPathOptions;
  /** Request messages of 16 KiB-4 MiB are read into reused buffers (unary-message-reader.ts says why). */
  readonly messages = new BodyPool();
  running = 0;
  private waiters: (() => void)[] = [];
  constructor(options: ModelInferFastPathOptions) {
    this.options = options;
  }
  settled(): void {
    if (--this.running === 0 && this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    }
  }
  idle(): Promise<void> {
    return this.running === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

class Call implements FastInferCall {
  readonly shared: Shared;
  readonly stream: CallStream;
  readonly headers: IncomingHttpHeaders;
  readonly receivedAt: bigint;
  readonly reader: UnaryMessageReader;
  timer: NodeJS.Timeout | undefined = undefined;
  /** False while an asynchronous auth check is pending. */
  admitted = true;
  /** The request message once the client half-closed. */
  message: Buffer | undefined = undefined;
  /** An answer or error went out (or the stream is gone): later answers and errors are dropped, data drained. */
  done = false;
  running = false;

  constructor(shared: Shared, stream: CallStream, headers: IncomingHttpHeaders) {
    this.shared = shared;
    this.stream = stream;
    this.headers = headers;
    this.receivedAt = process.hrtime.bigint();
    this.reader = new UnaryMessageReader(shared.options.maxReceiveBytes, shared.messages);
  }

  /** Both the message and the admission are there: run the inference. */
  maybeRun(): void {
    if (this.done || !this.admitted || this.message === undefined || this.running) return;
    this.running = true;
    this.shared.running++;
    try {
      this.shared.options.infer(this.message, this);
    } catch (err) {
      // infer() must not throw; should it, the call still ends and the count stays right.
      this.fail(err);
    }
  }

  answer(frame: Buffer): void {
    this.settleInference();
    if (this.done) return;
    if (frame.length - 5 > this.shared.options.maxSendBytes) {
      this.end(status.RESOURCE_EXHAUSTED, `Sent message larger than max (${frame.length} vs. ${this.shared.options.maxSendBytes})`);
      return;
    }
    this.done = true;
    this.detach();
    if (this.timer !== undefined) clearTimeout(this.timer);
    const s = this.stream;
    if (s.destroyed || s.closed) return;
    try {
      s.respond(OK_HEADERS, WAIT_FOR_TRAILERS);
      s.once("wantTrailers", sendOkTrailers);
      s.end(frame);
    } catch (err) {
      this.shared.options.log(`gRPC ModelInfer: answer could not be written: ${err instanceof Error ? err.message : String(err)}`, "warning");
      s.destroy();
    }
  }

  fail(err: unknown): void {
    this.settleInference();
    if (this.done) return;
    if (err instanceof GrpcCallError) {
      this.end(err.code, err.message);
      return;
    }
    const e = toServerError(err);
    if (e.status === "INTERNAL") this.shared.options.log(`internal error: ${e.stack ?? e.message}`, "error");
    this.end(e.grpcCode, e.message);
  }

  /** Ends the call with a trailers-only answer (no-op once answered). */
  end(code: status, details: string): void {
    if (this.done) return;
    this.done = true;
    this.detach();
    if (this.timer !== undefined) clearTimeout(this.timer);
    const s = this.stream;
    if (s.destroyed || s.closed || s.headersSent) return;
    try {
      s.respond(
        { ":status": 200, "content-type": "application/grpc+proto", "grpc-status": String(code), "grpc-message": encodeGrpcMessage(details) },
        END_STREAM,
      );
    } catch {
      s.destroy();
    }
  }

  private settleInference(): void {
    if (!this.running) return;
    this.running = false;
    // The inference is over and the answer was encoded from output buffers: nothing reads the message now.
    // (give() ignores a message that is not the pool's.)
    if (this.message !== undefined) this.shared.messages.give(this.message);
    this.message = undefined;
    this.shared.settled();
  }

  /**
   * Once answered: the stream no longer points at the call. node:http2 keeps closed streams reachable for
   * a while (they get promoted by the scavenges that find them), and everything a stream points at is
   * promoted with it; a detached call dies young.
   */
  detach(): void {
    this.stream[CALL] = undefined;
  }
}

function sendOkTrailers(this: ServerHttp2Stream): void {
  try {
    this.sendTrailers(OK_TRAILERS);
  } catch {
    this.destroy();
  }
}

function onData(this: CallStream, chunk: Buffer): void {
  const call = this[CALL];
  if (call === undefined || call.done) return; // an ended call drains what the client still sends
  try {
    call.reader.push(chunk);
  } catch (err) {
    call.fail(err);
  }
}

function onEnd(this: CallStream): void {
  const call = this[CALL];
  if (call === undefined || call.done) return;
  try {
    call.message = call.reader.finish();
  } catch (err) {
    call.fail(err);
    return;
  }
  call.maybeRun();
}

function onDeadline(call: Call): void {
  call.timer = undefined;
  call.end(status.DEADLINE_EXCEEDED, "Deadline exceeded");
}

function checkAuth(call: Call, auth: Authenticator, log: LogFn): void {
  let verdict: AuthVerdict | Promise<AuthVerdict>;
  try {
    verdict = auth.check({ protocol: "grpc", operation: MODEL_INFER_PATH, headers: authHeaders(call.headers) });
  } catch (err) {
    verdict = Promise.reject(err);
  }
  if (!(verdict instanceof Promise)) {
    if (!verdict.ok) call.end(status.UNAUTHENTICATED, verdict.reason);
    return;
  }
  call.admitted = false;
  verdict.then(
    (v) => {
      if (!v.ok) return call.end(status.UNAUTHENTICATED, v.reason);
      call.admitted = true;
      call.maybeRun();
    },
    (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      log(`internal error: auth.verify failed for ${MODEL_INFER_PATH}: ${message}`);
      call.end(status.INTERNAL, `authentication check failed: ${message}`);
    },
  );
}

function startCall(shared: Shared, stream: CallStream, headers: IncomingHttpHeaders): void {
  callsTaken++;
  const call = new Call(shared, stream, headers);
  // Without an 'error' listener a stream reset by the peer would throw from the emitter.
  stream.on("error", ignore);
  stream[CALL] = call;
  stream.on("data", onData);
  stream.on("end", onEnd);
  const timeout = headers["grpc-timeout"];
  if (timeout !== undefined) {
    const ms = grpcTimeoutMs(String(timeout));
    if (ms === undefined) call.end(status.INTERNAL, `Invalid grpc-timeout value "${timeout}"`);
    // Unref'd: a deadline never keeps the process alive; the call it guards does, while it runs.
    else if (ms <= MAX_TIMER_MS) call.timer = setTimeout(onDeadline, ms, call).unref();
  }
  const { auth, log } = shared.options;
  if (auth !== undefined && !call.done && !auth.exempt(MODEL_INFER_PATH)) checkAuth(call, auth, log);
}

/**
 * After bindAsync: plain unary ModelInfer streams of every HTTP/2 server of `grpcServer` go to the fast
 * path, all others to grpc-js. Returns undefined (and changes nothing) when grpc-js hides its servers.
 */
export function takeModelInferStreams(grpcServer: GrpcServer, options: ModelInferFastPathOptions): ModelInferFastPath | undefined {
  const servers = (grpcServer as unknown as GrpcServerInternals).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) return undefined;
  const shared = new Shared(options);
  for (const http2Server of servers.keys()) {
    const grpcListeners = http2Server.listeners("stream") as StreamListener[];
    if (grpcListeners.length === 0) return undefined;
  }
  for (const http2Server of servers.keys()) {
    const grpcListeners = http2Server.listeners("stream") as StreamListener[];
    http2Server.removeAllListeners("stream");
    http2Server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
      if (isPlainModelInfer(headers)) {
        try {
          startCall(shared, stream, headers);
        } catch (err) {
          options.log(`gRPC ModelInfer: call could not start: ${err instanceof Error ? err.message : String(err)}`, "warning");
          if (!stream.destroyed) stream.destroy();
        }
        return;
      }
      for (const listener of grpcListeners) listener.call(http2Server, stream, headers, flags, rawHeaders);
    });
  }
  return { idle: () => shared.idle() };
}
