// One HTTP request through undici's dispatch API, collecting the body chunks as they arrive. undici's
// request() wraps every response body in a Readable stream and its callbacks in an AsyncResource; for
// small infer calls that machinery costs more client CPU than the request itself (measured in
// bench/client-cpu.mjs), and the chunks are all we need.
import type { Dispatcher } from "undici";
import { HEADER_LENGTH } from "./infer-codec.ts";

/** Bodies at least this large (by Content-Length) are assembled as they arrive. */
const ASSEMBLE_FROM = 64 * 1024;

export interface DispatchOptions {
  method: "GET" | "POST";
  path: string;
  headers: Record<string, string> | null;
  /** A buffer, a string, or an iterable of chunks (sent in order). */
  body: string | Buffer | Iterable<Uint8Array> | null;
  signal: AbortSignal | null;
}

export interface CollectedResponse {
  statusCode: number;
  headers: Dispatcher.ResponseData["headers"];
  /** Body chunks as received (readBody joins them). */
  body: Buffer[];
}

/**
 * The buffer a large body (by Content-Length) is assembled in as it arrives, each chunk copied while
 * still in cache and then dropped, instead of holding every chunk and joining them at the end. Placed as
 * readBody would: the binary section of an infer response starts 8-byte aligned. Undefined for bodies
 * under `minBytes` or unannounced ones (collected as chunks).
 */
export function bodyAssembly(headers: Record<string, string | string[] | undefined>, minBytes = ASSEMBLE_FROM): Buffer | undefined {
  const length = Number(headers["content-length"]);
  if (!Number.isSafeInteger(length) || length < minBytes || length === 0) return undefined;
  const alignAt = Number(headers[HEADER_LENGTH]);
  const pad = headers["content-encoding"] === undefined && Number.isSafeInteger(alignAt) && alignAt >= 0 ? (8 - (alignAt % 8)) % 8 : 0;
  const buffer = Buffer.allocUnsafe(length + pad);
  return pad === 0 ? buffer : buffer.subarray(pad);
}

class Collector implements Dispatcher.DispatchHandler {
  statusCode = 0;
  headers: Dispatcher.ResponseData["headers"] = {};
  readonly chunks: Buffer[] = [];
  readonly resolve: (r: CollectedResponse) => void;
  readonly reject: (e: unknown) => void;
  readonly signal: AbortSignal | null;
  controller: Dispatcher.DispatchController | undefined;
  /** Set when the caller's signal fired; the request is aborted as soon as undici starts it. */
  reason: unknown = undefined;
  settled = false;
  /** The body, when Content-Length announced a large one; `filled` bytes received so far. */
  assembly: Buffer | undefined = undefined;
  filled = 0;

  constructor(resolve: (r: CollectedResponse) => void, reject: (e: unknown) => void, signal: AbortSignal | null) {
    this.resolve = resolve;
    this.reject = reject;
    this.signal = signal;
    if (signal) signal.addEventListener("abort", this, { once: true });
  }

  /** The signal's abort listener (an object listener avoids a closure per request). */
  handleEvent(): void {
    this.reason = this.signal!.reason;
    // A request still queued in the pool is rejected now, not when a connection frees up.
    this.finish(this.reason, undefined);
    this.controller?.abort(this.reason as Error);
  }

  finish(error: unknown, response: CollectedResponse | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.signal?.removeEventListener("abort", this, { once: true } as EventListenerOptions);
    if (response) this.resolve(response);
    else this.reject(error);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.reason !== undefined) {
      controller.abort(this.reason as Error);
      return;
    }
    this.controller = controller;
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: Dispatcher.ResponseData["headers"]): void {
    if (statusCode < 200) return; // 1xx informational: the real answer follows
    this.statusCode = statusCode;
    this.headers = headers;
    this.assembly = bodyAssembly(headers);
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    const a = this.assembly;
    if (a !== undefined && this.filled + chunk.byteLength <= a.byteLength) {
      a.set(chunk, this.filled);
      this.filled += chunk.byteLength;
      return;
    }
    if (a !== undefined) {
      // More bytes than Content-Length announced: keep what is there and collect the rest as chunks.
      this.chunks.push(a.subarray(0, this.filled));
      this.assembly = undefined;
    }
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    const body = this.assembly !== undefined ? [this.assembly.subarray(0, this.filled)] : this.chunks;
    this.finish(undefined, { statusCode: this.statusCode, headers: this.headers, body });
  }

  onResponseError(_c: Dispatcher.DispatchController, error: Error): void {
    this.finish(error, undefined);
  }
}

/** Sends one request and resolves with status, headers and body chunks; rejects on transport errors or abort. */
export function dispatchRequest(dispatcher: Dispatcher, options: DispatchOptions): Promise<CollectedResponse> {
  return new Promise<CollectedResponse>((resolve, reject) => {
    const { signal } = options;
    if (signal?.aborted) return reject(signal.reason);
    const handler = new Collector(resolve, reject, signal);
    try {
      dispatcher.dispatch(
        { method: options.method, path: options.path, headers: options.headers, body: options.body as string | Buffer | null },
        handler,
      );
    } catch (e) {
      handler.finish(e, undefined);
    }
  });
}
