// HTTP/REST inference bodies: JSON requests with optional binary tensor data (Triton's
// binary_tensor_data extension) into the core's InferRequest, and InferResponse back into a JSON or
// JSON-header-plus-binary body. Tensor bytes stay Buffer views of the request body on the way in and
// are written straight from the output buffers on the way out.
import { elementCount, elementSize, isDataType, jsonToRaw, parseJson, rawToJson, stringifyJson } from "@iaas/client/protocol";
import { ServerError, decoding, invalidArg } from "../../core/errors.ts";
import type { InferenceServer } from "../../core/inference-server.ts";
import type { InferInput, InferRequest, InferResponse, ModelMetadata, Parameters, RequestedOutput } from "../../core/types.ts";
import { sharedMemoryParameters, sharedMemoryRef } from "../../shared-memory/tensor-parameters.ts";
import { rememberHeader, reuseHeader } from "./infer-header-reuse.ts";

export const HEADER_LENGTH = "inference-header-content-length";

const EMPTY = Buffer.alloc(0);

/** A decoded request plus the output encoding the client asked for. */
export interface HttpInferRequest extends InferRequest {
  /** Default for outputs without their own `binary_data` parameter. */
  binaryOutput: boolean;
}

// An integer literal of 16+ digits (not the fraction or mantissa of a float): may not fit a double.
const LARGE_INT = /(?<![\d.eE])\d{16,}(?![\d.eE])/;

