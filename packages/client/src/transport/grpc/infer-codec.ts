// ModelInferRequest / ModelInferResponse <-> the transport's InferRequest / InferResponse.
// Requests always carry raw_input_contents (one entry per input, no typed contents). Responses are read from
// raw_output_contents when present (Triton), else from the typed contents (KServe, MLServer).
import { InferenceError } from "../../errors.ts";
import { isDataType, type DataType } from "../../protocol/datatypes.ts";
import { Tensor } from "../../tensor.ts";
import type { InferRequest, InferResponse, OutputRequest } from "../transport.ts";
import { requestedInSharedMemory, sharedMemoryOutput, sharedMemoryParameters } from "../shared-memory-tensors.ts";
import { parametersFromWire, parametersToWire, type WireParameter } from "./parameters.ts";

interface WireContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: string[];
  uint_contents?: number[];
  uint64_contents?: string[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Uint8Array[];
}

interface WireOutput {
  name?: string;
  datatype?: string;
  shape?: (string | number)[];
  parameters?: Record<string, WireParameter>;
  contents?: WireContents;
}

export interface WireInferResponse {
  model_name?: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, WireParameter>;
  outputs?: WireOutput[];
  raw_output_contents?: Uint8Array[];
}

export function encodeInferRequest(req: InferRequest): Record<string, unknown> {
  // One raw entry per input that is not in shared memory, in input order (what Triton expects).
  const raw: Uint8Array[] = [];
  const inputs = req.inputs.map((t) => {
    if (t.sharedMemory) return { name: t.name, datatype: t.datatype, shape: t.shape, parameters: parametersToWire(sharedMemoryParameters(t.sharedMemory)) };
    raw.push(t.toRaw());
    return { name: t.name, datatype: t.datatype, shape: t.shape };
  });
  const message: Record<string, unknown> = {
    model_name: req.model,
    model_version: req.version ?? "",
    id: req.id ?? "",
    inputs,
    raw_input_contents: raw,
  };
  const params = parametersToWire(req.parameters);
  if (params) message.parameters = params;
  if (req.outputs)
    message.outputs = req.outputs.map((o) => ({
      name: o.name,
      parameters: parametersToWire(o.sharedMemory ? { ...o.parameters, ...sharedMemoryParameters(o.sharedMemory) } : o.parameters) ?? {},
    }));
  return message;
}

function bad(message: string): InferenceError {
  return new InferenceError("internal", `malformed infer response: ${message}`);
}

function fromContents(name: string, datatype: DataType, shape: number[], c: WireContents | undefined): Tensor {
  const pick = <T>(field: keyof WireContents): T[] => ((c?.[field] as T[] | undefined) ?? []);
  switch (datatype) {
    case "BOOL":
      return new Tensor(name, datatype, shape, Uint8Array.from(pick<boolean>("bool_contents"), (b) => (b ? 1 : 0)));
    case "INT8":
      return new Tensor(name, datatype, shape, Int8Array.from(pick<number>("int_contents")));
    case "INT16":
      return new Tensor(name, datatype, shape, Int16Array.from(pick<number>("int_contents")));
    case "INT32":
      return new Tensor(name, datatype, shape, Int32Array.from(pick<number>("int_contents")));
    case "UINT8":
      return new Tensor(name, datatype, shape, Uint8Array.from(pick<number>("uint_contents")));
    case "UINT16":
      return new Tensor(name, datatype, shape, Uint16Array.from(pick<number>("uint_contents")));
    case "UINT32":
      return new Tensor(name, datatype, shape, Uint32Array.from(pick<number>("uint_contents")));
    case "INT64":
      return new Tensor(name, datatype, shape, BigInt64Array.from(pick<string>("int64_contents"), (s) => BigInt(s)));
    case "UINT64":
      return new Tensor(name, datatype, shape, BigUint64Array.from(pick<string>("uint64_contents"), (s) => BigInt(s)));
    case "FP32":
      return new Tensor(name, datatype, shape, Float32Array.from(pick<number>("fp32_contents")));
    case "FP64":
      return new Tensor(name, datatype, shape, Float64Array.from(pick<number>("fp64_contents")));
    case "BYTES":
      return new Tensor(name, datatype, shape, pick<Uint8Array>("bytes_contents"));
    case "FP16":
    case "BF16":
      throw bad(`output "${name}" is ${datatype}, which only raw_output_contents can carry, and the server sent none`);
  }
}

/**
 * `requestedOutputs`: the request's outputs, so that outputs it put in shared memory come back as data-less
 * tensors with `sharedMemory` set (Triton names them only by the empty raw entry it sends for them).
 */
export function decodeInferResponse(res: WireInferResponse, requestedOutputs?: readonly OutputRequest[]): InferResponse {
  const wireOutputs = res.outputs ?? [];
  const raw = res.raw_output_contents ?? [];
  const inRegions = requestedInSharedMemory(requestedOutputs);
  let shared: (Tensor | undefined)[] | undefined;
  if (inRegions !== undefined || wireOutputs.some((o) => o.parameters?.shared_memory_region !== undefined)) {
    shared = wireOutputs.map((o) => {
      if (!isDataType(o.datatype)) return undefined;
      const name = o.name ?? "";
      try {
        return sharedMemoryOutput(name, o.datatype, (o.shape ?? []).map((d) => Number(d)), parametersFromWire(o.parameters), inRegions);
      } catch (e) {
        throw e instanceof InferenceError && e.code === "invalid_argument" ? bad(e.message) : e;
      }
    });
  }
  // Raw entries: one per output, or (some servers) one per output that is not in shared memory.
  const withData = shared ? shared.filter((t) => t === undefined).length : wireOutputs.length;
  if (raw.length > 0 && raw.length !== wireOutputs.length && raw.length !== withData)
    throw bad(`${wireOutputs.length} outputs but ${raw.length} raw_output_contents entries`);
  const positional = raw.length === wireOutputs.length;
  let nextRaw = 0;
  const outputs = wireOutputs.map((o, i) => {
    const name = o.name ?? "";
    if (!isDataType(o.datatype)) throw bad(`output "${name}" has unknown datatype ${JSON.stringify(o.datatype)}`);
    const inRegion = shared?.[i];
    if (inRegion !== undefined) return inRegion;
    const shape = (o.shape ?? []).map((d) => Number(d));
    const rawIndex = positional ? i : nextRaw++;
    try {
      return raw.length > 0 ? Tensor.fromRaw(name, o.datatype, shape, raw[rawIndex]!) : fromContents(name, o.datatype, shape, o.contents);
    } catch (e) {
      if (e instanceof InferenceError && e.code === "invalid_argument") throw bad(e.message);
      throw e;
    }
  });
  return {
    modelName: res.model_name ?? "",
    modelVersion: res.model_version ?? "",
    id: res.id ?? "",
    parameters: parametersFromWire(res.parameters),
    outputs,
  };
}
