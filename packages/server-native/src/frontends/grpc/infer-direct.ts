// ModelInfer bytes straight to the core's InferRequest, and the core's InferResponse straight to a framed
// ModelInferResponse, for the messages nearly every client sends: raw_input_contents, one entry per input,
// known datatypes, no parameters. The general path (infer-wire.ts's decoder or protobufjs, then
// grpc-server.ts's decodeInfer / encodeInfer) builds an intermediate proto-loader object each way (string
// shapes, empty parameter maps, three passes over the inputs); this skips it. Anything else returns
// undefined and takes the general path, which also produces every error message, so both paths accept the
// same requests and answer them with the same bytes.
import { isDataType } from "@iaas/client/protocol";
import type { InferInput, InferRequest, InferResponse, RequestedOutput } from "../../core/types.ts";
import { FALLBACK, Reader, varintSize, writeVarint } from "./infer-wire.ts";

function readShapeDim(r: Reader, shape: number[]): void {
  const d = r.uint();
  if (!Number.isSafeInteger(d)) throw FALLBACK;
  shape.push(d);
}

function readInput(r: Reader, end: number): InferInput {
  let name = "";
  let datatype = "";
  const shape: number[] = [];
  while (r.pos < end) {
    const tag = r.uint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 2) name = r.string();
    else if (field === 2 && wire === 2) datatype = r.string();
    else if (field === 3 && wire === 2) {
      const stop = r.bytesEnd();
      while (r.pos < stop) readShapeDim(r, shape);
      if (r.pos !== stop) throw FALLBACK;
    } else if (field === 3 && wire === 0) readShapeDim(r, shape);
    else if (field <= 5) throw FALLBACK; // parameters, contents, or a known field with another wire type
    else r.skip(wire);
  }
  if (r.pos !== end || !isDataType(datatype)) throw FALLBACK;
  return { name, datatype, shape, data: EMPTY };
}

function readOutput(r: Reader, end: number): RequestedOutput {
  let name = "";
  while (r.pos < end) {
    const tag = r.uint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 2) name = r.string();
    else if (field <= 2) throw FALLBACK; // parameters
    else r.skip(wire);
  }
  if (r.pos !== end) throw FALLBACK;
  return { name };
}

const EMPTY = Buffer.alloc(0);

/** The request as the general path would decode it, or undefined when it needs the general path. */
export function decodeModelInferDirect(bytes: Buffer): InferRequest | undefined {
  try {
    const r = new Reader(bytes, 0, bytes.length);
    let model = "";
    let version = "";
    let id = "";
    const inputs: InferInput[] = [];
    const outputs: RequestedOutput[] = [];
    let raw = 0;
    while (r.pos < r.end) {
      const tag = r.uint();
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (field >= 1 && field <= 7) {
        if (wire !== 2 || field === 4) throw FALLBACK; // parameters, or a known field with another wire type
        const end = r.bytesEnd();
        if (field === 1) model = bytes.toString("utf8", r.pos, end);
        else if (field === 2) version = bytes.toString("utf8", r.pos, end);
        else if (field === 3) id = bytes.toString("utf8", r.pos, end);
        else if (field === 5) inputs.push(readInput(r, end));
        else if (field === 6) outputs.push(readOutput(r, end));
        else {
          // raw_input_contents follow the inputs on the wire in every client seen; other orders go the general way.
          if (raw >= inputs.length) throw FALLBACK;
          inputs[raw++]!.data = bytes.subarray(r.pos, end);
        }
        r.pos = end;
      } else {
        r.skip(wire);
      }
    }
    if (inputs.length === 0 || raw !== inputs.length) return undefined;
    const request: InferRequest = { model, version, inputs, outputs };
    if (id !== "") request.id = id;
    return request;
  } catch (err) {
    if (err === FALLBACK) return undefined;
    throw err;
  }
}

