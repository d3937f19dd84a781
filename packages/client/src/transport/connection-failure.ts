// Tells failures of the connection apart from answers of the server, which decides what may be retried
// or sent to another endpoint: a request that never left the client is always safe to send again, one
// whose connection broke afterwards may have been executed.
import type { InferenceError } from "../errors.ts";

/**
 * "not_sent": no connection could be made, so the server never saw the request (refused, unresolvable,
 * unreachable, connect timeout; grpc-js "No connection established").
 * "lost": the connection broke before an answer arrived (reset, closed by the peer, broken pipe); the
 * server may or may not have executed the request.
 */
export type ConnectionFailure = "not_sent" | "lost";

// Node socket and undici codes, read from the error's cause chain.
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
]);
const LOST_CODES = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "ERR_HTTP2_STREAM_ERROR", "ERR_HTTP2_SESSION_ERROR"]);

const GRPC_UNAVAILABLE = 14;
// grpc-js fails a call with this prefix when its channel has no ready connection: nothing was written.
const GRPC_NOT_CONNECTED = "No connection established";

interface CauseLike {
  code?: unknown;
  details?: unknown;
  metadata?: { getMap?: () => Record<string, unknown> };
  errors?: unknown;
  cause?: unknown;
}

function nodeCode(cause: unknown): string | undefined {
  for (let c = cause as CauseLike | undefined, depth = 0; c && typeof c === "object" && depth < 4; c = c.cause as CauseLike, depth++) {
    if (typeof c.code === "string") return c.code;
    // net's happy-eyeballs connect (autoSelectFamily) reports an AggregateError of per-address errors.
    if (Array.isArray(c.errors)) {
      const inner = c.errors.find((x: CauseLike) => typeof x?.code === "string") as CauseLike | undefined;
      if (inner) return inner.code as string;
    }
  }
  return undefined;
}

/** The connection-level failure behind `error`, or undefined when the server answered (any status). */
export function connectionFailure(error: InferenceError): ConnectionFailure | undefined {
  if (error.code !== "unavailable" || error.httpStatus !== undefined) return undefined;
  const cause = error.cause as CauseLike | undefined;
  if (error.grpcCode !== undefined) {
    if (error.grpcCode !== GRPC_UNAVAILABLE) return undefined;
    const details = typeof cause?.details === "string" ? cause.details : error.message;
    if (details.startsWith(GRPC_NOT_CONNECTED)) return "not_sent";
    // A server's own UNAVAILABLE (e.g. a full queue) carries its response headers; grpc-js's local
    // errors for a dropped connection carry none.
    const headers = cause?.metadata?.getMap?.();
    return headers && Object.keys(headers).length > 0 ? undefined : "lost";
  }
  const code = nodeCode(cause);
  if (code === undefined) return undefined;
  if (NOT_SENT_CODES.has(code)) return "not_sent";
  if (LOST_CODES.has(code)) return "lost";
  return undefined;
}
