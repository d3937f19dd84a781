// Readable errors for connections that could not be set up: TLS verification and handshake failures,
// plaintext/TLS mix-ups and refused connections name the server's address, say what went wrong and
// which option fixes it. The original error stays the cause (its code drives retry decisions).
import { InferenceError } from "../errors.ts";

export interface ConnectionTarget {
  /** e.g. "https://127.0.0.1:8000" or "grpcs://127.0.0.1:8001". */
  address: string;
  secure: boolean;
  /** A client certificate is configured. */
  clientCert: boolean;
}

interface Diagnosis {
  what: string;
  hint: string;
}

const UNTRUSTED = /SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_UNTRUSTED|CERT_REJECTED|self-signed certificate|unable to verify|unable to get (local )?issuer/i;

function diagnose(text: string, t: ConnectionTarget): Diagnosis | undefined {
  const http = t.address.startsWith("http");
  if (/wrong version number|packet length too long|WRONG_VERSION_NUMBER/i.test(text))
    return { what: "the server does not speak TLS on this port", hint: `connect with ${http ? "http://" : "grpc://"} and no tls option` };
  if (UNTRUSTED.test(text))
    return { what: "the server's certificate is not trusted", hint: "set tls.ca to the CA certificate that signed it" };
  if (/ALTNAME_INVALID|does not match certificate's altnames/i.test(text))
    return { what: "the server's certificate does not name this host", hint: "connect by a name the certificate lists, or set tls.servername" };
  if (/CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|certificate has expired|certificate is not yet valid/i.test(text))
    return { what: "the server's certificate is outside its validity period", hint: "renew the server certificate" };
  if (/alert certificate required|alert unknown ca|alert bad certificate|alert certificate unknown/i.test(text))
    return {
      what: "the server refused the TLS handshake over the client certificate",
      hint: t.clientCert ? "tls.cert must be signed by a CA the server trusts" : "the server requires mutual TLS: set tls.cert and tls.key",
    };
  // TLS 1.3 reports a refused client certificate after the client's side of the handshake is done, so it
  // often surfaces as a closed connection (undici) or a failed connection set-up (grpc-js).
  const closed = /other side closed|socket hang up|ECONNRESET|UND_ERR_SOCKET/i.test(text);
  const failed = !http && /^Failed to connect$/.test(text.trim());
  if (closed || failed) {
    const what = closed ? "the server closed the connection before answering" : "the connection was not established";
    if (t.secure && !t.clientCert) return { what, hint: "a server that requires mutual TLS does this when no client certificate is sent: set tls.cert and tls.key" };
    if (t.secure) return { what, hint: "if the server requires mutual TLS, check that tls.cert is signed by a CA it trusts" };
    return { what, hint: `if the port serves TLS, use ${http ? "https://" : "grpcs://"}` };
  }
  return undefined;
}

function codesOf(error: unknown): string {
  const parts: string[] = [];
  for (let c = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; c && typeof c === "object" && depth < 4; c = c.cause as typeof c, depth++)
    if (typeof c.code === "string") parts.push(c.code);
  return parts.join(" ");
}

/** OpenSSL's "40FD...:error:0A00045C:SSL routines:fn:reason:file:line:..." reduced to its reason. */
function cleanOpenSsl(message: string): string {
  return message.replace(/[0-9A-F]{8,}:error:[0-9A-F]+:SSL routines:[^:]*:([^:]+):[^\n]*\n?/g, "$1").trim();
}

function cleanGrpcDetails(message: string): string {
  return message.replace(/^No connection established\. Last error: /, "").replace(/\s*\(\d{4}-\d\d-\d\dT[^)]*\)/, "").replace(/\.?\s*Resolution note:\s*$/, "").replace(/^Error: /, "").trim();
}

/** HTTP: rewrites connection-level failures (no HTTP answer) into a message naming the server and the fix. */
export function describeHttpFailure(error: InferenceError, t: ConnectionTarget): InferenceError {
  if (error.httpStatus !== undefined || (error.code !== "unknown" && error.code !== "unavailable")) return error;
  const d = diagnose(`${codesOf(error.cause)} ${error.message}`, t);
  if (!d) return error;
  return new InferenceError("unavailable", `connection to ${t.address} failed: ${d.what} (${cleanOpenSsl(error.message)}); ${d.hint}`, { cause: error.cause ?? error });
}

/** gRPC: the same for grpc-js's "No connection established" UNAVAILABLE errors. */
export function describeGrpcFailure(error: InferenceError, t: ConnectionTarget): InferenceError {
  if (error.code !== "unavailable" || !error.message.startsWith("No connection established")) return error;
  const reason = cleanOpenSsl(cleanGrpcDetails(error.message));
  const d = diagnose(reason, t);
  const text = d ? `${d.what} (${reason}); ${d.hint}` : reason;
  return new InferenceError("unavailable", `No connection established to ${t.address}: ${text}`, { grpcCode: error.grpcCode, cause: error.cause ?? error });
}
