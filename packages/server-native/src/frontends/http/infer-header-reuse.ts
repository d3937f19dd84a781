// Clients send the same JSON header with every binary infer request to a model (only the tensor bytes
// after it change): @iaas/client, tritonclient and perf_analyzer all reuse theirs. Parsing and checking
// that header again costs the JS thread several microseconds per request (JSON.parse, the large-integer
// scan, shape and parameter checks; bench/README.md, scheduling section). A header decoded once is kept
// here, by its text, as a template, and an identical header with a binary part of the same length is
// built from the template: fresh objects for every request (callers may change them), tensor data as
// views of the new body at the same offsets, so the result equals what the full decode gives.
//
// Only headers whose every input carries binary data (binary_data_size) and that name no shared memory
// are kept: anything else (JSON tensor data, shared-memory regions, whose meaning depends on the server's
// registrations) takes the full path every time, as does a header whose binary part has another length
// (the full path then reports what is wrong).
import type { Parameters } from "../../core/types.ts";
import type { HttpInferRequest } from "./infer-codec.ts";

/** Longer headers are not kept (they are rare, and the cache must stay small). */
export const MAX_REUSED_HEADER_CHARS = 4096;
/** Distinct headers kept; the cache is emptied when a new one would exceed this. */
export const MAX_REUSED_HEADERS = 64;

interface InputTemplate {
  name: string;
  datatype: string;
  shape: number[];
  parameters: Parameters | undefined;
  byteLength: number;
}

interface OutputTemplate {
  name: string;
  parameters: Parameters | undefined;
}

interface HeaderTemplate {
  inputs: InputTemplate[];
  /** The binary part's length the header claims (sum of the inputs' binary_data_size). */
  binaryBytes: number;
  binaryOutput: boolean;
  id: string | undefined;
  parameters: Parameters | undefined;
  outputs: OutputTemplate[] | undefined;
}

const templates = new Map<string, HeaderTemplate>();
let hits = 0;

const copyParameters = (p: Parameters | undefined): Parameters | undefined => (p === undefined ? undefined : { ...p });

/**
 * The request for `text` (the JSON header) built from a kept template, or undefined when none fits (then
 * the caller decodes in full and offers the result to rememberHeader).
 */
export function reuseHeader(text: string, model: string, version: string | undefined, binary: Buffer): HttpInferRequest | undefined {
  if (text.length > MAX_REUSED_HEADER_CHARS) return undefined; // never kept: skip hashing a large JSON body
  const t = templates.get(text);
  if (t === undefined || t.binaryBytes !== binary.byteLength) return undefined;
  hits++;
  let offset = 0;
  // Objects are built in the order the full decode builds them (same shapes, equal under deepEqual).
  const inputs = t.inputs.map((i) => {
    const input: HttpInferRequest["inputs"][number] = { name: i.name, datatype: i.datatype, shape: i.shape.slice(), data: binary.subarray(offset, offset + i.byteLength) };
    offset += i.byteLength;
    const params = copyParameters(i.parameters);
    if (params) input.parameters = params;
    return input;
  });
  const request: HttpInferRequest = { model, version, inputs, binaryOutput: t.binaryOutput };
  if (t.id !== undefined) request.id = t.id;
  const params = copyParameters(t.parameters);
  if (params) request.parameters = params;
  if (t.outputs) request.outputs = t.outputs.map((o) => (o.parameters ? { name: o.name, parameters: copyParameters(o.parameters)! } : { name: o.name }));
  return request;
}

/**
 * Keeps the template of a header the full decode accepted, when every input took its data from the
 * binary part and nothing names shared memory. `binaryBytes`: the length of the body's binary part.
 */
export function rememberHeader(text: string, request: HttpInferRequest, binaryBytes: number): void {
  if (text.length > MAX_REUSED_HEADER_CHARS || templates.has(text)) return;
  let claimed = 0;
  for (const input of request.inputs) {
    if (input.sharedMemory !== undefined || input.parameters?.binary_data_size === undefined) return;
    claimed += input.data.byteLength;
  }
  if (claimed !== binaryBytes) return;
  if (request.outputs?.some((o) => o.sharedMemory !== undefined)) return;
  if (templates.size >= MAX_REUSED_HEADERS) templates.clear();
  templates.set(text, {
    inputs: request.inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape.slice(), parameters: copyParameters(i.parameters), byteLength: i.data.byteLength })),
    binaryBytes,
    binaryOutput: request.binaryOutput,
    id: request.id,
    parameters: copyParameters(request.parameters),
    outputs: request.outputs?.map((o) => ({ name: o.name, parameters: copyParameters(o.parameters) })),
  });
}

/** Requests built from a template so far, and the number of templates kept (for tests). */
export function headerReuseCounts(): { hits: number; kept: number } {
  return { hits, kept: templates.size };
}

/** Forgets every template (for tests: the next decode of each header takes the full path). */
export function forgetReusedHeaders(): void {
  templates.clear();
}
