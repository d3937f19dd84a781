// When the fast HTTP/1.1 path serves a transport, and with what settings. It covers the options the
// client itself defines (TLS / mutual TLS, connections, keep-alive, connect / headers / body timeouts);
// pipelining and raw undici Pool options (`http.pool`) are undici features, so they keep undici.
import net from "node:net";
import type { ConnectionOptions } from "node:tls";
import type { ClientTlsOptions, HttpConnectionOptions } from "../../../connection-options.ts";
import type { FastPoolSettings } from "./pool.ts";

/** undici's defaults, kept so that the two paths behave alike. */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_KEEP_ALIVE_MS = 60_000;
const DEFAULT_KEEP_ALIVE_MAX_MS = 600_000;
const DEFAULT_HEADERS_TIMEOUT_MS = 300_000;
const DEFAULT_BODY_TIMEOUT_MS = 300_000;

export interface FastPathInput {
  url: URL;
  connections: number | undefined;
  connectTimeoutMs: number | undefined;
  tls: ClientTlsOptions | undefined;
  /** Already validated by poolOptions. */
  http: HttpConnectionOptions | undefined;
}

/** Why the fast path cannot serve these options, or undefined when it can. */
export function fastPathExclusion(http: HttpConnectionOptions | undefined): string | undefined {
  if (http?.pool !== undefined) return "http.pool passes raw undici Pool options";
  if (http?.pipelining !== undefined && http.pipelining !== 1) return "http.pipelining is not 1";
  return undefined;
}

/** The fast pool's settings, or undefined when undici must serve the transport (see fastPathExclusion). */
export function fastPoolSettings(input: FastPathInput): FastPoolSettings | undefined {
  const h = input.http;
  if (fastPathExclusion(h) !== undefined) return undefined;
  const url = input.url;
  const secure = url.protocol === "https:";
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  let tls: ConnectionOptions | undefined;
  if (secure) {
    const t = input.tls ?? {};
    tls = { ALPNProtocols: ["http/1.1"] };
    if (t.ca !== undefined) tls.ca = t.ca;
    if (t.cert !== undefined) tls.cert = t.cert;
    if (t.key !== undefined) tls.key = t.key;
    if (t.rejectUnauthorized !== undefined) tls.rejectUnauthorized = t.rejectUnauthorized;
    // SNI carries host names only, never IP addresses.
    const servername = t.servername ?? (net.isIP(hostname) === 0 ? hostname : undefined);
    if (servername !== undefined) tls.servername = servername;
  }
  return {
    connections: input.connections ?? 64,
    hostname,
    port: url.port === "" ? (secure ? 443 : 80) : Number(url.port),
    host: url.host,
    tls,
    connectTimeoutMs: input.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    keepAliveTimeoutMs: h?.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_MS,
    keepAliveMaxTimeoutMs: h?.keepAliveMaxTimeoutMs ?? DEFAULT_KEEP_ALIVE_MAX_MS,
    headersTimeoutMs: h?.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
    bodyTimeoutMs: h?.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
  };
}
