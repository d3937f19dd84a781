// The HTTP/2 connection of the node:http2 gRPC path: one ClientHttp2Session at a time, opened on first use
// and replaced once it closes, errs or receives GOAWAY (streams already on it finish there). Large flow-
// control windows let 100+ MB messages flow without stalling on 64 KiB windows; keepalive pings follow
// the grpc keepalive options; the session holds the event loop open only while calls are in flight.
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from "node:http2";
import type { ClientTlsOptions } from "../../../connection-options.ts";
import { pemBuffer } from "../../tls-options.ts";
import { boundedWait } from "./bounded-wait.ts";

/** Per-stream receive window (the server may send this much of an answer before we read any of it). */
const STREAM_WINDOW = 32 * 1024 * 1024;
/** Session receive window, shared by all streams. */
const SESSION_WINDOW = 256 * 1024 * 1024;
/** Largest DATA frame we accept (HTTP/2's maximum): fewer frames, and fewer chunks to handle, per large answer. */
const MAX_FRAME_SIZE = 16 * 1024 * 1024 - 1;
/** nghttp2's allowance for buffered frames per session, in MB; Node's default (10) refuses streams under deep queues. */
const MAX_SESSION_MEMORY_MB = 1 << 16;
/** grpc-js's default wait for a keepalive ping's answer. */
const DEFAULT_KEEPALIVE_TIMEOUT_MS = 20_000;

export interface H2ConnectionOptions {
  /** host:port */
  address: string;
  secure: boolean;
  tls?: ClientTlsOptions | undefined;
  keepaliveTimeMs?: number | undefined;
  keepaliveTimeoutMs?: number | undefined;
  keepalivePermitWithoutCalls?: boolean | undefined;
}

/** One HTTP/2 session and what the calls on it need to know about its state. */
export class H2Session {
  readonly h2: ClientHttp2Session;
  /** The server's SETTINGS arrived: it speaks HTTP/2 and has seen (or will see) what we send. */
  established = false;
  /** No new streams go here (closed, failed, or the server sent GOAWAY). */
  dead = false;
  /** The first session-level error (connect, TLS, reset). */
  error: Error | undefined;
  #active = 0;
  #waiters: (() => void)[] = [];
  #keepalive: NodeJS.Timeout | undefined;

  constructor(options: H2ConnectionOptions) {
    const tls = options.tls;
    const connectOptions: http2.SecureClientSessionOptions = {
      settings: { initialWindowSize: STREAM_WINDOW, maxFrameSize: MAX_FRAME_SIZE, enablePush: false },
      maxSessionMemory: MAX_SESSION_MEMORY_MB,
    };
    if (options.secure) {
      connectOptions.ALPNProtocols = ["h2"];
      const ca = pemBuffer(tls?.ca);
      if (ca) connectOptions.ca = ca;
      const cert = pemBuffer(tls?.cert);
      const key = pemBuffer(tls?.key);
      if (cert && key) {
        connectOptions.cert = cert;
        connectOptions.key = key;
      }
      if (tls?.servername !== undefined) connectOptions.servername = tls.servername;
      if (tls?.rejectUnauthorized !== undefined) connectOptions.rejectUnauthorized = tls.rejectUnauthorized;
    }
    const h2 = http2.connect(`${options.secure ? "https" : "http"}://${options.address}`, connectOptions);
    this.h2 = h2;
    h2.unref();
    h2.once("connect", () => {
      try {
        h2.setLocalWindowSize(SESSION_WINDOW);
      } catch {
        // The session closed in between; its calls fail through the close handler.
      }
    });
    h2.once("remoteSettings", () => {
      this.established = true;
      this.#wake();
    });
    h2.on("error", (e: Error) => {
      this.error ??= e;
      this.#retire();
    });
    h2.on("goaway", () => this.#retire());
    h2.once("close", () => {
      this.#retire();
      if (this.#keepalive) clearInterval(this.#keepalive);
    });
    if (options.keepaliveTimeMs !== undefined) this.#startKeepalive(options);
  }

  /**
   * Opens a call's stream; the session keeps the process alive while streams are open. The caller calls
   * streamClosed() once the stream emits "close" (its own close listener: no closure per stream here).
   */
  request(headers: OutgoingHttpHeaders | readonly string[], options: http2.ClientSessionRequestOptions): ClientHttp2Stream {
    const stream = this.h2.request(headers as OutgoingHttpHeaders, options);
    if (this.#active++ === 0) this.h2.ref();
    return stream;
  }

  /** One stream opened by request() closed. */
  streamClosed(): void {
    if (--this.#active === 0 && !this.h2.destroyed) this.h2.unref();
  }

  /** Resolves once the session is established or dead (whichever comes first). */
  settled(): Promise<void> {
    if (this.established || this.dead) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #retire(): void {
    this.dead = true;
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #startKeepalive(options: H2ConnectionOptions): void {
    const timeoutMs = options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS;
    this.#keepalive = setInterval(() => {
      if (this.dead || !this.established || (this.#active === 0 && !options.keepalivePermitWithoutCalls)) return;
      const timer = setTimeout(() => {
        this.error ??= new Error(`keepalive ping not answered within ${timeoutMs} ms (grpc.keepaliveTimeoutMs)`);
        this.h2.destroy(this.error);
      }, timeoutMs);
      timer.unref();
      try {
        this.h2.ping((err) => {
          clearTimeout(timer);
          if (err && !this.dead) this.h2.destroy(err);
        });
      } catch {
        clearTimeout(timer);
      }
    }, options.keepaliveTimeMs);
    this.#keepalive.unref();
  }
}

export class H2Connection {
  readonly #options: H2ConnectionOptions;
  #session: H2Session | undefined;
  #closed = false;

  constructor(options: H2ConnectionOptions) {
    this.#options = options;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The live session, opening a new one when there is none or the last one is retired. */
  session(): H2Session {
    let s = this.#session;
    if (s === undefined || s.dead) {
      s = new H2Session(this.#options);
      this.#session = s;
    }
    return s;
  }

  /**
   * Waits (bounded) for the HTTP/2 handshake before a call goes out; a session that fails is not waited
   * on (the call then fails with its reason). Rejects with `onTimeout()` or, on abort, `onAbort()`.
   */
  awaitEstablished(timeoutMs: number, onTimeout: () => Error, signal?: AbortSignal, onAbort?: () => Error): Promise<void> {
    const s = this.session();
    if (s.established) return Promise.resolve();
    return boundedWait(timeoutMs, onTimeout, signal, onAbort, (done) => void s.settled().then(done));
  }

  /** Graceful: calls in flight finish, new calls are refused by the transport. */
  close(): void {
    this.#closed = true;
    const s = this.#session;
    this.#session = undefined;
    if (s && !s.h2.destroyed) {
      if (s.established) s.h2.close();
      else s.h2.destroy();
    }
  }
}
