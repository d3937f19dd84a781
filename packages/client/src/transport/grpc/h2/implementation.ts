// Which implementation carries gRPC infer calls: node:http2 unless grpc-js is asked for, or something only
// grpc-js understands was configured (its channel options or credentials objects).
import type { GrpcConnectionOptions } from "../../../connection-options.ts";
import { InferenceError } from "../../../errors.ts";

export function useHttp2(grpc: GrpcConnectionOptions | undefined, customCredentials: boolean): boolean {
  const impl = grpc?.implementation;
  if (impl !== undefined && impl !== "http2" && impl !== "grpc-js")
    throw new InferenceError("invalid_argument", `createClient: grpc.implementation must be "http2" or "grpc-js", got ${JSON.stringify(impl)}`);
  if (impl === "grpc-js" || customCredentials) return false;
  return impl === "http2" || grpc?.channelOptions === undefined;
}
