// gRPC statuses as the node:http2 path reports them: errors shaped like grpc-js's ServiceError (numeric
// `code`, `details`, `metadata.getMap()`), so InferenceError.from, connectionFailure and describeGrpcFailure
// treat both implementations alike, and the same mapping grpc-js applies to HTTP statuses and RST_STREAM.
import { constants, type IncomingHttpHeaders } from "node:http2";

export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  PERMISSION_DENIED: 7,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** grpc-js's prefix for calls that failed before any connection existed (read by connectionFailure). */
export const NOT_CONNECTED = "No connection established";

/** The response headers / trailers a status came with, as grpc-js's Metadata exposes them. */
export class HeaderMetadata {
  readonly #map: Record<string, string | string[]>;

  constructor(map: Record<string, string | string[]>) {
    this.#map = map;
  }

  getMap(): Record<string, string | string[]> {
    return this.#map;
  }
}

export interface GrpcStatusError extends Error {
  code: number;
  details: string;
  metadata: HeaderMetadata;
}

export function statusError(code: number, details: string, metadata: Record<string, string | string[]> = {}, cause?: unknown): GrpcStatusError {
  const e = new Error(`${code} ${STATUS_NAMES[code] ?? "UNKNOWN"}: ${details}`, cause === undefined ? undefined : { cause }) as GrpcStatusError;
  e.code = code;
  e.details = details;
  e.metadata = new HeaderMetadata(metadata);
  return e;
}

const STATUS_NAMES: Record<number, string> = {
  0: "OK",
  1: "CANCELLED",
  2: "UNKNOWN",
  3: "INVALID_ARGUMENT",
  4: "DEADLINE_EXCEEDED",
  5: "NOT_FOUND",
  6: "ALREADY_EXISTS",
  7: "PERMISSION_DENIED",
  8: "RESOURCE_EXHAUSTED",
  9: "FAILED_PRECONDITION",
  10: "ABORTED",
  11: "OUT_OF_RANGE",
  12: "UNIMPLEMENTED",
  13: "INTERNAL",
  14: "UNAVAILABLE",
  15: "DATA_LOSS",
  16: "UNAUTHENTICATED",
};

/** grpc-message is percent-encoded (gRPC spec); a malformed encoding is shown as received. */
export function decodeGrpcMessage(raw: string | string[] | undefined): string {
  const text = Array.isArray(raw) ? raw.join(",") : (raw ?? "");
  if (!text.includes("%")) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** User-visible headers of a response (pseudo-headers dropped), for the error's metadata. */
export function headerMap(headers: IncomingHttpHeaders | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (!headers) return out;
  for (const k of Object.keys(headers)) {
    if (k.charCodeAt(0) === 58 /* ':' */) continue;
    const v = headers[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** The status of a response whose headers or trailers carry grpc-status; undefined when absent. */
export function statusFromHeaders(headers: IncomingHttpHeaders): { code: number; details: string } | undefined {
  const raw = headers["grpc-status"];
  if (raw === undefined) return undefined;
  const code = Number(Array.isArray(raw) ? raw[0] : raw);
  const details = decodeGrpcMessage(headers["grpc-message"]);
  if (!Number.isInteger(code) || code < 0 || code > 16) return { code: Status.UNKNOWN, details: details || `invalid grpc-status ${String(raw)}` };
  return { code, details };
}

/** A non-200 HTTP status without grpc-status, mapped as in gRPC's http-grpc-status-mapping.md. */
export function statusForHttp(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return Status.INTERNAL;
    case 401:
      return Status.UNAUTHENTICATED;
    case 403:
      return Status.PERMISSION_DENIED;
    case 404:
      return Status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return Status.UNAVAILABLE;
    default:
      return Status.UNKNOWN;
  }
}

/** A stream the server reset without a status (the session still alive), as grpc-js words it. */
export function statusForRstCode(rstCode: number): { code: number; details: string } {
  switch (rstCode) {
    case constants.NGHTTP2_REFUSED_STREAM:
      return { code: Status.UNAVAILABLE, details: "Stream refused by server" };
    case constants.NGHTTP2_CANCEL:
      return { code: Status.CANCELLED, details: "Call cancelled" };
    case constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return { code: Status.RESOURCE_EXHAUSTED, details: "Bandwidth exhausted or memory limit exceeded" };
    case constants.NGHTTP2_INADEQUATE_SECURITY:
      return { code: Status.PERMISSION_DENIED, details: "Protocol not secure enough" };
    default:
      return { code: Status.INTERNAL, details: `Received RST_STREAM with code ${rstCode}` };
  }
}

/** grpc-timeout header value: at most 8 digits and a unit (gRPC spec), rounded up. */
export function grpcTimeout(ms: number): string {
  const t = Math.max(0, Math.ceil(ms));
  if (t < 1e8) return `${t}m`;
  const s = Math.ceil(t / 1000);
  if (s < 1e8) return `${s}S`;
  return `${Math.min(99_999_999, Math.ceil(s / 3600))}H`;
}
