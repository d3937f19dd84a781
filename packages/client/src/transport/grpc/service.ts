// The GRPCInferenceService client constructor, loaded once per process from the shipped .proto files.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { PROTO_DIR } from "../../protocol/proto-files.ts";
import { deserializeInferResponse, serializeInferRequest, serializeInferRequestChunks } from "./infer-wire.ts";

/** How messages look in JS: proto field names; 64-bit integers as decimal strings (exact); enums by name. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  arrays: true,
  objects: true,
  oneofs: false,
  includeDirs: [PROTO_DIR],
};

/** Triton's limit; grpc-js defaults to 4 MiB on receive, too small for real tensors. */
export const MAX_MESSAGE_LENGTH = 2 ** 31 - 1;

let ctor: grpc.ServiceClientConstructor | undefined;
let inferCodec: InferCodec | undefined;

/** ModelInfer's message codec for the node:http2 path: the hand codec with protobufjs as its fallback. */
export interface InferCodec {
  serialize(value: unknown): Uint8Array[];
  deserialize(bytes: Buffer): unknown;
}

export function modelInferCodec(): InferCodec {
  if (!inferCodec) inferenceServiceClient();
  return inferCodec!;
}

export function inferenceServiceClient(): grpc.ServiceClientConstructor {
  if (!ctor) {
    const definition = protoLoader.loadSync("grpc_service.proto", LOADER_OPTIONS);
    useHandCodecForInfer(definition);
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      inference: { GRPCInferenceService: grpc.ServiceClientConstructor };
    };
    ctor = pkg.inference.GRPCInferenceService;
  }
  return ctor;
}

/** ModelInfer goes through the hand-written codec (infer-wire.ts), protobufjs staying its fallback. */
function useHandCodecForInfer(definition: protoLoader.PackageDefinition): void {
  const method = (definition["inference.GRPCInferenceService"] as protoLoader.ServiceDefinition | undefined)?.ModelInfer;
  if (!method) return;
  const serialize = method.requestSerialize as (value: unknown) => Buffer;
  const deserialize = method.responseDeserialize as (bytes: Buffer) => unknown;
  inferCodec = {
    serialize: (value) => serializeInferRequestChunks(value, serialize),
    deserialize: (bytes) => deserializeInferResponse(bytes, deserialize),
  };
  (method as { requestSerialize: unknown }).requestSerialize = (value: unknown) => serializeInferRequest(value, serialize);
  (method as { responseDeserialize: unknown }).responseDeserialize = (bytes: Buffer) => deserializeInferResponse(bytes, deserialize);
}
