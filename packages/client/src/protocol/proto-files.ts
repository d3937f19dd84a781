// Where the .proto definitions of the KServe v2 gRPC service live on disk.
import { fileURLToPath } from "node:url";

/** Directory holding grpc_service.proto, model_config.proto and health.proto. */
export const PROTO_DIR = fileURLToPath(new URL("../../proto/", import.meta.url));
export const PROTO_FILES = ["grpc_service.proto", "health.proto"] as const;