function parseJsonText(text: string, what: string): unknown {
  try {
    // parseJson keeps >2^53 integers exact but costs a reviver call per value; only pay when needed.
    return LARGE_INT.test(text) ? parseJson(text) : JSON.parse(text);
  } catch (err) {
    throw invalidArg(`failed to parse the ${what} as JSON: ${(err as Error).message}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function parameters(v: unknown, where: string): Parameters | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw invalidArg(`${where}: 'parameters' must be an object`);
  // Runs for the request and every tensor: no per-entry arrays.
  for (const k in v) {
    const t = typeof v[k];
    if (t !== "string" && t !== "number" && t !== "boolean" && t !== "bigint")
      throw invalidArg(`${where}: parameter '${k}' must be a string, number or boolean`);
  }
  return v as Parameters;
}

function shapeOf(v: unknown, where: string): number[] {
  if (!Array.isArray(v) || !v.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0))
    throw invalidArg(`${where}: 'shape' must be an array of non-negative integers, got ${stringifyJson(v)}`);
  return v as number[];
}

/**
 * The "raw binary request" form: Inference-Header-Content-Length 0 and the whole body is the data of
 * the model's single input. The shape comes from the config, inferring the batch (or the one variable)
 * dimension from the byte count.
 */
function rawBodyRequest(meta: ModelMetadata, model: string, version: string | undefined, body: Buffer): HttpInferRequest {
  if (meta.inputs.length !== 1)
    throw invalidArg(`a raw binary request (Inference-Header-Content-Length: 0) needs a model with one input; model '${model}' has ${meta.inputs.length}`);
  const input = meta.inputs[0]!;
  const variable = input.shape.filter((d) => d === -1).length;
  if (variable > 1)
    throw invalidArg(`raw binary request: input '${input.name}' of model '${model}' has shape [${input.shape.join(",")}] with more than one variable dimension; send a JSON header`);
  let count: number;
  if (input.datatype === "BYTES") {
    count = decoding(() => {
      let n = 0;
      for (let off = 0; off < body.byteLength; n++) {
        if (off + 4 > body.byteLength) throw new RangeError(`raw binary request: BYTES element ${n} of input '${input.name}' is truncated`);
        off += 4 + body.readUInt32LE(off);
        if (off > body.byteLength) throw new RangeError(`raw binary request: BYTES element ${n} of input '${input.name}' runs past the end of the body`);
      }
      return n;
    });
  } else {
    const size = elementSize(input.datatype);
    if (body.byteLength % size !== 0)
      throw invalidArg(`raw binary request: ${body.byteLength} bytes is not a whole number of ${input.datatype} elements for input '${input.name}'`);
    count = body.byteLength / size;
  }
  const fixed = input.shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
  if (variable === 0 ? fixed !== count : fixed === 0 || count % fixed !== 0)
    throw invalidArg(`raw binary request: ${count} elements do not fit input '${input.name}' of shape [${input.shape.join(",")}] for model '${model}'`);
  const shape = input.shape.map((d) => (d === -1 ? count / fixed : d));
  return { model, version, inputs: [{ name: input.name, datatype: input.datatype, shape, data: body }], binaryOutput: true };
}

export function decodeInferRequest(
  server: InferenceServer,
  model: string,
  version: string | undefined,
  body: Buffer,
  headerLength: string | undefined,
): HttpInferRequest {
  let jsonPart = body;
  let binary = body.subarray(body.byteLength);
  if (headerLength !== undefined) {
    const n = /^\d+$/.test(headerLength.trim()) ? Number(headerLength) : NaN;
    if (!Number.isSafeInteger(n) || n > body.byteLength)
      throw invalidArg(`Inference-Header-Content-Length must be an integer between 0 and the body length ${body.byteLength}, got '${headerLength}'`);
    if (n === 0) return rawBodyRequest(server.modelMetadata(model, version), model, version, body);
    jsonPart = body.subarray(0, n);
    binary = body.subarray(n);
  }
  const text = jsonPart.toString("utf8");
  // A header seen before (the usual case: clients repeat theirs) is built from its template.
  const reused = reuseHeader(text, model, version, binary);
  if (reused !== undefined) return reused;
  const json = parseJsonText(text, "inference request header");
  if (!isObject(json)) throw invalidArg("inference request must be a JSON object");
  if (json.id !== undefined && typeof json.id !== "string") throw invalidArg("request 'id' must be a string");
  const reqParams = parameters(json.parameters, "request");
  const binaryOutput = reqParams?.binary_data_output;
  if (binaryOutput !== undefined && typeof binaryOutput !== "boolean") throw invalidArg("request parameter 'binary_data_output' must be a boolean");
  if (!Array.isArray(json.inputs)) throw invalidArg("inference request needs an 'inputs' array");

  let offset = 0;
  const inputs = json.inputs.map((raw: unknown, i: number): InferInput => {
    if (!isObject(raw)) throw invalidArg(`inputs[${i}] must be an object`);
    if (typeof raw.name !== "string") throw invalidArg(`inputs[${i}] needs a string 'name'`);
    const where = `input '${raw.name}'`;
    if (typeof raw.datatype !== "string" || !isDataType(raw.datatype))
      throw invalidArg(`${where}: unknown datatype ${stringifyJson(raw.datatype)}`);
    const datatype = raw.datatype;
    const shape = shapeOf(raw.shape, where);
    const params = parameters(raw.parameters, where);
    const shm = sharedMemoryRef(params, where, server.systemSharedMemory !== undefined);
    const size = params?.binary_data_size;
    let data: Buffer;
    if (shm !== undefined) {
      if (raw.data !== undefined || size !== undefined) throw invalidArg(`${where}: takes its data from shared memory; do not send 'data' or binary_data_size with it`);
      data = EMPTY;
    } else if (size !== undefined) {
      if (raw.data !== undefined) throw invalidArg(`${where}: has both 'data' and binary_data_size; send one`);
      const n = typeof size === "bigint" ? Number(size) : size;
      if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) throw invalidArg(`${where}: binary_data_size must be a non-negative integer`);
      if (offset + n > binary.byteLength)
        throw invalidArg(`${where}: binary_data_size is ${n} but only ${binary.byteLength - offset} bytes of binary data remain`);
      data = binary.subarray(offset, offset + n);
      offset += n;
    } else {
      if (raw.data === undefined) throw invalidArg(`${where}: needs 'data' or the binary_data_size parameter`);
      data = decoding(() => jsonToRaw(datatype, raw.data, where, elementCount(shape)));
    }
    const input: InferInput = { name: raw.name, datatype, shape, data };
    if (params) input.parameters = params;
    if (shm) input.sharedMemory = shm;
    return input;
  });
  if (offset !== binary.byteLength) {
    const last = inputs.findLast((inp) => inp.parameters?.binary_data_size !== undefined);
    throw invalidArg(
      `${binary.byteLength - offset} bytes of binary data follow the JSON header but are not claimed by any input` +
        (last ? ` (the last binary input is '${last.name}'; check its binary_data_size)` : " (no input sets binary_data_size)"),
    );
  }

  let outputs: RequestedOutput[] | undefined;
  if (json.outputs !== undefined) {
    if (!Array.isArray(json.outputs)) throw invalidArg("'outputs' must be an array");
    outputs = json.outputs.map((raw: unknown, i: number): RequestedOutput => {
      if (!isObject(raw) || typeof raw.name !== "string") throw invalidArg(`outputs[${i}] needs a string 'name'`);
      const where = `output '${raw.name}'`;
      const params = parameters(raw.parameters, where);
      const shm = sharedMemoryRef(params, where, server.systemSharedMemory !== undefined);
      if (params?.binary_data !== undefined && typeof params.binary_data !== "boolean") throw invalidArg(`${where}: parameter 'binary_data' must be a boolean`);
      const output: RequestedOutput = params ? { name: raw.name, parameters: params } : { name: raw.name };
      if (shm) output.sharedMemory = shm;
      return output;
    });
  }
  const request: HttpInferRequest = { model, version, inputs, binaryOutput: binaryOutput === true };
  if (json.id !== undefined) request.id = json.id as string;
  if (reqParams) request.parameters = reqParams;
  if (outputs) request.outputs = outputs;
  rememberHeader(text, request, binary.byteLength);
  return request;
}

/** Checks before execution that no FP16/BF16 output is due to come back as JSON. */
export function checkJsonOutputs(meta: ModelMetadata, request: HttpInferRequest): void {
  const wanted = request.outputs && request.outputs.length > 0 ? request.outputs : meta.outputs.map((o) => ({ name: o.name, parameters: undefined }));
  for (const r of wanted) {
    const binary = (r.parameters?.binary_data as boolean | undefined) ?? request.binaryOutput;
    const dt = meta.outputs.find((o) => o.name === r.name)?.datatype;
    // Classified outputs are BYTES, whatever the model's output type.
    if (!binary && (dt === "FP16" || dt === "BF16") && r.parameters?.shared_memory_region === undefined && r.parameters?.classification === undefined)
      throw invalidArg(`output '${r.name}' of model '${meta.name}' is ${dt}, which cannot be returned as JSON; request it as binary (parameters.binary_data: true)`);
  }
}

export interface EncodedResponse {
  contentType: string;
  /** JSON header length when binary data follows. */
  headerLength?: number;
  chunks: (string | Buffer)[];
  byteLength: number;
}

export function encodeInferResponse(response: InferResponse, request: HttpInferRequest): EncodedResponse {
  const blobs: Buffer[] = [];
  let exactInts = false;
  const outputs = response.outputs.map((o) => {
    const binary = (o.requested?.binary_data as boolean | undefined) ?? request.binaryOutput;
    const out: Record<string, unknown> = { name: o.name, datatype: o.datatype, shape: o.shape };
    if (o.sharedMemory) {
      out.parameters = sharedMemoryParameters(o.sharedMemory);
    } else if (binary) {
      out.parameters = { binary_data_size: o.data.byteLength };
      blobs.push(o.data);
    } else {
      out.data = decoding(() => rawToJson(o.datatype, o.data));
      if (o.datatype === "INT64" || o.datatype === "UINT64") exactInts = true;
    }
    return out;
  });
  const body: Record<string, unknown> = { model_name: response.model_name, model_version: response.model_version };
  if (response.id !== undefined) body.id = response.id;
  if (response.parameters !== undefined) {
    body.parameters = response.parameters;
    for (const k in response.parameters) if (typeof response.parameters[k] === "bigint") exactInts = true;
  }
  body.outputs = outputs;
  const header = exactInts ? stringifyJson(body) : JSON.stringify(body);
  if (blobs.length === 0) return { contentType: "application/json", chunks: [header], byteLength: Buffer.byteLength(header) };
  const headerLength = Buffer.byteLength(header);
  let byteLength = headerLength;
  for (const b of blobs) byteLength += b.byteLength;
  return { contentType: "application/octet-stream", headerLength, chunks: [header, ...blobs], byteLength };
}
