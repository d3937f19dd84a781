// One request on the fast HTTP/1.1 path, from the caller's promise to the collected answer. The object
// is the promise's settler, the abort listener and the parser's body sink at once, so a request costs
// one allocation here besides the promise; the request head is serialised only when it is written, so
// a request waiting in the queue holds its body (views of the tensors) and nothing else.
import type { Socket } from "node:net";
import type { CollectedResponse, DispatchOptions } from "../dispatch.ts";
import { bodyAssembly } from "../dispatch.ts";
import { watchAbort, unwatchAbort, type AbortTarget } from "./abort-watch.ts";
import { FastHttpError } from "./errors.ts";
import type { ResponseHeaders } from "./response-parser.ts";

export type RequestBody = string | Uint8Array | readonly Uint8Array[] | null;

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
export interface FastRequest extends DispatchOptions {
  /**
   * The request line and every header but Content-Length, each line CRLF-terminated, already checked
   * (checkRequest) and with Host set: written as is, instead of being built from `headers` per request.
   */
  head?: string;
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
  if (body instanceof Uint8Array) return body.byteLength;
  let n = 0;
  for (let i = 0; i < body.length; i++) n += body[i]!.byteLength;
  return n;
}

export class Exchange implements AbortTarget {
  readonly method: DispatchOptions["method"];
  readonly path: string;
  readonly headers: Record<string, string> | null;
  readonly body: RequestBody;
  readonly signal: AbortSignal | null;
  readonly #head: string | undefined;
  readonly #finish: ExchangeFinish<unknown> | undefined;
  readonly #resolve: (r: unknown) => void;
  readonly #reject: (e: unknown) => void;
  readonly #owner: { onSettled(ex: Exchange): void };
  settled = false;
  /** Waiting in the pool's queue for a connection. */
  queued = false;
  /** Body chunks handed to onBody are reused after it returns (a shared read buffer): keep copies. */
  transient = false;
  /** Sent again once, on a fresh connection, after a reused one closed before answering (GET only). */
  retried = false;
  /** Called when the caller's signal fires while the request is on a connection. */
  onAbort: ((ex: Exchange) => void) | undefined = undefined;
  statusCode = 0;
  responseHeaders: ResponseHeaders = {};
  #chunks: Buffer[] | undefined = undefined;
  #assembly: Buffer | undefined = undefined;
  #filled = 0;

  constructor(
    options: FastRequest,
    finish: ExchangeFinish<unknown> | undefined,
    resolve: (r: unknown) => void,
    reject: (e: unknown) => void,
    owner: { onSettled(ex: Exchange): void },
  ) {
    this.#owner = owner;
    this.#head = options.head;
    this.#finish = finish;
    this.method = options.method;
    this.path = options.path;
    this.headers = options.headers;
    this.body = options.body as RequestBody;
    this.signal = options.signal;
    this.#resolve = resolve;
    this.#reject = reject;
    if (this.signal !== null) watchAbort(this.signal, this);
  }

  /** The caller's signal fired (abort-watch.ts). */
  aborted(): void {
    const reason = this.signal!.reason;
    const onAbort = this.onAbort;
    this.fail(reason);
    onAbort?.(this);
  }

  fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.onAbort = undefined;
    if (this.signal !== null) unwatchAbort(this.signal, this);
    this.#reject(this.#finish === undefined ? error : this.#finish.failed(error));
    this.#owner.onSettled(this);
  }

  /** Forgets what a first attempt received, before the request is sent again. */
  resetResponse(): void {
    this.statusCode = 0;
    this.responseHeaders = {};
    this.#chunks = undefined;
    this.#assembly = undefined;
    this.#filled = 0;
  }

  onHead(statusCode: number, headers: ResponseHeaders): void {
    this.statusCode = statusCode;
    this.responseHeaders = headers;
    // Chunks of a shared read buffer must be copied anyway: copy them straight into the aligned body
    // (one copy, and the outputs are aligned views) instead of into chunks joined and aligned later.
    this.#assembly = bodyAssembly(headers, this.transient ? 1 : undefined);
  }

  onBody(chunk: Buffer): void {
    const a = this.#assembly;
    if (a !== undefined && this.#filled + chunk.byteLength <= a.byteLength) {
      a.set(chunk, this.#filled);
      this.#filled += chunk.byteLength;
      return;
    }
    const chunks = (this.#chunks ??= []);
    if (a !== undefined) {
      chunks.push(a.subarray(0, this.#filled));
      this.#assembly = undefined;
    }
    chunks.push(this.transient ? Buffer.from(chunk) : chunk);
  }

  complete(): void {
    if (this.settled) return;
    this.settled = true;
    this.onAbort = undefined;
    if (this.signal !== null) unwatchAbort(this.signal, this);
    const body = this.#assembly !== undefined ? [this.#assembly.subarray(0, this.#filled)] : (this.#chunks ?? []);
    const response: CollectedResponse = { statusCode: this.statusCode, headers: this.responseHeaders, body };
    const finish = this.#finish;
    if (finish === undefined) this.#resolve(response);
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
      this.#resolve(result);
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
    head += this.body !== null || this.method === "POST" ? `content-length: ${bodyLength}\r\n\r\n` : "\r\n";
    return head;
  }

  /** Writes the request: small ones as one buffer in one write, large ones as the head then the body's own chunks. */
  write(socket: Socket, host: string): void {
    const body = this.body;
    const bodyLength = bodyByteLength(body);
    const head = this.#head !== undefined ? `${this.#head}content-length: ${bodyLength}\r\n\r\n` : this.#buildHead(host, bodyLength);
    // The head is latin1 (checked by checkRequest), so its byte length is its string length.
    const headLength = head.length;
    if (headLength + bodyLength <= ONE_WRITE_LIMIT) {
      const out = Buffer.allocUnsafe(headLength + bodyLength);
      out.write(head, 0, "latin1");
      if (typeof body === "string") out.write(body, headLength, "utf8");
      else if (body instanceof Uint8Array) out.set(body, headLength);
      else if (body !== null) {
        let off = headLength;
        for (let i = 0; i < body.length; i++) {
          out.set(body[i]!, off);
          off += body[i]!.byteLength;
        }
      }
      socket.write(out);
      return;
    }
    // Large bodies: no joined copy; cork so the head and the first chunks leave in one writev.
    socket.cork();
    socket.write(head, "latin1");
    if (typeof body === "string") socket.write(body, "utf8");
    else if (body instanceof Uint8Array) socket.write(body);
    else if (body !== null) for (let i = 0; i < body.length; i++) socket.write(body[i]!);
    socket.uncork();
  }
}
