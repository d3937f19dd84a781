// `--input-data FILE`: request data read from a file instead of generated. Requests are sent in file order,
// from the start again after the last one. Two formats:
// - JSON (.json): one KServe v2 request body ({"inputs": [...]}), an array of them, or {"requests": [...]}.
//   A request's "outputs" entries that carry "data" are its expected outputs (perf_analyzer's validation
//   data, per request) for --validate; entries without "data" only name the outputs to return.
// - Arrow IPC (.arrow, .arrows, .feather, .ipc): one row per request. A column named like a model input is
//   that input; a column named like a model output is its expected value. Rows become tensors of one
//   sample ([1, ...] for a batching model, the row's own shape otherwise).
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { Tensor, type InferOptions } from "@iaas/client";
import { isDataType, parseJson } from "@iaas/client/protocol";
import { describeOffset, jsonErrorOffset } from "../inputs/json-position.ts";
import type { ModelInfo } from "../inputs/build.ts";

/** One request of a data file. */
export interface RequestData {
  inputs: Tensor[];
  /** Expected outputs (validation data), when the file has any for this request. */
  expected?: Tensor[];
  /** Outputs to ask for (names), parameters and id from the JSON request. */
  options?: InferOptions;
}

export interface DataFile {
  file: string;
  format: "json" | "arrow";
  requests: RequestData[];
  /** Requests carrying expected outputs. */
  withExpected: number;
}

const ARROW_EXTENSIONS = new Set([".arrow", ".arrows", ".feather", ".ipc"]);

