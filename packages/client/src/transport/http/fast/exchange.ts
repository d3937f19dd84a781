// One request on the fast HTTP/1.1 path, from the caller's promise to the answer. The object is the
// promise's settler and the abort listener at once, and holds the request as the caller made it: an infer
// request as its JSON header text and the tensors' own typed arrays (no encoded copy, no chunk list), so a
// request waiting in the queue for a connection holds that and nothing else. The head is serialised only
// when the request is written; the answer is collected by the connection (one request at a time there).
import type { Socket } from "node:net";
import type { CollectedResponse, DispatchOptions } from "../dispatch.ts";
import { bytesOf } from "../infer-codec.ts";
import { watchAbort, unwatchAbort, type AbortTarget } from "../../abort-watch.ts";
import { DEADLINE_PASSED } from "../../call-scope.ts";
import { deadlines, type DeadlineTarget } from "../../deadline-queue.ts";
import { callBack, type InferCallback } from "../../infer-callback.ts";
import { FastHttpError } from "./errors.ts";

/** A body: text (UTF-8), bytes, or parts written back to back (typed arrays are sent as their bytes). */
export type RequestBody = string | ArrayBufferView | readonly ArrayBufferView[] | null;

/**
 * What a request's answer becomes before its promise settles, run as the answer completes: lets a caller
 * (the infer path) decode in the same turn and hand its caller one promise instead of a chain of them.
 */
export interface ExchangeFinish<T> {
  /** The result for a complete answer (a throw or a rejected promise rejects the request). */
  done(response: CollectedResponse): T | Promise<T>;
  /** The error the caller sees for a failure before an answer (connection, abort, invalid request). */
  failed(error: unknown): unknown;
}

/** A request with its head prepared by the caller (see FastRequest.head). */
export interface FastRequest extends Omit<DispatchOptions, "body"> {
  body: RequestBody;
  /**
   * The request line and every header but Content-Length, each line CRLF-terminated, already checked
   * (checkRequest) and with Host set: written as is, instead of being built from `headers` per request.
   * With `json` and a `body` both given, the head's last line is unfinished: it ends with the
   * Inference-Header-Content-Length name, and `jsonBytes` and CRLF complete it.
   */
  head?: string | undefined;
  /** An infer request's JSON header, written in UTF-8 between the head and `body`; `jsonBytes` long. */
  json?: string | undefined;
  jsonBytes?: number | undefined;
  /**
   * Instead of `head` and `json`: the request head (checked, Host and Content-Length included, blank
   * line) and whatever precedes `body`, as bytes written as they are. Shared between requests: never modified.
   */
  prefix?: Uint8Array | undefined;
  /**
   * A deadline this many milliseconds from now (finite, >= 0), kept in the event loop's deadline queue
   * (deadline-queue.ts) instead of a timer and an AbortController per request: when it passes, the request
   * fails with DEADLINE_PASSED (its finish says what the caller sees), as it would on an abort.
   */
  timeoutMs?: number | undefined;
}

/** Requests whose head and body together are at most this large go out as one buffer in one write. */
const ONE_WRITE_LIMIT = 64 * 1024;

// RFC 9110 token characters for header names; values may not contain CR, LF or NUL (header injection),
// nor characters above U+00FF (the head is written as latin1).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\r\n\0]|[^\u0000-\u00ff]/;
const BAD_PATH = /[\s\0]|[^\u0000-\u00ff]/;

/** Headers the connection writes itself: a caller's value for them is dropped (host replaces ours). */
function isFramingHeader(lower: string): boolean {
  return lower === "content-length" || lower === "transfer-encoding" || lower === "connection" || lower === "keep-alive";
}

/** Throws for a header set or path that cannot be written safely. */
export function checkRequest(path: string, headers: Record<string, string> | null): void {
  if (BAD_PATH.test(path)) throw new FastHttpError("UND_ERR_INVALID_ARG", `invalid request path ${JSON.stringify(path)}`);
  if (headers === null) return;
  for (const name in headers) {
    const value = headers[name];
    if (!TOKEN.test(name)) throw new FastHttpError("UND_ERR_INVALID_ARG", `invalid header name ${JSON.stringify(name)}`);
    if (typeof value !== "string" || BAD_VALUE.test(value))
      throw new FastHttpError("UND_ERR_INVALID_ARG", `invalid value for header ${JSON.stringify(name)}: must be a string without CR, LF, NUL or characters above U+00FF`);
  }
}

export function bodyByteLength(body: RequestBody): number {
  if (body === null) return 0;
  if (typeof body === "string") return Buffer.byteLength(body);
  if (ArrayBuffer.isView(body)) return body.byteLength;
  let n = 0;
  for (let i = 0; i < body.length; i++) n += body[i]!.byteLength;
  return n;
}

// A request's promise is made with one shared executor function instead of a closure per request, and
// only its `resolve` is kept (a rejection is a resolve with a rejected promise): the reject function is
// then garbage at once instead of ~70 B held per request in flight.
let takenResolve: ((r: unknown) => void) | undefined;
function takeResolve(resolve: (r: unknown) => void): void {
  takenResolve = resolve;
}
const unset = (): void => {};

