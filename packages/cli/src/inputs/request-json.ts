// KServe v2 JSON inference requests (the body of POST /v2/models/{m}/infer) turned into client calls.
import { Tensor, type InferOptions, type ParameterValue, type RequestedOutput } from "@iaas/client";
import { isDataType, parseJson } from "@iaas/client/protocol";
import { describeOffset, jsonErrorOffset } from "./json-position.ts";

export interface ParsedRequest {
  inputs: Tensor[];
  options: InferOptions;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function parameters(v: unknown, where: string): Record<string, ParameterValue> {
  if (!isObject(v)) throw new TypeError(`${where} must be an object of name: value`);
  for (const [k, p] of Object.entries(v))
    if (!["string", "number", "boolean", "bigint"].includes(typeof p))
      throw new TypeError(`${where}.${k} must be a string, number or boolean, got ${p === null ? "null" : typeof p}`);
  return v as Record<string, ParameterValue>;
}

/**
 * Parses request text. `source` names it in messages (a file name or "stdin"). Throws a SyntaxError with
 * the JSON position, or a TypeError/RangeError naming the field that is wrong.
 */
export function parseInferRequest(text: string, source: string): ParsedRequest {
  let body: unknown;
  try {
    body = parseJson(text);
  } catch (err) {
    const offset = jsonErrorOffset(text);
    const where = offset >= 0 ? ` at ${describeOffset(text, offset)}` : "";
    throw new SyntaxError(`${source}: invalid JSON${where}: ${(err as Error).message}`);
  }
  if (!isObject(body)) throw new TypeError(`${source}: the request must be a JSON object with an "inputs" array`);
  const inputs = body["inputs"];
  if (!Array.isArray(inputs) || inputs.length === 0) throw new TypeError(`${source}: "inputs" must be a non-empty array`);
  const tensors = inputs.map((input: unknown, i) => {
    const where = `${source}: inputs[${i}]`;
    if (!isObject(input)) throw new TypeError(`${where} must be an object {name, shape, datatype, data}`);
    const { name, shape, datatype, data } = input;
    if (typeof name !== "string" || name === "") throw new TypeError(`${where}.name must be a non-empty string`);
    if (!isDataType(datatype)) throw new TypeError(`${where} (${name}): datatype ${JSON.stringify(datatype)} is not a KServe v2 datatype`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
      throw new TypeError(`${where} (${name}): shape must be an array of non-negative integers`);
    if (data === undefined) throw new TypeError(`${where} (${name}): "data" is missing`);
    try {
      return Tensor.fromJSON(name, datatype, shape as number[], data);
    } catch (err) {
      throw new RangeError(`${where}: ${(err as Error).message}`);
    }
  });

  const options: InferOptions = {};
  const id = body["id"];
  if (id !== undefined) {
    if (typeof id !== "string") throw new TypeError(`${source}: "id" must be a string`);
    options.id = id;
  }
  if (body["parameters"] !== undefined) options.parameters = parameters(body["parameters"], `${source}: parameters`);
  const outputs = body["outputs"];
  if (outputs !== undefined) {
    if (!Array.isArray(outputs)) throw new TypeError(`${source}: "outputs" must be an array of {name}`);
    options.outputs = outputs.map((o: unknown, i): RequestedOutput => {
      if (!isObject(o) || typeof o["name"] !== "string") throw new TypeError(`${source}: outputs[${i}] must be an object with a string "name"`);
      const out: RequestedOutput = { name: o["name"] };
      if (o["parameters"] !== undefined) out.parameters = parameters(o["parameters"], `${source}: outputs[${i}].parameters`);
      return out;
    });
  }
  return { inputs: tensors, options };
}
