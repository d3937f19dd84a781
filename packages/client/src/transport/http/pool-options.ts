// undici Pool options from the client's connection, TLS and timeout settings.
import type { Pool } from "undici";
import type { ClientTlsOptions, HttpConnectionOptions } from "../../connection-options.ts";
import { InferenceError } from "../../errors.ts";
import { checkConnectTimeout, checkMs } from "../option-checks.ts";

export interface PoolSettings {
  connections?: number | undefined;
  connectTimeoutMs?: number | undefined;
  tls?: ClientTlsOptions | undefined;
  http?: HttpConnectionOptions | undefined;
}

export function poolOptions(s: PoolSettings): Pool.Options {
  const connections = s.connections ?? 64;
  if (!Number.isSafeInteger(connections) || connections < 1)
    throw new InferenceError("invalid_argument", `connections must be a positive integer, got ${connections}`);
  const h = s.http ?? {};
  const pipelining = h.pipelining ?? 1;
  if (!Number.isSafeInteger(pipelining) || pipelining < 0)
    throw new InferenceError("invalid_argument", `createClient: http.pipelining must be an integer >= 0, got ${String(h.pipelining)}`);
  checkMs("http.keepAliveTimeoutMs", h.keepAliveTimeoutMs, false);
  checkMs("http.keepAliveMaxTimeoutMs", h.keepAliveMaxTimeoutMs, false);
  checkMs("http.headersTimeoutMs", h.headersTimeoutMs);
  checkMs("http.bodyTimeoutMs", h.bodyTimeoutMs);
  checkConnectTimeout(s.connectTimeoutMs);

  const options: Pool.Options = { connections, pipelining, keepAliveTimeout: h.keepAliveTimeoutMs ?? 60_000 };
  if (h.keepAliveMaxTimeoutMs !== undefined) options.keepAliveMaxTimeout = h.keepAliveMaxTimeoutMs;
  if (h.headersTimeoutMs !== undefined) options.headersTimeout = h.headersTimeoutMs;
  if (h.bodyTimeoutMs !== undefined) options.bodyTimeout = h.bodyTimeoutMs;
  const connect: Record<string, unknown> = {};
  if (s.connectTimeoutMs !== undefined) connect.timeout = s.connectTimeoutMs;
  const tls = s.tls;
  if (tls) {
    if (tls.ca !== undefined) connect.ca = tls.ca;
    if (tls.cert !== undefined) connect.cert = tls.cert;
    if (tls.key !== undefined) connect.key = tls.key;
    if (tls.servername !== undefined) connect.servername = tls.servername;
    if (tls.rejectUnauthorized !== undefined) connect.rejectUnauthorized = tls.rejectUnauthorized;
  }
  if (Object.keys(connect).length > 0) options.connect = connect;
  return h.pool ? { ...options, ...h.pool } : options;
}
