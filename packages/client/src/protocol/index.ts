// Protocol building blocks shared by the client and the reference server.
export * from "./datatypes.ts";
export * from "./half.ts";
export { bytesWireSize, encodeBytesElements, decodeBytesElements } from "./bytes-elements.ts";
export * from "./json-data.ts";
export { PROTO_DIR, PROTO_FILES } from "./proto-files.ts";