/** True when `value` of --input-data names a file rather than a generator ("zero", "random"). */
export function isDataFile(value: string | undefined): value is string {
  return value !== undefined && value !== "zero" && value !== "random";
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function tensorOf(t: unknown, where: string): Tensor {
  if (!isObject(t)) throw new TypeError(`${where} must be an object {name, shape, datatype, data}`);
  const { name, shape, datatype, data } = t;
  if (typeof name !== "string" || name === "") throw new TypeError(`${where}.name must be a non-empty string`);
  if (!isDataType(datatype)) throw new TypeError(`${where} (${name}): datatype ${JSON.stringify(datatype)} is not a KServe v2 datatype`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
    throw new TypeError(`${where} (${name}): shape must be an array of non-negative integers`);
  try {
    return Tensor.fromJSON(name, datatype, shape as number[], data);
  } catch (err) {
    throw new RangeError(`${where} (${name}): ${(err as Error).message}`);
  }
}

function jsonRequest(body: unknown, where: string): RequestData {
  if (!isObject(body)) throw new TypeError(`${where} must be an object with an "inputs" array`);
  const inputs = body["inputs"];
  if (!Array.isArray(inputs) || inputs.length === 0) throw new TypeError(`${where}: "inputs" must be a non-empty array`);
  const req: RequestData = { inputs: inputs.map((t, i) => tensorOf(t, `${where}: inputs[${i}]`)) };
  const options: InferOptions = {};
  if (body["id"] !== undefined) {
    if (typeof body["id"] !== "string") throw new TypeError(`${where}: "id" must be a string`);
    options.id = body["id"];
  }
  if (body["parameters"] !== undefined) {
    if (!isObject(body["parameters"])) throw new TypeError(`${where}: "parameters" must be an object`);
    options.parameters = body["parameters"] as InferOptions["parameters"] & object;
  }
  const outputs = body["outputs"];
  if (outputs !== undefined) {
    if (!Array.isArray(outputs)) throw new TypeError(`${where}: "outputs" must be an array`);
    const expected: Tensor[] = [];
    const names: string[] = [];
    outputs.forEach((o: unknown, i) => {
      if (!isObject(o) || typeof o["name"] !== "string") throw new TypeError(`${where}: outputs[${i}] must be an object with a string "name"`);
      names.push(o["name"]);
      if (o["data"] !== undefined) expected.push(tensorOf(o, `${where}: outputs[${i}]`));
    });
    options.outputs = names;
    if (expected.length > 0) req.expected = expected;
  }
  if (Object.keys(options).length > 0) req.options = options;
  return req;
}

function parseJsonFile(text: string, file: string): RequestData[] {
  let body: unknown;
  try {
    body = parseJson(text);
  } catch (err) {
    const offset = jsonErrorOffset(text);
    throw new SyntaxError(`${file}: invalid JSON${offset >= 0 ? ` at ${describeOffset(text, offset)}` : ""}: ${(err as Error).message}`);
  }
  const list = Array.isArray(body) ? body : isObject(body) && Array.isArray(body["requests"]) ? body["requests"] : [body];
  if (list.length === 0) throw new RangeError(`${file}: no requests`);
  return list.map((r, i) => jsonRequest(r, list.length === 1 ? file : `${file}: request ${i}`));
}

/** A tensor of one row with the model's layout: [1, ...row] when it batches, the row's shape otherwise. */
function reshapeRow(t: Tensor, batching: boolean): Tensor {
  const row = t.shape.slice(1);
  const shape = batching ? [1, ...row] : row.length === 0 ? [1] : row;
  const raw = t.toRaw();
  return Tensor.fromRaw(t.name, t.datatype, shape, Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
}

async function parseArrowFile(bytes: Buffer, file: string, info: ModelInfo): Promise<RequestData[]> {
  let arrow: typeof import("apache-arrow");
  let arrowClient: typeof import("@iaas/client/arrow");
  try {
    arrow = await import("apache-arrow");
    arrowClient = await import("@iaas/client/arrow");
  } catch (err) {
    throw new Error(`reading ${file} needs the apache-arrow package: ${(err as Error).message}`, { cause: err });
  }
  let table;
  try {
    table = arrow.tableFromIPC(bytes);
  } catch (err) {
    throw new RangeError(`${file}: not an Arrow IPC file or stream: ${(err as Error).message}`);
  }
  const columns = table.schema.fields.map((f) => f.name);
  const inputNames = info.inputs.map((i) => i.name);
  const outputNames = info.outputs.map((o) => o.name);
  const missing = inputNames.filter((n) => !columns.includes(n));
  if (missing.length > 0)
    throw new RangeError(`${file}: no column for input(s) ${missing.map((n) => `"${n}"`).join(", ")} of model "${info.name}" (columns: ${columns.join(", ")})`);
  const expectedNames = outputNames.filter((n) => columns.includes(n));
  if (table.numRows === 0) throw new RangeError(`${file}: the table has no rows`);
  const batching = info.maxBatchSize > 0;
  const requests: RequestData[] = [];
  for (let r = 0; r < table.numRows; r++) {
    const row = table.slice(r, r + 1);
    const inputs = arrowClient.tensorsFromTable(row, inputNames).map((t) => reshapeRow(t, batching));
    const req: RequestData = { inputs };
    if (expectedNames.length > 0) req.expected = arrowClient.tensorsFromTable(row, expectedNames).map((t) => reshapeRow(t, batching));
    requests.push(req);
  }
  return requests;
}

/** Reads --input-data FILE for `info`'s model. Errors name the file and what is wrong. */
export async function readDataFile(file: string, info: ModelInfo): Promise<DataFile> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new RangeError(`cannot read input data file ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
  }
  const arrowFile = ARROW_EXTENSIONS.has(extname(file).toLowerCase());
  const requests = arrowFile ? await parseArrowFile(bytes, file, info) : parseJsonFile(bytes.toString("utf8"), file);
  const known = new Set(info.inputs.map((i) => i.name));
  for (const [i, r] of requests.entries())
    for (const t of r.inputs)
      if (!known.has(t.name)) throw new RangeError(`${file}: request ${i} has input "${t.name}", which model "${info.name}" does not have (inputs: ${[...known].join(", ")})`);
  return { file, format: arrowFile ? "arrow" : "json", requests, withExpected: requests.filter((r) => r.expected).length };
}
