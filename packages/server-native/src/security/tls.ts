// TLS for both front ends from one set of PEM material: node:https options for HTTP and grpc-js
// ServerCredentials for gRPC, so the two ports always present the same certificate and client policy.
import type { ServerOptions as HttpsServerOptions } from "node:https";
import * as grpc from "@grpc/grpc-js";

/** PEM text or bytes. */
export type Pem = string | Buffer;

export interface ServerTlsOptions {
  /** Server certificate chain (PEM), leaf first. */
  cert: Pem;
  /** Private key of `cert` (PEM, unencrypted). */
  key: Pem;
  /** CA bundle (PEM) that client certificates must chain to; setting it turns on mutual TLS. */
  ca?: Pem;
  /**
   * With `ca`: refuse clients that present no certificate signed by it (default true). `false` leaves
   * client certificates unrequested, i.e. plain TLS even with `ca` set. Without `ca`: must not be true.
   */
  requireClientCert?: boolean;
}

function pem(value: unknown, field: string): Buffer {
  if (Buffer.isBuffer(value)) {
    if (value.byteLength === 0) throw new TypeError(`tls.${field} is empty; expected PEM data`);
    return value;
  }
  if (typeof value === "string" && value.trim() !== "") return Buffer.from(value);
  throw new TypeError(`tls.${field} must be PEM text (string) or a Buffer, got ${value === undefined ? "nothing" : typeof value}`);
}

/** The checked material: buffers, and whether client certificates are required. */
export interface ResolvedTls {
  cert: Buffer;
  key: Buffer;
  ca: Buffer | undefined;
  mutual: boolean;
}

export function resolveTls(options: ServerTlsOptions): ResolvedTls {
  if (options === null || typeof options !== "object") throw new TypeError("tls must be an object { cert, key, ca?, requireClientCert? }");
  const cert = pem(options.cert, "cert");
  const key = pem(options.key, "key");
  const ca = options.ca === undefined ? undefined : pem(options.ca, "ca");
  if (options.requireClientCert === true && ca === undefined)
    throw new TypeError("tls.requireClientCert is true but tls.ca is not set: client certificates need a CA to be checked against");
  return { cert, key, ca, mutual: ca !== undefined && options.requireClientCert !== false };
}

export function httpsServerOptions(tls: ResolvedTls): HttpsServerOptions {
  const options: HttpsServerOptions = { cert: tls.cert, key: tls.key };
  if (tls.mutual) Object.assign(options, { ca: tls.ca, requestCert: true, rejectUnauthorized: true });
  return options;
}

export function grpcServerCredentials(tls: ResolvedTls | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(tls.mutual ? tls.ca! : null, [{ cert_chain: tls.cert, private_key: tls.key }], tls.mutual);
}