/**
 * The answer as one gRPC frame (5-byte prefix + ModelInferResponse with raw_output_contents), or undefined
 * when it has parameters or shared-memory outputs (the general path encodes those).
 */
export function encodeModelInferDirect(response: InferResponse): Buffer | undefined {
  if (response.parameters !== undefined) return undefined;
  const { model_name, model_version, outputs } = response;
  const id = response.id ?? "";
  const nameBytes = Buffer.byteLength(model_name);
  const versionBytes = Buffer.byteLength(model_version);
  const idBytes = Buffer.byteLength(id);
  let size = 0;
  if (nameBytes > 0) size += 1 + varintSize(nameBytes) + nameBytes;
  if (versionBytes > 0) size += 1 + varintSize(versionBytes) + versionBytes;
  if (idBytes > 0) size += 1 + varintSize(idBytes) + idBytes;
  // Per output: name bytes, datatype bytes, packed shape bytes, tensor message bytes (4 numbers each).
  const sizes = new Array<number>(outputs.length * 4);
  for (let i = 0; i < outputs.length; i++) {
    const o = outputs[i]!;
    if (o.sharedMemory !== undefined) return undefined;
    const name = Buffer.byteLength(o.name);
    const datatype = o.datatype.length; // datatype names are ASCII
    let shape = 0;
    for (const d of o.shape) {
      if (!(d >= 0 && Number.isSafeInteger(d))) return undefined;
      shape += varintSize(d);
    }
    let body = 0;
    if (name > 0) body += 1 + varintSize(name) + name;
    if (datatype > 0) body += 1 + varintSize(datatype) + datatype;
    if (o.shape.length > 0) body += 1 + varintSize(shape) + shape;
    sizes[i * 4] = name;
    sizes[i * 4 + 1] = datatype;
    sizes[i * 4 + 2] = shape;
    sizes[i * 4 + 3] = body;
    size += 1 + varintSize(body) + body + 1 + varintSize(o.data.byteLength) + o.data.byteLength;
  }
  if (size > 0xffffffff) return undefined; // beyond a gRPC frame's length prefix; the general path refuses it
  const out = Buffer.allocUnsafe(5 + size);
  out[0] = 0;
  out.writeUInt32BE(size, 1);
  let at = 5;
  if (nameBytes > 0) {
    out[at++] = (1 << 3) | 2;
    at = writeVarint(out, at, nameBytes);
    at += out.write(model_name, at, "utf8");
  }
  if (versionBytes > 0) {
    out[at++] = (2 << 3) | 2;
    at = writeVarint(out, at, versionBytes);
    at += out.write(model_version, at, "utf8");
  }
  if (idBytes > 0) {
    out[at++] = (3 << 3) | 2;
    at = writeVarint(out, at, idBytes);
    at += out.write(id, at, "utf8");
  }
  for (let i = 0; i < outputs.length; i++) {
    const o = outputs[i]!;
    out[at++] = (5 << 3) | 2;
    at = writeVarint(out, at, sizes[i * 4 + 3]!);
    if (sizes[i * 4]! > 0) {
      out[at++] = (1 << 3) | 2;
      at = writeVarint(out, at, sizes[i * 4]!);
      at += out.write(o.name, at, "utf8");
    }
    if (sizes[i * 4 + 1]! > 0) {
      out[at++] = (2 << 3) | 2;
      at = writeVarint(out, at, sizes[i * 4 + 1]!);
      at += out.write(o.datatype, at, "latin1");
    }
    if (o.shape.length > 0) {
      out[at++] = (3 << 3) | 2;
      at = writeVarint(out, at, sizes[i * 4 + 2]!);
      for (const d of o.shape) at = writeVarint(out, at, d);
    }
  }
  for (const o of outputs) {
    out[at++] = (6 << 3) | 2;
    at = writeVarint(out, at, o.data.byteLength);
    out.set(o.data, at);
    at += o.data.byteLength;
  }
  return out;
}
