// Errors of the fast HTTP/1.1 path. They carry undici's error codes on purpose: InferenceError.from,
// the retry layer's "not sent" / "lost" classification (connection-failure.ts) and the connection
// diagnostics (connection-errors.ts) read those codes, so both HTTP paths fail alike.

export type FastErrorCode =
  | "UND_ERR_SOCKET"
  | "UND_ERR_CONNECT_TIMEOUT"
  | "UND_ERR_HEADERS_TIMEOUT"
  | "UND_ERR_BODY_TIMEOUT"
  | "UND_ERR_CLOSED"
  | "UND_ERR_INVALID_ARG";

export class FastHttpError extends Error {
  readonly code: FastErrorCode;
  constructor(code: FastErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "FastHttpError";
    this.code = code;
  }
}

/** The server closed the connection before the whole answer arrived (undici: "other side closed"). */
export const otherSideClosed = (address: string): FastHttpError => new FastHttpError("UND_ERR_SOCKET", `other side closed (${address})`);

export const connectTimeout = (address: string, ms: number): FastHttpError =>
  new FastHttpError("UND_ERR_CONNECT_TIMEOUT", `Connect Timeout Error (attempted address: ${address}, timeout: ${ms} ms)`);

export const headersTimeout = (ms: number): FastHttpError => new FastHttpError("UND_ERR_HEADERS_TIMEOUT", `Headers Timeout Error: no response headers within ${ms} ms (http.headersTimeoutMs)`);

export const bodyTimeout = (ms: number): FastHttpError => new FastHttpError("UND_ERR_BODY_TIMEOUT", `Body Timeout Error: no response body bytes for ${ms} ms (http.bodyTimeoutMs)`);

export const clientClosed = (): FastHttpError => new FastHttpError("UND_ERR_CLOSED", "The client is closed");

/**
 * A queued request's body lost its bytes before a connection took it (the caller transferred the ArrayBuffer
 * under its input): its head already gives the length it had, so it is failed instead of sent.
 */
export const bodyDetached = (): FastHttpError =>
  new FastHttpError(
    "UND_ERR_INVALID_ARG",
    "request body detached: an input's ArrayBuffer was transferred while the request waited for a connection, so nothing was sent (a call's input data must stay in place until the call ends)",
  );
