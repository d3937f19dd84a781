// ModelInferResponse answers whose metadata repeats. A server answers one model and one set of shapes
// with the same bytes before raw_output_contents every time (model name, version, id, each output's
// name, datatype and shape), so that part is parsed and checked once: while an answer starts with bytes
// seen before and then carries exactly the raw entries that layout expects (each of the byte length its
// shape needs, nothing after them), its outputs are cut from the raw entries by the kept layout. Only
// answers without parameters of their own (response or output level), with one raw entry per output and
// fixed-size datatypes, are kept; a request that put outputs in shared memory always takes the full parse.
import { InferenceError } from "../../errors.ts";
import { elementSize, isDataType, type FixedDataType } from "../../protocol/datatypes.ts";
import { rawTensor, type Tensor } from "../../tensor.ts";
import type { InferResponse, OutputRequest } from "../transport.ts";
import { decodeInferResponse, type WireInferResponse } from "./infer-codec.ts";
import { modelInferCodec } from "./service.ts";

/** Distinct answer layouts kept (models x shapes in use); the oldest goes when one more comes. */
const MAX_LAYOUTS = 8;
/** raw_output_contents (field 6, length-delimited). */
const RAW_TAG = (6 << 3) | 2;

interface OutputSpec {
  name: string;
  datatype: FixedDataType;
  shape: number[];
  byteLength: number;
}

interface AnswerLayout {
  /** The answer's bytes before its first raw_output_contents entry. */
  meta: Buffer;
  modelName: string;
  modelVersion: string;
  id: string;
  outputs: OutputSpec[];
}

/** ModelInfer's answer bytes as an InferResponse (the full parse); `outputs` are the requested outputs. */
export function decodeModelInferAnswer(bytes: Buffer, outputs: readonly OutputRequest[] | undefined): InferResponse {
  let wire: WireInferResponse;
  try {
    wire = modelInferCodec().deserialize(bytes) as WireInferResponse;
  } catch (e) {
    // grpc-js reports an answer it cannot parse as INTERNAL.
    throw new InferenceError("internal", `Response message parsing error: ${(e as Error).message}`, { grpcCode: 13, cause: e });
  }
  return decodeInferResponse(wire, outputs);
}

/** Whether `b` starts with the bytes of `meta` (a loop: Buffer#compare with offsets costs more for these few bytes). */
function startsWith(b: Buffer, meta: Buffer): boolean {
  const n = meta.length;
  if (b.length <= n) return false;
  for (let i = 0; i < n; i++) if (b[i] !== meta[i]) return false;
  return true;
}

function hasRegions(outputs: readonly OutputRequest[] | undefined): boolean {
  if (outputs !== undefined) for (let i = 0; i < outputs.length; i++) if (outputs[i]!.sharedMemory !== undefined) return true;
  return false;
}

/** Reads a varint at `pos` of `b` (below `end`): [value, next position], or undefined when malformed. */
function varintAt(b: Buffer, pos: number, end: number): [number, number] | undefined {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10 && pos < end; i++) {
    const x = b[pos++]!;
    result += (x & 0x7f) * mul;
    if (x < 0x80) return [result, pos];
    mul *= 128;
  }
  return undefined;
}

/** Where the first raw_output_contents entry starts, when every top-level field before it is one of 1-5. */
function metaEnd(b: Buffer): number {
  let pos = 0;
  const end = b.length;
  while (pos < end) {
    const tag = varintAt(b, pos, end);
    if (tag === undefined) return -1;
    const [t, next] = tag;
    if (t === RAW_TAG) return pos;
    if ((t & 7) !== 2 || t >>> 3 < 1 || t >>> 3 > 5) return -1;
    const len = varintAt(b, next, end);
    if (len === undefined) return -1;
    pos = len[1] + len[0];
  }
  return -1;
}

