// The transport-level part of ClientOptions (TLS, auth hook, compression, connection tuning), in the
// shape both createHttpTransport and createGrpcTransport take, and the client's constant headers with
// static credentials folded in. One place, so every transport a client creates is set up alike.
import type { ClientOptions } from "../api.ts";
import type { AuthHook, ClientTlsOptions, Compression, GrpcConnectionOptions, HttpConnectionOptions } from "../connection-options.ts";
import { resolveAuth } from "./auth.ts";
import { checkTls } from "./tls-options.ts";

export interface WireOptions {
  tls?: ClientTlsOptions | undefined;
  authHook?: AuthHook | undefined;
  compression?: Compression | undefined;
  acceptCompression?: boolean | undefined;
  connectTimeoutMs?: number | undefined;
  http?: HttpConnectionOptions | undefined;
  grpc?: GrpcConnectionOptions | undefined;
  connections?: number | undefined;
}

export interface ResolvedWire {
  /** Spread into createHttpTransport / createGrpcTransport options next to `url`. */
  transport: WireOptions;
  /** Headers for every call: static credentials, overridden by the client's own `headers`. */
  headers: Record<string, string> | undefined;
}

export function resolveWire(options: ClientOptions): ResolvedWire {
  const auth = resolveAuth(options.auth);
  const headers = auth.headers ? { ...auth.headers, ...options.headers } : options.headers;
  return {
    transport: {
      tls: checkTls(options.tls),
      authHook: auth.hook,
      compression: options.compression,
      acceptCompression: options.acceptCompression,
      connectTimeoutMs: options.connectTimeoutMs,
      http: options.http,
      grpc: options.grpc,
      connections: options.connections,
    },
    headers: headers && Object.keys(headers).length > 0 ? headers : undefined,
  };
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** An HTTP base URL: a bare host:port gets https:// when TLS options are set, http:// otherwise. */
export function httpBaseUrl(url: string, tls: boolean): string {
  return SCHEME.test(url) ? url : `${tls ? "https" : "http"}://${url}`;
}
