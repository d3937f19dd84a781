// KServe v2 HTTP infer bodies: JSON tensors and Triton's binary tensor extension
// (JSON header, then the raw tensors back to back; header length in Inference-Header-Content-Length).
import type { ParameterValue } from "../../api.ts";
import { InferenceError } from "../../errors.ts";
import { isDataType, type DataType } from "../../protocol/datatypes.ts";
import { parseJson, stringifyJson } from "../../protocol/json-data.ts";
import { Tensor } from "../../tensor.ts";
import type { InferRequest, InferResponse, OutputRequest } from "../transport.ts";
import { requestedInSharedMemory, sharedMemoryOutput, sharedMemoryParameters } from "../shared-memory-tensors.ts";

export const HEADER_LENGTH = "inference-header-content-length";

export interface EncodedBody {
  /** JSON header first, then one chunk per binary input, in input order. */
  chunks: Uint8Array[];
  byteLength: number;
  /** Byte length of the JSON header; equals byteLength when nothing is binary. */
  headerLength: number;
  /** Whether any tensor data follows the header. */
  binary: boolean;
}

interface JsonInput {
  name: string;
  shape: readonly number[];
  datatype: string;
  parameters?: Record<string, ParameterValue>;
  data?: unknown;
}

interface JsonOutput {
  name: string;
  parameters: Record<string, ParameterValue>;
}

function hasBigint(params: Record<string, ParameterValue> | undefined): boolean {
  if (!params) return false;
  for (const k in params) if (typeof params[k] === "bigint") return true;
  return false;
}

