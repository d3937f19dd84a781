// Building blocks shared by the client, the reference server and the CLI.
export * from "./datatypes.ts";
export * from "./half.ts";
export { bytesWireSize, encodeBytesElements, decodeBytesElements } from "./bytes-elements.ts";
export * from "./json-data.ts";
export { PROTO_DIR, PROTO_FILES } from "./proto-files.ts";
export { seededRandom, type Random } from "./seeded-random.ts";
