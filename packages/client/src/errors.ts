// The one error type of @iaas/client: every failure (server status, transport, cancellation, bad input)
// surfaces as an InferenceError whose `code` is one of a closed set, whichever protocol was used.

/** gRPC's canonical status codes, in snake case; HTTP statuses map onto them. */
export const ERROR_CODES = [
  "cancelled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface InferenceErrorOptions {
  httpStatus?: number;
  grpcCode?: number;
  cause?: unknown;
  /** Attempts made before giving up (retries and endpoint fail-over included); default 1. */
  attempts?: number;
}

export class InferenceError extends Error {
  readonly code: ErrorCode;
  /** HTTP status of the server's answer, when the error came from one. */
  readonly httpStatus: number | undefined;
  /** gRPC status code, when the error came from a gRPC call. */
  readonly grpcCode: number | undefined;
  /** How many attempts the call made before failing (1 unless it was retried or failed over). */
  readonly attempts: number;

  constructor(code: ErrorCode, message: string, options: InferenceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "InferenceError";
    this.code = code;
    this.httpStatus = options.httpStatus;
    this.grpcCode = options.grpcCode;
    this.attempts = options.attempts ?? 1;
  }

  /** Normalises anything thrown by a transport (undici, grpc-js, abort, timeout) into an InferenceError. */
  static from(error: unknown): InferenceError {
    if (error instanceof InferenceError) return error;
    if (isGrpcServiceError(error)) {
      return new InferenceError(codeForGrpcStatus(error.code), error.details || error.message, {
        grpcCode: error.code,
        cause: error,
      });
    }
    if (error instanceof Error || isDomException(error)) {
      const e = error as Error & { code?: unknown };
      const code = codeForErrorName(e.name, typeof e.code === "string" ? e.code : undefined);
      return new InferenceError(code, e.message || e.name, { cause: error });
    }
    return new InferenceError("unknown", String(error), { cause: error });
  }
}

function isDomException(e: unknown): e is DOMException {
  return typeof DOMException !== "undefined" && e instanceof DOMException;
}

function isGrpcServiceError(e: unknown): e is Error & { code: number; details: string } {
  return (
    e instanceof Error &&
    typeof (e as { code?: unknown }).code === "number" &&
    typeof (e as { details?: unknown }).details === "string"
  );
}

// Index = gRPC status number.
// ERROR_CODES lists gRPC's codes 1..16 in order, so a gRPC status indexes this table directly.
const GRPC_CODES: readonly ErrorCode[] = ["unknown" /* 0 = OK never reaches an error */, ...ERROR_CODES];

/** Error code for a gRPC status number. */
export function codeForGrpcStatus(status: number): ErrorCode {
  return GRPC_CODES[status] ?? "unknown";
}

/** gRPC status number for an error code. */
export function grpcStatusForCode(code: ErrorCode): number {
  return code === "unknown" ? 2 : GRPC_CODES.indexOf(code);
}

/** Error code for an HTTP error status (Triton maps most argument errors to 400). */
export function codeForHttpStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return "invalid_argument";
    case 401:
      return "unauthenticated";
    case 403:
      return "permission_denied";
    case 404:
      return "not_found";
    case 405:
    case 501:
      return "unimplemented";
    case 408:
    case 504:
      return "deadline_exceeded";
    case 409:
      return "already_exists";
    case 412:
      return "failed_precondition";
    case 413:
    case 429:
      return "resource_exhausted";
    case 499:
      return "cancelled";
    case 500:
      return "internal";
    case 502:
    case 503:
      return "unavailable";
  }
  if (status >= 400 && status < 500) return "invalid_argument";
  if (status >= 500 && status < 600) return "internal";
  return "unknown";
}

// undici error codes (UND_ERR_*) and Node socket errors.
const NODE_CODES: Readonly<Record<string, ErrorCode>> = {
  UND_ERR_ABORTED: "cancelled",
  ABORT_ERR: "cancelled",
  UND_ERR_CONNECT_TIMEOUT: "unavailable",
  UND_ERR_HEADERS_TIMEOUT: "deadline_exceeded",
  UND_ERR_BODY_TIMEOUT: "deadline_exceeded",
  UND_ERR_SOCKET: "unavailable",
  UND_ERR_CLOSED: "failed_precondition",
  UND_ERR_DESTROYED: "failed_precondition",
  UND_ERR_INVALID_ARG: "invalid_argument",
  UND_ERR_REQ_CONTENT_LENGTH_MISMATCH: "internal",
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: "data_loss",
  UND_ERR_RES_EXCEEDED_MAX_SIZE: "resource_exhausted",
  UND_ERR_INFO: "internal",
  UND_ERR_NOT_SUPPORTED: "unimplemented",
  ECONNREFUSED: "unavailable",
  ECONNRESET: "unavailable",
  EPIPE: "unavailable",
  ENOTFOUND: "unavailable",
  EAI_AGAIN: "unavailable",
  EHOSTUNREACH: "unavailable",
  ENETUNREACH: "unavailable",
  ETIMEDOUT: "deadline_exceeded",
};

function codeForErrorName(name: string, code: string | undefined): ErrorCode {
  if (code !== undefined && NODE_CODES[code]) return NODE_CODES[code];
  if (name === "AbortError") return "cancelled";
  if (name === "TimeoutError") return "deadline_exceeded";
  if (name === "TypeError" || name === "RangeError") return "invalid_argument";
  return "unknown";
}

/** Builds the error for an HTTP error answer; `body` is the raw response text ({"error": "..."} usually). */
export function httpError(status: number, body: string): InferenceError {
  let message = body.trim();
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed !== null && typeof parsed === "object" && typeof (parsed as { error?: unknown }).error === "string")
      message = (parsed as { error: string }).error;
  } catch {
    // not JSON: keep the text as it is
  }
  return new InferenceError(codeForHttpStatus(status), message || `HTTP ${status}`, { httpStatus: status });
}
