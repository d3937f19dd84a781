// The client's own HTTP/2 connection to one gRPC endpoint (grpc.implementation "iaas-h2"): one WireSession
// at a time, opened on first use and replaced once it dies (GOAWAY, closed, failed, stream ids used up);
// streams already on a dying session finish there. Same surface as the node:http2 path's H2Connection, so
// H2UnaryClient drives either.
import net from "node:net";
import type { ConnectionOptions } from "node:tls";
import type { ClientTlsOptions } from "../../../connection-options.ts";
import type { H2ConnectionOptions } from "../h2/connection.ts";
import { boundedWait } from "../h2/bounded-wait.ts";
import { WireSession, type PendingCall, type SessionOwner, type WireSessionOptions } from "./session.ts";
import type { WireCall } from "./wire-call.ts";

/** host:port (IPv6 literals in brackets) -> hostname and port. */
function splitAddress(address: string, secure: boolean): { hostname: string; port: number } {
  const u = new URL(`${secure ? "https" : "http"}://${address}`);
  const hostname = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  return { hostname, port: u.port !== "" ? Number(u.port) : secure ? 443 : 80 };
}

function tlsOptions(hostname: string, t: ClientTlsOptions | undefined): ConnectionOptions {
  const o: ConnectionOptions = {};
  if (t?.ca !== undefined) o.ca = t.ca;
  if (t?.cert !== undefined && t.key !== undefined) {
    o.cert = t.cert;
    o.key = t.key;
  }
  if (t?.rejectUnauthorized !== undefined) o.rejectUnauthorized = t.rejectUnauthorized;
  // SNI carries host names only, never IP addresses.
  const servername = t?.servername || (net.isIP(hostname) === 0 ? hostname : undefined);
  if (servername !== undefined) o.servername = servername;
  return o;
}

export class WireConnection implements SessionOwner {
  readonly #options: WireSessionOptions;
  #session: WireSession | undefined;
  #closed = false;
  #waiters: (() => void)[] = [];

  /** `firstStreamId`: see WireSessionOptions (tests). */
  constructor(options: H2ConnectionOptions & { firstStreamId?: number | undefined }) {
    const { hostname, port } = splitAddress(options.address, options.secure);
    this.#options = {
      hostname,
      port,
      tls: options.secure ? tlsOptions(hostname, options.tls) : undefined,
      keepaliveTimeMs: options.keepaliveTimeMs,
      keepaliveTimeoutMs: options.keepaliveTimeoutMs,
      keepalivePermitWithoutCalls: options.keepalivePermitWithoutCalls,
      firstStreamId: options.firstStreamId,
    };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The live session, opening a new one when there is none or the last one can take no more calls. */
  session(): WireSession {
    let s = this.#session;
    if (s === undefined || s.dead) {
      s = new WireSession(this, this.#options);
      this.#session = s;
    }
    return s;
  }

  /** Starts `call` with its request (header list, message chunks) on the live session. */
  start(call: WireCall<unknown>, headers: readonly string[], chunks: readonly Uint8Array[]): void {
    const s = this.session();
    call.session = s;
    s.start(call, headers, chunks);
  }

  restart(calls: PendingCall[]): void {
    for (const p of calls) {
      p.call.id = 0;
      if (p.call.settled) continue;
      this.start(p.call, p.headers, p.chunks);
    }
  }

  settled(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /**
   * Waits (bounded) for the HTTP/2 handshake before a call goes out; a session that fails is not waited
   * on (the call then fails with its reason). Rejects with `onTimeout()` or, on abort, `onAbort()`.
   */
  awaitEstablished(timeoutMs: number, onTimeout: () => Error, signal?: AbortSignal, onAbort?: () => Error): Promise<void> {
    const s = this.session();
    if (s.established) return Promise.resolve();
    return boundedWait(timeoutMs, onTimeout, signal, onAbort, (done) => {
      const check = (): void => {
        if (s.established || s.dead) done();
        else this.#waiters.push(check);
      };
      check();
    });
  }

  /** Graceful: calls in flight finish, new calls are refused by the transport. */
  close(): void {
    this.#closed = true;
    const s = this.#session;
    this.#session = undefined;
    s?.close();
  }
}
