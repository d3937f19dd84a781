// One keep-alive HTTP/1.1 connection of the fast path (node:net or node:tls): one request at a time,
// responses read by ResponseParser and collected here (status, headers, body) for the request's Exchange,
// so that a request holds no answer state while it waits. Socket handlers are bound once per connection,
// not per request.
import net from "node:net";
import tls from "node:tls";
import { bodyTimeout, connectTimeout, headersTimeout, otherSideClosed } from "./errors.ts";
import type { CollectedResponse } from "../dispatch.ts";
import { bodyAssembly } from "../dispatch.ts";
import type { Exchange } from "./exchange.ts";
import { ResponseParseError, ResponseParser, type ResponseHeaders, type ResponseSink } from "./response-parser.ts";

export interface ConnectionSettings {
  /** Host name or IP address to connect to (IPv6 without brackets). */
  hostname: string;
  port: number;
  /** The Host header and the address named in errors: host:port as in the URL. */
  host: string;
  /** TLS options for tls.connect; undefined for plaintext. */
  tls: tls.ConnectionOptions | undefined;
  connectTimeoutMs: number;
  /** Idle time before a kept-alive connection is dropped; a server's Keep-Alive hint may shorten it. */
  keepAliveTimeoutMs: number;
  /** Cap on the server's Keep-Alive hint. */
  keepAliveMaxTimeoutMs: number;
  /** 0: none. */
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
}

/** What a connection tells its pool. */
export interface ConnectionOwner {
  /** Connected (TLS handshake included): give it work or park it. */
  onReady(conn: FastConnection): void;
  /** Done with a response and reusable: give it work or park it. */
  onIdle(conn: FastConnection): void;
  /** The socket is gone. `exchange`: the request it was carrying, if any; `error`: why. */
  onGone(conn: FastConnection, exchange: Exchange | undefined, error: Error | undefined): void;
}

// A server's "Keep-Alive: timeout=N" is honoured this much early, so that a request is never sent on a
// connection the server is just closing (undici's keepAliveTimeoutThreshold, same default).
const KEEP_ALIVE_MARGIN_MS = 2000;
const KEEP_ALIVE_HINT = /timeout\s*=\s*(\d+)/i;

// Plaintext sockets read into one buffer shared by every connection (net's `onread`): no Buffer per read
// and no Readable stream machinery per response, which is most of Node's own per-request cost. Each
// read is parsed before the callback returns, so sharing is safe; whatever outlives the callback (body
// chunks, split heads) is copied by the parser and Exchange (`transient`).
const READ_BUFFER_BYTES = 64 * 1024;
let sharedReadBuffer: Buffer | undefined;
const NO_HEADERS: ResponseHeaders = Object.freeze({});

export class FastConnection implements ResponseSink {
  readonly socket: net.Socket;
  readonly #owner: ConnectionOwner;
  readonly #settings: ConnectionSettings;
  readonly #parser: ResponseParser;
  #exchange: Exchange | undefined = undefined;
  #connectTimer: NodeJS.Timeout | undefined;
  #error: Error | undefined = undefined;
  #gone = false;
  /** The server ended its side ('end'); tracked here because Readable's getters cost per request. */
  #ended = false;
  #headReceived = false;
  /** Response bytes received for the request on the connection now. */
  #gotBytes = false;
  /** The answer is complete and the connection may carry the next request. */
  #reusable = false;
  /** The answer being read: status, headers, and the body as an assembly buffer or chunks. */
  #status = 0;
  #headers: ResponseHeaders = NO_HEADERS;
  #chunks: Buffer[] | undefined = undefined;
  #assembly: Buffer | undefined = undefined;
  #filled = 0;
  /** The Keep-Alive header last applied (servers repeat the same one). */
  #lastHint: string | undefined = undefined;
  ready = false;
  /** Read chunks are views of the shared read buffer, valid only while they are parsed. */
  readonly transient: boolean;
  /** Responses completed on this connection (a reused connection has served at least one). */
  served = 0;
  /** performance.now() when it went idle. */
  idleSince = 0;
  keepAliveMs: number;

