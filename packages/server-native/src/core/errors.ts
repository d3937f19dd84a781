// One error type for everything a client can be told about, carrying a Triton-style status that each
// front end maps to its own status code (HTTP status, gRPC code).
import { status as GrpcStatus } from "@grpc/grpc-js";

export const SERVER_ERROR_STATUSES = [
  "INVALID_ARG",
  "NOT_FOUND",
  "UNAVAILABLE",
  "INTERNAL",
  "UNSUPPORTED",
  "ALREADY_EXISTS",
  "CANCELLED",
  "UNKNOWN",
] as const;

export type ServerErrorStatus = (typeof SERVER_ERROR_STATUSES)[number];

const HTTP_STATUS: Record<ServerErrorStatus, number> = {
  INVALID_ARG: 400,
  NOT_FOUND: 404,
  UNAVAILABLE: 503,
  INTERNAL: 500,
  UNSUPPORTED: 501,
  ALREADY_EXISTS: 400,
  CANCELLED: 400,
  UNKNOWN: 400,
};

const GRPC_STATUS: Record<ServerErrorStatus, GrpcStatus> = {
  INVALID_ARG: GrpcStatus.INVALID_ARGUMENT,
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  INTERNAL: GrpcStatus.INTERNAL,
  UNSUPPORTED: GrpcStatus.UNIMPLEMENTED,
  ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  CANCELLED: GrpcStatus.CANCELLED,
  UNKNOWN: GrpcStatus.UNKNOWN,
};

export class ServerError extends Error {
  readonly status: ServerErrorStatus;

  constructor(status: ServerErrorStatus, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ServerError";
    this.status = status;
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.status];
  }

  get grpcCode(): GrpcStatus {
    return GRPC_STATUS[this.status];
  }
}

export function invalidArg(message: string): ServerError {
  return new ServerError("INVALID_ARG", message);
}

/** Runs request-decoding code whose TypeError/RangeError describe bad client input, as INVALID_ARG. */
export function decoding<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError)
      throw new ServerError("INVALID_ARG", err.message, { cause: err });
    throw err;
  }
}

/** Turns anything thrown into a ServerError; what is not already one is a server fault. */
export function toServerError(err: unknown): ServerError {
  if (err instanceof ServerError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ServerError("INTERNAL", message, { cause: err });
}
