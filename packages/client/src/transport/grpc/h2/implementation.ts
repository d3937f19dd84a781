// Which implementation carries gRPC infer calls: node:http2 unless grpc-js is asked for, or something only
// grpc-js understands was configured (its channel options or credentials objects); "iaas-h2" (the client's
// own HTTP/2 connection, transport/grpc/wire-h2/) when asked for and no request compression is set (that
// path neither compresses nor decompresses; node:http2 carries compressed calls).
import type { Compression, GrpcConnectionOptions } from "../../../connection-options.ts";
import { InferenceError } from "../../../errors.ts";

export type InferImplementation = "http2" | "iaas-h2" | "grpc-js";

export function inferImplementation(grpc: GrpcConnectionOptions | undefined, customCredentials: boolean, compression?: Compression): InferImplementation {
  const impl = grpc?.implementation;
  if (impl !== undefined && impl !== "http2" && impl !== "grpc-js" && impl !== "iaas-h2")
    throw new InferenceError("invalid_argument", `createClient: grpc.implementation must be "http2", "iaas-h2" or "grpc-js", got ${JSON.stringify(impl)}`);
  if (impl === "grpc-js" || customCredentials) return "grpc-js";
  if (impl === "iaas-h2") return compression === "gzip" || compression === "deflate" ? "http2" : "iaas-h2";
  return impl === "http2" || grpc?.channelOptions === undefined ? "http2" : "grpc-js";
}
