// Servers implement different subsets of the protocol: KServe and MLServer lack Triton's extensions
// (repository, statistics, configuration, trace, logging). Calling one of those endpoints there answers
// HTTP 404 (FastAPI's {"detail": "Not Found"}) or gRPC UNIMPLEMENTED; the client reports both as one
// InferenceError of code "unimplemented" that names the endpoint, instead of a confusing "not found".
import { InferenceError, httpError } from "./errors.ts";

/** Whether a 4xx/5xx body is the server's own {"error": "..."} answer (as opposed to a missing route). */
function hasErrorField(body: string): boolean {
  try {
    const parsed: unknown = JSON.parse(body);
    return parsed !== null && typeof parsed === "object" && typeof (parsed as { error?: unknown }).error === "string";
  } catch {
    return false;
  }
}

/**
 * The error for an HTTP error answer from a Triton extension endpoint. 405 and 501 always mean the
 * endpoint is not served; so does a 404 on an endpoint without a model in its path. On a per-model
 * endpoint a 404 carrying the server's {"error"} body is about the model ("not_found"); any other 404
 * body (FastAPI's {"detail": "Not Found"}, HTML, nothing) means the route does not exist.
 */
export function extensionHttpError(status: number, body: string, what: string, endpoint: string, perModel: boolean): InferenceError {
  const missing = status === 405 || status === 501 || (status === 404 && (!perModel || !hasErrorField(body)));
  if (!missing) return httpError(status, body);
  return new InferenceError("unimplemented", `${what} is not supported by this server (${endpoint}: HTTP ${status})`, { httpStatus: status });
}

/** Rewrites a gRPC UNIMPLEMENTED failure of an extension RPC into the same kind of error. */
export function extensionGrpcError(error: unknown, what: string, rpc: string): unknown {
  if (!(error instanceof InferenceError) || error.code !== "unimplemented") return error;
  return new InferenceError("unimplemented", `${what} is not supported by this server (inference.GRPCInferenceService/${rpc}: ${error.message})`, {
    grpcCode: error.grpcCode,
    cause: error,
  });
}
