// Protocol-independent request and response shapes that both front ends translate to and from.
// Tensor data is always raw little-endian bytes (BYTES: 4-byte length-prefixed elements).
import type { DataType } from "@iaas/client/protocol";
import type { TraceLevel } from "./trace-settings.ts";
import type { SharedMemoryRef } from "../shared-memory/system-shared-memory.ts";

/** node:http's IncomingHttpHeaders, or anything with grpc-js Metadata's get/getMap. */
export type TraceCarrier =
  | Readonly<Record<string, string | string[] | undefined>>
  | { get(key: string): unknown[]; getMap(): Record<string, unknown> };

export type ParameterValue = string | number | boolean | bigint;
export type Parameters = Record<string, ParameterValue>;

export interface InferInput {
  name: string;
  /** As the client declared it; checked against the model config by the core. */
  datatype: string;
  shape: number[];
  data: Buffer;
  parameters?: Parameters;
  /** Set when the input's data is in a registered shared-memory region (the core then points `data` at it). */
  sharedMemory?: SharedMemoryRef;
}

export interface RequestedOutput {
  name: string;
  parameters?: Parameters;
  /** Set when the output is to be written into a registered shared-memory region. */
  sharedMemory?: SharedMemoryRef;
}

export interface InferRequest {
  model: string;
  /** From request parameter `priority` (checked by the core): 1 = highest, 0 = the model's default level. */
  priority?: number;
  /** From request parameter `timeout` (checked by the core): queue timeout in microseconds. */
  timeoutUs?: number;
  /** Set by the core when the trace settings sample this request: the levels to trace. */
  traceLevels?: TraceLevel[];
  /** The front end's header object (HTTP) or Metadata (gRPC), read for W3C trace context only when sampled. */
  traceCarrier?: TraceCarrier;
  /** The protocol the request came in by (span attributes). */
  protocol?: "http" | "grpc";
  /** "" or undefined: the latest served version. */
  version?: string;
  id?: string;
  parameters?: Parameters;
  inputs: InferInput[];
  /** Undefined or empty: every output of the model. */
  outputs?: RequestedOutput[];
}

export interface InferOutput {
  name: string;
  datatype: DataType;
  shape: number[];
  data: Buffer;
  /** Parameters of the matching requested output (e.g. binary_data), for the front end. */
  requested?: Parameters;
  /** Set when the output was written into shared memory: `data` is then empty and the response carries no data. */
  sharedMemory?: SharedMemoryRef;
}

export interface InferResponse {
  model_name: string;
  model_version: string;
  id?: string;
  /** Response parameters: iaas echoes a request's custom (not reserved) parameters here. */
  parameters?: Parameters;
  outputs: InferOutput[];
}

export interface TensorMetadata {
  name: string;
  datatype: DataType;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

export type ModelState = "READY" | "LOADING" | "UNLOADING" | "UNAVAILABLE";

export interface RepositoryIndexEntry {
  name: string;
  version?: string;
  state: ModelState;
  reason: string;
}
