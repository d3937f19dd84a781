// Client options for security and transport: TLS / mutual TLS, authentication headers, compression, and
// connection tuning for undici (HTTP) and grpc-js (gRPC). Referenced from ClientOptions in api.ts.
import type { ChannelOptions } from "@grpc/grpc-js";
import type { Pool } from "undici";
import type { Protocol } from "./api.ts";

/** PEM text or bytes. */
export type Pem = string | Buffer;

export interface ClientTlsOptions {
  /** CA certificate(s) (PEM) trusted for the server certificate, instead of the system roots. */
  ca?: Pem | Pem[];
  /** Client certificate chain (PEM) for mutual TLS; needs `key`. */
  cert?: Pem;
  /** Private key of `cert` (PEM, unencrypted). */
  key?: Pem;
  /** Name checked against the server certificate (and sent as SNI) instead of the URL's host. */
  servername?: string;
  /** Verify the server certificate (default true). `false` accepts any certificate: for tests only. */
  rejectUnauthorized?: boolean;
}

/** What an auth hook is told about the request it adds headers to. */
export interface AuthRequestContext {
  protocol: Protocol;
  /** HTTP: "GET" or "POST"; gRPC: the RPC name, e.g. "ModelInfer". */
  method: string;
  /** HTTP: the full request URL; gRPC: "grpc[s]://host:port/inference.GRPCInferenceService/<RPC>". */
  url: string;
}

/** Returns headers (gRPC: metadata) to add to one request; may be async (e.g. to refresh a token). */
export type AuthHook = (context: AuthRequestContext) => Record<string, string> | Promise<Record<string, string>>;

/** Authorization for every request, on both protocols (tritonclient's BasicAuth plugin and friends). */
export type ClientAuth = { bearer: string } | { basic: { username: string; password: string } } | AuthHook;

/** Request compression: HTTP Content-Encoding of request bodies; gRPC message compression. */
export type Compression = "gzip" | "deflate" | "none";

export interface HttpConnectionOptions {
  /** Requests in flight per connection (HTTP/1.1 pipelining; default 1 = none). */
  pipelining?: number;
  /** Idle keep-alive time of a connection in ms (default 60000). */
  keepAliveTimeoutMs?: number;
  /** Upper bound for a keep-alive time the server suggests, in ms (undici default 600000). */
  keepAliveMaxTimeoutMs?: number;
  /** Time to wait for response headers, in ms (undici default 300000; 0 disables). */
  headersTimeoutMs?: number;
  /** Time allowed between body chunks, in ms (undici default 300000; 0 disables). */
  bodyTimeoutMs?: number;
  /** Any other undici Pool option; applied last, over everything above. */
  pool?: Pool.Options;
}

export interface GrpcConnectionOptions {
  /**
   * What carries unary `infer` calls: "iaas-h2" (default), the client's own HTTP/2 connection on node:net /
   * node:tls sockets (least CPU per call; with request `compression` set, "http2" carries infer instead),
   * "http2", the client's own gRPC over node:http2 (fewer copies and less CPU per call than grpc-js), or
   * "grpc-js". Other RPCs and streams always use grpc-js. When this is left unset, setting
   * `channelOptions` selects grpc-js, since they only mean something there.
   */
  implementation?: "http2" | "iaas-h2" | "grpc-js";
  /** Interval of HTTP/2 keepalive pings in ms (grpc.keepalive_time_ms; default: no pings). */
  keepaliveTimeMs?: number;
  /** How long to wait for a ping's answer before closing the connection, in ms (grpc.keepalive_timeout_ms). */
  keepaliveTimeoutMs?: number;
  /** Ping also while no call is active (grpc.keepalive_permit_without_calls). */
  keepalivePermitWithoutCalls?: boolean;
  /** Any other grpc-js channel option; applied last, over everything above. */
  channelOptions?: ChannelOptions;
}
