// Protocol-independent request and response shapes that both front ends translate to and from.
// Tensor data is always raw little-endian bytes (BYTES: 4-byte length-prefixed elements).
import type { DataType } from "@iaas/client/protocol";

export type ParameterValue = string | number | boolean | bigint;
export type Parameters = Record<string, ParameterValue>;

export interface InferInput {
  name: string;
  /** As the client declared it; checked against the model config by the core. */
  datatype: string;
  shape: number[];
  data: Buffer;
  parameters?: Parameters;
}

export interface RequestedOutput {
  name: string;
  parameters?: Parameters;
}

export interface InferRequest {
  model: string;
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
}

export interface InferResponse {
  model_name: string;
  model_version: string;
  id?: string;
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