  constructor(owner: ConnectionOwner, settings: ConnectionSettings) {
    this.#owner = owner;
    this.#settings = settings;
    this.keepAliveMs = settings.keepAliveTimeoutMs;
    this.#parser = new ResponseParser(this, settings.tls === undefined);
    const options = { host: settings.hostname, port: settings.port, noDelay: true };
    this.transient = settings.tls === undefined;
    if (settings.tls !== undefined) {
      this.socket = tls.connect({ ...settings.tls, ...options });
      this.socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    } else {
      const buffer = (sharedReadBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES));
      this.socket = net.connect({ ...options, onread: { buffer, callback: (n: number, buf: Uint8Array) => this.#onRead(n, buf as Buffer) } });
    }
    this.socket.once(settings.tls ? "secureConnect" : "connect", () => this.#onConnect());
    this.socket.on("end", () => this.#onEnd());
    this.socket.on("error", (err: Error) => {
      this.#error ??= err;
    });
    this.socket.on("close", () => this.#onClose());
    this.socket.on("timeout", () => this.#onTimeout());
    this.#connectTimer = setTimeout(() => {
      this.socket.destroy(connectTimeout(settings.host, settings.connectTimeoutMs));
    }, settings.connectTimeoutMs);
    this.#connectTimer.unref();
  }

  get busy(): boolean {
    return this.#exchange !== undefined;
  }

  /** Whether the socket can still carry a request (not closed or half-closed by the server). */
  get usable(): boolean {
    return !this.#gone && !this.#ended && !this.socket.destroyed;
  }

  #onConnect(): void {
    clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.ready = true;
    const s = this.#settings;
    // One inactivity timer per socket: it only matters while a request is on it (#onTimeout).
    const t = s.headersTimeoutMs === s.bodyTimeoutMs ? s.headersTimeoutMs : 0;
    if (t > 0) this.socket.setTimeout(t);
    this.#owner.onReady(this);
  }

  /** Sends `ex` on this (ready, idle) connection. */
  send(ex: Exchange): void {
    this.#exchange = ex;
    this.#headReceived = false;
    this.#gotBytes = false;
    this.#parser.expect(false);
    this.#chunks = undefined;
    this.#assembly = undefined;
    this.#filled = 0;
    ex.onAbort = this.#abortHandler;
    const s = this.#settings;
    if (s.headersTimeoutMs !== s.bodyTimeoutMs) this.socket.setTimeout(s.headersTimeoutMs);
    ex.write(this.socket, s.host);
  }

  /** The caller gave up on the request on this connection: the answer can no longer be read in order. */
  readonly #abortHandler = (ex: Exchange): void => {
    if (this.#exchange !== ex) return;
    this.#exchange = undefined;
    this.socket.destroy();
  };

  /** Drops the connection (idle expiry, pool close). */
  destroy(): void {
    this.socket.destroy();
  }

  #onRead(n: number, buf: Buffer): boolean {
    this.#onData(buf.subarray(0, n));
    return true;
  }

  #onData(chunk: Buffer): void {
    if (this.#exchange === undefined && !this.#parser.started) {
      // Bytes nobody asked for (e.g. a 408 on an idle connection): the connection cannot be trusted.
      this.socket.destroy();
      return;
    }
    this.#gotBytes = true;
    try {
      this.#parser.execute(chunk);
    } catch (e) {
      this.#reusable = false;
      this.socket.destroy(e instanceof ResponseParseError ? e : new ResponseParseError((e as Error).message));
      return;
    }
    if (this.#reusable) {
      this.#reusable = false;
      if (this.usable) this.#owner.onIdle(this);
    }
  }

  onHead(statusCode: number, headers: ResponseHeaders): void {
    const ex = this.#exchange;
    if (ex === undefined) throw new ResponseParseError(`a response (HTTP ${statusCode}) arrived with no request outstanding`);
    this.#headReceived = true;
    const s = this.#settings;
    if (s.headersTimeoutMs !== s.bodyTimeoutMs) this.socket.setTimeout(s.bodyTimeoutMs);
    const hint = headers["keep-alive"];
    if (typeof hint === "string" && hint !== this.#lastHint) {
      this.#lastHint = hint;
      const m = KEEP_ALIVE_HINT.exec(hint);
      if (m !== null) {
        // As undici: the hint, less the margin and capped, replaces keepAliveTimeoutMs; <= 0: no reuse.
        this.keepAliveMs = Math.min(Number(m[1]) * 1000 - KEEP_ALIVE_MARGIN_MS, s.keepAliveMaxTimeoutMs);
      }
    }
    this.#status = statusCode;
    this.#headers = headers;
    // Chunks of a shared read buffer must be copied anyway: copy them straight into the aligned body
    // (one copy, and the outputs are aligned views) instead of into chunks joined and aligned later.
    this.#assembly = bodyAssembly(headers, this.transient ? 1 : undefined);
    this.#filled = 0;
    this.#chunks = undefined;
  }

  onBody(chunk: Buffer): void {
    if (this.#exchange === undefined) return;
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

  onComplete(keepAlive: boolean): void {
    const ex = this.#exchange;
    this.#exchange = undefined;
    this.served++;
    if (ex !== undefined) {
      const a = this.#assembly;
      const body = a !== undefined ? [a.byteLength === this.#filled ? a : a.subarray(0, this.#filled)] : (this.#chunks ?? []);
      const response: CollectedResponse = { statusCode: this.#status, headers: this.#headers, body };
      this.#assembly = undefined;
      this.#chunks = undefined;
      this.#headers = NO_HEADERS;
      ex.complete(response);
    }
    // Handed back to the pool once the whole socket chunk is parsed (#onData): bytes after the end of
    // this answer must not be taken for the answer to a request sent in between.
    // An answer that came before the whole request body was written (an early 413, say) leaves the rest
    // of that body queued on the socket: it cannot carry another request.
    if (keepAlive && this.keepAliveMs > 0 && this.socket.writableLength === 0) this.#reusable = true;
    else this.socket.destroy();
  }

  #onEnd(): void {
    this.#ended = true;
    // A body that runs until the connection closes is complete now.
    if (this.#exchange !== undefined && this.#parser.readsUntilClose) this.#parser.finish();
  }

  #onTimeout(): void {
    if (this.#exchange === undefined) return; // idle: keep-alive expiry is the pool's business
    const s = this.#settings;
    this.socket.destroy(this.#headReceived ? bodyTimeout(s.bodyTimeoutMs) : headersTimeout(s.headersTimeoutMs));
  }

  #onClose(): void {
    if (this.#gone) return;
    this.#gone = true;
    clearTimeout(this.#connectTimer);
    const ex = this.#exchange;
    this.#exchange = undefined;
    let error = this.#error;
    if (ex !== undefined && error === undefined) error = otherSideClosed(this.#settings.host);
    this.#owner.onGone(this, ex, error);
  }

  /** The request on the connection when it closed may be sent again: nothing of an answer had arrived. */
  get answeredNothing(): boolean {
    return !this.#gotBytes;
  }
}
