// Benchmark request tensors built once from model metadata and reused for every request.
import { Tensor, type InferenceClient, type TensorMetadata } from "@iaas/client";
import { elementCount, isDataType } from "@iaas/client/protocol";
import { generateTensorData, type InputDataMode } from "./data.ts";
import { seededRandom } from "@iaas/client/protocol";
import { resolveShapes, type ShapeOverrides } from "./shapes.ts";

export interface InputOptions {
  /** Requests carry this many samples (models with max_batch_size > 0). Default 1. */
  batchSize?: number;
  /** Values for variable dimensions, batch dimension excluded. */
  shapes?: ShapeOverrides;
  /** Default "zero". */
  data?: InputDataMode;
  /** Seed for random data; default 1. */
  seed?: number;
  /** Characters per BYTES element; default 16. */
  stringLength?: number;
}

export interface ModelInfo {
  name: string;
  /** Versions the server reports. */
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  /** From the model configuration; 0 when the model does not batch or the server has no config endpoint. */
  maxBatchSize: number;
}

/** The model's max_batch_size from a Triton ModelConfig JSON (protobuf names; int32 may be a number or a string). */
export function maxBatchSizeOf(config: Record<string, unknown>): number {
  const v = config["max_batch_size"] ?? config["maxBatchSize"];
  const n = typeof v === "string" || typeof v === "bigint" ? Number(v) : typeof v === "number" ? v : 0;
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/**
 * Metadata and max_batch_size of a model. Metadata errors propagate (the model cannot be benchmarked);
 * a server without the model_configuration extension counts as non-batching.
 */
export async function fetchModelInfo(client: InferenceClient, model: string, version?: string): Promise<ModelInfo> {
  const options = version === undefined ? {} : { version };
  const metadata = await client.modelMetadata(model, options);
  let maxBatchSize = 0;
  try {
    maxBatchSize = maxBatchSizeOf(await client.modelConfig(model, options));
  } catch {
    // Plain KServe v2 servers have no config endpoint; metadata shapes then carry every dimension.
  }
  return { ...metadata, maxBatchSize };
}

export interface BuiltInputs {
  tensors: Tensor[];
  batchSize: number;
  /** Bytes of input data per request. */
  bytes: number;
}

/** Request tensors for `info` with the given data options. Throws a RangeError/TypeError on an unusable option. */
export function buildInputs(info: ModelInfo, options: InputOptions = {}): BuiltInputs {
  const batchSize = options.batchSize ?? 1;
  const shapes = resolveShapes(info.name, info.inputs, info.maxBatchSize, batchSize, options.shapes ?? new Map());
  const random = seededRandom(options.seed ?? 1);
  const mode = options.data ?? "zero";
  const stringLength = options.stringLength ?? 16;
  let bytes = 0;
  const tensors = info.inputs.map((input, i) => {
    const datatype = input.datatype;
    if (!isDataType(datatype)) throw new TypeError(`input "${input.name}" of model "${info.name}" has unknown datatype "${datatype}"`);
    const shape = shapes[i]!;
    const raw = generateTensorData(datatype, elementCount(shape), mode, random, stringLength);
    bytes += raw.byteLength;
    return Tensor.fromRaw(input.name, datatype, shape, raw);
  });
  return { tensors, batchSize, bytes };
}