/** Tensor data as its bytes: a view of the same memory (no copy). */
export function bytesOf(v: ArrayBufferView): Uint8Array {
  return v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/**
 * An infer request body in parts: the JSON header text, then the binary inputs' data in input order, each
 * the tensor's own typed array (or its BYTES wire encoding), never a copy. The fast HTTP path holds these
 * until the request is written (fast/exchange.ts) and writes them into one buffer.
 */
export interface InferParts {
  json: string;
  /** Binary input data in input order; empty when every input is JSON or in shared memory. */
  data: ArrayBufferView[];
  /** Total bytes of `data`. */
  dataBytes: number;
  /** Whether any input went binary (then Inference-Header-Content-Length is sent, even for 0 data bytes). */
  binary: boolean;
}

/** The JSON header and binary data of a request (see InferParts). */
export function encodeInferParts(req: InferRequest): InferParts {
  const data: ArrayBufferView[] = [];
  let binaryBytes = 0;
  // JSON.stringify with a replacer is slow on large data arrays: use it only when a bigint can occur.
  let needsBigint = hasBigint(req.parameters);
  const inputs: JsonInput[] = new Array(req.inputs.length);
  for (let i = 0; i < req.inputs.length; i++) {
    const t = req.inputs[i]!;
    if (t.sharedMemory) {
      inputs[i] = { name: t.name, shape: t.shape, datatype: t.datatype, parameters: sharedMemoryParameters(t.sharedMemory) };
    } else if (req.binaryInputs || t.datatype === "FP16" || t.datatype === "BF16") {
      // JSON has no FP16/BF16 representation that servers accept: those always go binary. Numeric data is
      // held as the tensor's own typed array (no view object per request); BYTES as its wire encoding.
      const raw: ArrayBufferView = t.datatype === "BYTES" ? t.toRaw() : (t.data as ArrayBufferView);
      data.push(raw);
      binaryBytes += raw.byteLength;
      inputs[i] = { name: t.name, shape: t.shape, datatype: t.datatype, parameters: { binary_data_size: raw.byteLength } };
    } else {
      if (t.datatype === "INT64" || t.datatype === "UINT64") needsBigint = true;
      inputs[i] = { name: t.name, shape: t.shape, datatype: t.datatype, data: t.toJSONData() };
    }
  }
  const header: { id?: string; parameters?: Record<string, ParameterValue>; inputs: JsonInput[]; outputs?: JsonOutput[] } = {
    inputs,
  };
  if (req.id !== undefined && req.id !== "") header.id = req.id;
  let parameters = req.parameters;
  if (req.outputs) {
    header.outputs = req.outputs.map((o) => {
      if (hasBigint(o.parameters)) needsBigint = true;
      if (o.sharedMemory) return { name: o.name, parameters: { ...o.parameters, ...sharedMemoryParameters(o.sharedMemory) } };
      return { name: o.name, parameters: { ...o.parameters, binary_data: o.binary } };
    });
  } else if (req.binaryOutputs) {
    parameters = { ...parameters, binary_data_output: true };
  }
  if (parameters && Object.keys(parameters).length > 0) header.parameters = parameters;
  const json = needsBigint ? stringifyJson(header) : JSON.stringify(header);
  return { json, data, dataBytes: binaryBytes, binary: data.length > 0 };
}

/** Builds the request body; tensor bytes are views of the tensors' data, never copied here. */
export function encodeInferRequest(req: InferRequest): EncodedBody {
  const parts = encodeInferParts(req);
  const headerBuf = Buffer.from(parts.json);
  const chunks: Uint8Array[] = [headerBuf];
  for (let i = 0; i < parts.data.length; i++) chunks.push(bytesOf(parts.data[i]!));
  return {
    chunks,
    byteLength: headerBuf.byteLength + parts.dataBytes,
    headerLength: headerBuf.byteLength,
    binary: parts.binary,
  };
}

/**
 * What a JSON header says about where each output is, when every output is in the binary section and the
 * answer carries no id or parameters: enough to decode the next body with the same header without
 * parsing it (infer-header-cache.ts).
 */
export interface ResponseLayout {
  modelName: string;
  modelVersion: string;
  outputs: { name: string; datatype: DataType; shape: readonly number[]; byteSize: number }[];
  /** Where the binary section ends: the body must be at least this long. */
  end: number;
}

/** Receives the layout of a decoded answer (undefined when the answer has none; see ResponseLayout). */
export interface LayoutSink {
  layout: ResponseLayout | undefined;
}

function bad(message: string): InferenceError {
  return new InferenceError("internal", `malformed infer response: ${message}`);
}

function toParameters(v: unknown, where: string): Record<string, ParameterValue> {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw bad(`${where} is not an object`);
  return v as Record<string, ParameterValue>;
}

/**
 * Parses an infer response body. `headerLength` is the Inference-Header-Content-Length value when the
 * server sent one; outputs with `parameters.binary_data_size` take their bytes from the binary section
 * in output order (as views of `body`). Outputs the request put in shared memory (`requestedOutputs`) and
 * outputs whose parameters name a region come back as data-less tensors with `sharedMemory` set.
 */
export function decodeInferResponse(
  body: Uint8Array,
  headerLength: number | undefined,
  requestedOutputs?: readonly OutputRequest[],
  sink?: LayoutSink,
  headerText?: string,
): InferResponse {
  const inRegions = requestedInSharedMemory(requestedOutputs);
  const jsonEnd = headerLength ?? body.byteLength;
  if (!Number.isSafeInteger(jsonEnd) || jsonEnd < 0 || jsonEnd > body.byteLength)
    throw bad(`${HEADER_LENGTH} is ${headerLength}, body has ${body.byteLength} bytes`);
  const text = headerText ?? Buffer.from(body.buffer, body.byteOffset, jsonEnd).toString("utf8");
  let header: unknown;
  try {
    header = parseJson(text);
  } catch (e) {
    throw bad(`JSON header does not parse (${(e as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) throw bad("JSON header is not an object");
  const h = header as Record<string, unknown>;
  if (!Array.isArray(h.outputs)) throw bad(`"outputs" is not a list`);
  let offset = jsonEnd;
  const outputs: Tensor[] = new Array(h.outputs.length);
  // A layout is kept only for answers whose every output is binary and with no id or parameters of their own.
  let layout: ResponseLayout["outputs"] | undefined =
    sink !== undefined && inRegions === undefined && (h.id === undefined || h.id === "") && isEmptyObject(h.parameters) ? [] : undefined;
  for (let i = 0; i < h.outputs.length; i++) {
    const o = h.outputs[i] as Record<string, unknown> | null;
    if (o === null || typeof o !== "object") throw bad(`outputs[${i}] is not an object`);
    const name = o.name;
    if (typeof name !== "string") throw bad(`outputs[${i}].name is not a string`);
    if (!isDataType(o.datatype)) throw bad(`output "${name}" has unknown datatype ${JSON.stringify(o.datatype)}`);
    const shape = toShape(o.shape, name);
    const params = toParameters(o.parameters, `output "${name}" parameters`);
    const size = params.binary_data_size;
    try {
      const shared = size === undefined && o.data === undefined ? sharedMemoryOutput(name, o.datatype, shape, params, inRegions) : undefined;
      if (shared !== undefined) {
        layout = undefined;
        outputs[i] = shared;
      } else if (size !== undefined) {
        const n = Number(size);
        if (!Number.isSafeInteger(n) || n < 0) throw bad(`output "${name}" has binary_data_size ${String(size)}`);
        if (offset + n > body.byteLength)
          throw bad(`output "${name}" needs ${n} bytes at offset ${offset}, body has ${body.byteLength}`);
        outputs[i] = Tensor.fromRaw(name, o.datatype, shape, body.subarray(offset, offset + n));
        layout?.push({ name, datatype: o.datatype, shape: shape.slice(), byteSize: n });
        offset += n;
      } else {
        layout = undefined;
        outputs[i] = Tensor.fromJSON(name, o.datatype, shape, o.data ?? []);
      }
    } catch (e) {
      if (e instanceof InferenceError && e.code === "invalid_argument") throw bad(e.message);
      throw e;
    }
  }
  const response: InferResponse = {
    modelName: typeof h.model_name === "string" ? h.model_name : "",
    modelVersion: h.model_version === undefined || h.model_version === null ? "" : String(h.model_version),
    id: typeof h.id === "string" ? h.id : "",
    parameters: toParameters(h.parameters, "response parameters"),
    outputs,
  };
  if (sink !== undefined) sink.layout = layout && { modelName: response.modelName, modelVersion: response.modelVersion, outputs: layout, end: offset };
  return response;
}

function isEmptyObject(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (typeof v !== "object" || Array.isArray(v)) return false;
  for (const _ in v) return false;
  return true;
}

function toShape(v: unknown, name: string): number[] {
  if (!Array.isArray(v)) throw bad(`output "${name}" shape is not a list`);
  return v.map((d: unknown) => {
    const n = Number(d);
    if (!Number.isSafeInteger(n) || n < 0) throw bad(`output "${name}" has dimension ${String(d)}`);
    return n;
  });
}