/** A new promise; its resolve function is handed out by the next call of takenResolveFunction(). */
export function resolvablePromise(): Promise<unknown> {
  return new Promise<unknown>(takeResolve);
}

export function takenResolveFunction(): (r: unknown) => void {
  const resolve = takenResolve!;
  takenResolve = undefined;
  return resolve;
}

export class Exchange implements AbortTarget, DeadlineTarget {
  readonly method: DispatchOptions["method"];
  readonly path: string;
  readonly headers: Record<string, string> | null;
  readonly body: RequestBody;
  readonly signal: AbortSignal | null;
  readonly #json: string | undefined;
  readonly #jsonBytes: number;
  readonly #head: string | undefined;
  readonly #prefix: Uint8Array | undefined;
  readonly #finish: ExchangeFinish<unknown> | undefined;
  readonly #owner: { onSettled(ex: Exchange): void };
  /** The promise's resolve function (set by start()); see resolvablePromise. */
  resolve: (r: unknown) => void = unset;
  settled = false;
  /** Waiting in the pool's queue for a connection. */
  queued = false;
  /** Sent again once, on a fresh connection, after a reused one closed before answering (GET only). */
  retried = false;
  /** Called when the caller's signal fires while the request is on a connection. */
  onAbort: ((ex: Exchange) => void) | undefined = undefined;
  /** The request's place in the deadline queue (0: none); see FastRequest.timeoutMs. */
  deadlineSlot = 0;

  constructor(options: FastRequest, finish: ExchangeFinish<unknown> | undefined, owner: { onSettled(ex: Exchange): void }) {
    this.#owner = owner;
    this.#head = options.head;
    this.#prefix = options.prefix;
    this.#json = options.json;
    this.#jsonBytes = options.jsonBytes ?? 0;
    this.#finish = finish;
    this.method = options.method;
    this.path = options.path;
    this.headers = options.headers;
    this.body = options.body;
    this.signal = options.signal;
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined) deadlines.add(this, timeoutMs);
  }

  /**
   * The Exchange of a request held compactly until now (pool.ts): a POST with its head and JSON header
   * as `prefix` bytes, its promise made already (`resolve`), what is left of its deadline if it has one, and its signal.
   */
  static compact(
    prefix: Uint8Array,
    body: RequestBody,
    finish: ExchangeFinish<unknown>,
    resolve: (r: unknown) => void,
    owner: { onSettled(ex: Exchange): void },
    timeoutMs: number | undefined,
    signal: AbortSignal | null,
  ): Exchange {
    // The caller watches `signal` for it (the queue did until now).
    const ex = new Exchange({ method: "POST", path: "", headers: null, body, signal, prefix, timeoutMs }, finish, owner);
    ex.resolve = resolve;
    return ex;
  }

  /** The request's promise; from now on the caller's signal is watched. */
  start(): Promise<unknown> {
    const promise = resolvablePromise();
    this.resolve = takenResolveFunction();
    if (this.signal !== null) watchAbort(this.signal, this);
    return promise;
  }

  /** The caller's signal fired (abort-watch.ts). */
  aborted(): void {
    const reason = this.signal!.reason;
    const onAbort = this.onAbort;
    this.fail(reason);
    onAbort?.(this);
  }

  /** The deadline passed (deadline-queue.ts): as an abort, with DEADLINE_PASSED as the reason. */
  deadlinePassed(): void {
    const onAbort = this.onAbort;
    this.fail(DEADLINE_PASSED);
    onAbort?.(this);
  }

  fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.onAbort = undefined;
    if (this.signal !== null) unwatchAbort(this.signal, this);
    if (this.deadlineSlot !== 0) deadlines.remove(this);
    this.#reject(this.#finish === undefined ? error : this.#finish.failed(error));
    this.#owner.onSettled(this);
  }

  #reject(error: unknown): void {
    this.resolve(Promise.reject(error));
  }

  /** The whole answer arrived (collected by the connection). */
  complete(response: CollectedResponse): void {
    if (this.settled) return;
    this.settled = true;
    this.onAbort = undefined;
    if (this.signal !== null) unwatchAbort(this.signal, this);
    if (this.deadlineSlot !== 0) deadlines.remove(this);
    const finish = this.#finish;
    if (finish === undefined) this.resolve(response);
    else {
      // A decode that throws rejects the call; the pool counts the request settled either way.
      let result: unknown;
      try {
        result = finish.done(response);
      } catch (e) {
        this.#reject(e);
        this.#owner.onSettled(this);
        return;
      }
      this.resolve(result);
    }
    this.#owner.onSettled(this);
  }

  /** The head from method, path and headers (framing headers are the connection's; Host defaults to `host`). */
  #buildHead(host: string, bodyLength: number): string {
    let head = `${this.method} ${this.path} HTTP/1.1\r\n`;
    let hostSet = false;
    const headers = this.headers;
    if (headers !== null) {
      for (const name in headers) {
        const lower = name.toLowerCase();
        if (isFramingHeader(lower)) continue;
        if (lower === "host") hostSet = true;
        head += `${name}: ${headers[name]}\r\n`;
      }
    }
    if (!hostSet) head += `host: ${host}\r\n`;
    head += this.body !== null || this.#json !== undefined || this.method === "POST" ? `content-length: ${bodyLength}\r\n\r\n` : "\r\n";
    return head;
  }

  /** Writes the request: small ones as one buffer in one write, large ones as the head then the body's own chunks. */
  write(socket: Socket, host: string): void {
    const body = this.body;
    const prefix = this.#prefix;
    if (prefix !== undefined) {
      writeWithPrefix(socket, prefix, body);
      return;
    }
    const json = this.#json;
    const jsonBytes = json === undefined ? 0 : this.#jsonBytes;
    const bodyLength = jsonBytes + bodyByteLength(body);
    let head: string;
    if (this.#head === undefined) head = this.#buildHead(host, bodyLength);
    else if (json !== undefined && body !== null) head = `${this.#head}${jsonBytes}\r\ncontent-length: ${bodyLength}\r\n\r\n`;
    else head = `${this.#head}content-length: ${bodyLength}\r\n\r\n`;
    // The head is latin1 (checked by checkRequest), so its byte length is its string length.
    const headLength = head.length;
    if (headLength + bodyLength <= ONE_WRITE_LIMIT) {
      const out = Buffer.allocUnsafe(headLength + bodyLength);
      out.write(head, 0, "latin1");
      let off = headLength;
      if (json !== undefined) off += out.write(json, off, "utf8");
      if (typeof body === "string") out.write(body, off, "utf8");
      else copyBodyInto(out, off, body);
      socket.write(out);
      return;
    }
    // Large bodies: no joined copy; cork so the head and the first chunks leave in one writev.
    socket.cork();
    socket.write(head, "latin1");
    if (json !== undefined) socket.write(json, "utf8");
    writeBodyParts(socket, body);
    socket.uncork();
  }
}

