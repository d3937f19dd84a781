// Which implementation carries gRPC infer calls: by default "iaas-h2" (the client's own HTTP/2 connection,
// transport/grpc/wire-h2/: about a fifth of node:http2's CPU per call), except with request compression
// (that path neither compresses nor decompresses, so node:http2 carries compressed calls); grpc-js when
// asked for or when something only grpc-js understands was configured (its channel options or credentials
// objects); node:http2 when asked for.
import type { Compression, GrpcConnectionOptions } from "../../../connection-options.ts";
import { InferenceError } from "../../../errors.ts";

export type InferImplementation = "http2" | "iaas-h2" | "grpc-js";

export function inferImplementation(grpc: GrpcConnectionOptions | undefined, customCredentials: boolean, compression?: Compression): InferImplementation {
  const impl = grpc?.implementation;
  if (impl !== undefined && impl !== "http2" && impl !== "grpc-js" && impl !== "iaas-h2")
    throw new InferenceError("invalid_argument", `createClient: grpc.implementation must be "http2", "iaas-h2" or "grpc-js", got ${JSON.stringify(impl)}`);
  if (impl === "grpc-js" || customCredentials) return "grpc-js";
  if (impl === "http2") return "http2";
  if (impl === undefined && grpc?.channelOptions !== undefined) return "grpc-js";
  return compression === "gzip" || compression === "deflate" ? "http2" : "iaas-h2";
}