/** The outputs of `b` by `layout`, or undefined when its raw entries are not exactly what the layout expects. */
function cut(layout: AnswerLayout, b: Buffer): Tensor[] | undefined {
  const specs = layout.outputs;
  const outputs: Tensor[] = new Array(specs.length);
  let pos = layout.meta.length;
  const end = b.length;
  for (let i = 0; i < specs.length; i++) {
    const o = specs[i]!;
    if (pos >= end || b[pos] !== RAW_TAG) return undefined;
    let n: number;
    const x = b[pos + 1];
    if (x !== undefined && x < 0x80) {
      n = x;
      pos += 2;
    } else {
      const len = varintAt(b, pos + 1, end);
      if (len === undefined) return undefined;
      n = len[0];
      pos = len[1];
    }
    if (n !== o.byteLength || pos + n > end) return undefined;
    // Shapes are copied: each answer's tensors own theirs, as when the answer is parsed. A plain
    // Uint8Array view costs less to make than Buffer#subarray.
    outputs[i] = rawTensor(o.name, o.datatype, o.shape.slice(), new Uint8Array(b.buffer, b.byteOffset + pos, n));
    pos += n;
  }
  return pos === end ? outputs : undefined;
}

/** The layout of an answer just parsed, when it is one this cache keeps. */
function layoutOf(b: Buffer, wire: WireInferResponse, response: InferResponse): AnswerLayout | undefined {
  const wireOutputs = wire.outputs ?? [];
  const raw = wire.raw_output_contents ?? [];
  if (raw.length !== wireOutputs.length || raw.length === 0 || Object.keys(response.parameters).length > 0) return undefined;
  const outputs: OutputSpec[] = [];
  for (let i = 0; i < wireOutputs.length; i++) {
    const o = wireOutputs[i]!;
    const t = response.outputs[i]!;
    if (o.contents !== undefined || (o.parameters !== undefined && Object.keys(o.parameters).length > 0)) return undefined;
    if (!isDataType(t.datatype) || t.datatype === "BYTES" || t.sharedMemory !== undefined) return undefined;
    const byteLength = raw[i]!.byteLength;
    let count = 1;
    for (const d of t.shape) count *= d;
    if (count * elementSize(t.datatype) !== byteLength) return undefined;
    outputs.push({ name: t.name, datatype: t.datatype, shape: t.shape.slice(), byteLength });
  }
  const at = metaEnd(b);
  if (at < 0) return undefined;
  const layout: AnswerLayout = {
    meta: Buffer.from(b.subarray(0, at)),
    modelName: response.modelName,
    modelVersion: response.modelVersion,
    id: response.id,
    outputs,
  };
  // The layout must read this very answer the way the parse did (raw entries in order, nothing after them).
  return cut(layout, b) === undefined ? undefined : layout;
}

/** The answer layouts of one transport. */
export class InferAnswerLayouts {
  readonly #layouts: AnswerLayout[] = [];

  /** As decodeModelInferAnswer (same results, same errors), reusing the parse of metadata seen before. */
  decode(bytes: Buffer, requested: readonly OutputRequest[] | undefined): InferResponse {
    if (requested !== undefined && hasRegions(requested)) return decodeModelInferAnswer(bytes, requested);
    const layouts = this.#layouts;
    for (let i = 0; i < layouts.length; i++) {
      const layout = layouts[i]!;
      if (!startsWith(bytes, layout.meta)) continue;
      const outputs = cut(layout, bytes);
      if (outputs === undefined) break;
      return { modelName: layout.modelName, modelVersion: layout.modelVersion, id: layout.id, parameters: {}, outputs };
    }
    let wire: WireInferResponse;
    try {
      wire = modelInferCodec().deserialize(bytes) as WireInferResponse;
    } catch (e) {
      throw new InferenceError("internal", `Response message parsing error: ${(e as Error).message}`, { grpcCode: 13, cause: e });
    }
    const response = decodeInferResponse(wire, requested);
    const layout = layoutOf(bytes, wire, response);
    if (layout !== undefined) {
      if (layouts.length >= MAX_LAYOUTS) layouts.pop();
      layouts.unshift(layout);
    }
    return response;
  }

  /** Layouts kept now (tests). */
  get size(): number {
    return this.#layouts.length;
  }
}

