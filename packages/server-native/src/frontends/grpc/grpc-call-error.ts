// An error that ends a gRPC call with a given status and message as it is (framing, size limits,
// deadlines, undecodable messages), as opposed to a ServerError, which carries a Triton-style status.
import type { status } from "@grpc/grpc-js";

export class GrpcCallError extends Error {
  readonly code: status;
  constructor(code: status, details: string) {
    super(details);
    this.name = "GrpcCallError";
    this.code = code;
  }
}
