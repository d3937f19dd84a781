// The protocol seam: one method per KServe v2 operation, typed requests in, protocol-independent
// results out. createClient puts the public API on top; HTTP and gRPC implement this.
import type {
  CallOptions,
  ModelMetadata,
  ModelStatistics,
  ParameterValue,
  Protocol,
  ServerMetadata,
} from "../api.ts";
import type { Tensor } from "../tensor.ts";

export interface ModelRef {
  model: string;
  /** Empty or absent: the server's choice. */
  version?: string | undefined;
}

export interface StatisticsRequest {
  /** Absent: every model. */
  model?: string | undefined;
  version?: string | undefined;
}

export interface LoadRequest {
  model: string;
  /** ModelConfig JSON text. */
  config?: string | undefined;
}

export interface OutputRequest {
  name: string;
  /** HTTP: ask for binary data. */
  binary: boolean;
  parameters?: Record<string, ParameterValue> | undefined;
}

export interface InferRequest extends ModelRef {
  id?: string | undefined;
  inputs: readonly Tensor[];
  /** Absent: all outputs. */
  outputs?: readonly OutputRequest[] | undefined;
  parameters?: Record<string, ParameterValue> | undefined;
  /** HTTP: binary tensor extension for inputs. */
  binaryInputs: boolean;
  /** HTTP: binary outputs when `outputs` is absent. */
  binaryOutputs: boolean;
}

export interface InferResponse {
  modelName: string;
  modelVersion: string;
  id: string;
  parameters: Record<string, ParameterValue>;
  outputs: Tensor[];
}

export interface Transport {
  readonly protocol: Protocol;
  /** Normalised address: http(s)://host:port[/prefix] or host:port for gRPC. */
  readonly url: string;
  serverLive(call: CallOptions): Promise<boolean>;
  serverReady(call: CallOptions): Promise<boolean>;
  modelReady(ref: ModelRef, call: CallOptions): Promise<boolean>;
  serverMetadata(call: CallOptions): Promise<ServerMetadata>;
  modelMetadata(ref: ModelRef, call: CallOptions): Promise<ModelMetadata>;
  modelConfig(ref: ModelRef, call: CallOptions): Promise<Record<string, unknown>>;
  modelStatistics(request: StatisticsRequest, call: CallOptions): Promise<ModelStatistics[]>;
  loadModel(request: LoadRequest, call: CallOptions): Promise<void>;
  unloadModel(ref: ModelRef, call: CallOptions): Promise<void>;
  infer(request: InferRequest, call: CallOptions): Promise<InferResponse>;
  close(): Promise<void>;
}