/**
 * An Exchange for a request made with a callback (FastPool.requestCallback): its `resolve` is one shared
 * function that calls the callback back with the context kept here, instead of a closure (and its context)
 * made per request: ~100 B less a request in flight with a signal or deadline.
 */
export class CallbackExchange extends Exchange {
  readonly callback: InferCallback<unknown, unknown>;
  readonly context: unknown;

  constructor(options: FastRequest, finish: ExchangeFinish<unknown>, owner: { onSettled(ex: Exchange): void }, callback: InferCallback<unknown, unknown>, context: unknown) {
    super(options, finish, owner);
    this.callback = callback;
    this.context = context;
    this.resolve = deliverToCallback as (r: unknown) => void;
  }

  /** Exchange.compact for a request made with a callback. */
  static compactCallback(
    prefix: Uint8Array,
    body: RequestBody,
    finish: ExchangeFinish<unknown>,
    callback: InferCallback<unknown, unknown>,
    context: unknown,
    owner: { onSettled(ex: Exchange): void },
    timeoutMs: number | undefined,
    signal: AbortSignal | null,
  ): CallbackExchange {
    return new CallbackExchange({ method: "POST", path: "", headers: null, body, signal, prefix, timeoutMs }, finish, owner, callback, context);
  }
}

/** CallbackExchange's `resolve` (called as this.resolve(r)): a failure comes as a rejected promise (Exchange.fail). */
function deliverToCallback(this: CallbackExchange, r: unknown): void {
  const callback = this.callback;
  const context = this.context;
  if (r instanceof Promise)
    r.then(
      (value: unknown) => callBack(callback, null, value, context),
      (error: unknown) => callBack(callback, error, undefined, context),
    );
  else callBack(callback, null, r, context);
}

/** Copies a byte body (one view or several) into `out` from `off`. */
function copyBodyInto(out: Buffer, off: number, body: Exclude<RequestBody, string>): void {
  if (ArrayBuffer.isView(body)) out.set(bytesOf(body), off);
  else if (body !== null) {
    for (let i = 0; i < body.length; i++) {
      const part = body[i]!;
      out.set(bytesOf(part), off);
      off += part.byteLength;
    }
  }
}

/** Writes the body's own chunks to a corked socket (no joined copy). */
function writeBodyParts(socket: Socket, body: RequestBody): void {
  if (typeof body === "string") socket.write(body, "utf8");
  else if (ArrayBuffer.isView(body)) socket.write(bytesOf(body));
  else if (body !== null) for (let i = 0; i < body.length; i++) socket.write(bytesOf(body[i]!));
}

/** Writes a request whose head (and JSON header) are ready as bytes: see FastRequest.prefix. */
function writeWithPrefix(socket: Socket, prefix: Uint8Array, body: RequestBody): void {
  const bodyLength = bodyByteLength(body);
  if (prefix.byteLength + bodyLength > ONE_WRITE_LIMIT || typeof body === "string") {
    socket.cork();
    socket.write(prefix);
    writeBodyParts(socket, body);
    socket.uncork();
    return;
  }
  const out = Buffer.allocUnsafe(prefix.byteLength + bodyLength);
  out.set(prefix, 0);
  copyBodyInto(out, prefix.byteLength, body);
  socket.write(out);
}
