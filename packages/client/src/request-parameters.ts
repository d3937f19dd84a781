// Request and output parameters a caller may set directly, and the ones the protocol reserves for
// dedicated options: Triton reads those names itself (sequence ids, scheduling, binary output, shared
// memory, classification), so sending them as custom parameters would silently change the request.
import type { InferOptions, ParameterValue, RequestedOutput } from "./api.ts";
import { InferenceError } from "./errors.ts";

/** Request parameter names the protocol reserves, with the option that sets each (Triton's parameters extension). */
export const RESERVED_REQUEST_PARAMETERS: Readonly<Record<string, string>> = {
  sequence_id: "InferOptions.sequenceId",
  sequence_start: "InferOptions.sequenceStart",
  sequence_end: "InferOptions.sequenceEnd",
  priority: "InferOptions.priority",
  timeout: "InferOptions.serverTimeoutUs",
  headers: "CallOptions.headers",
  binary_data_output: "InferOptions.binaryOutputs",
};

/** Output parameter names reserved for the options that set them. */
export const RESERVED_OUTPUT_PARAMETERS: Readonly<Record<string, string>> = {
  binary_data: "RequestedOutput.binary",
  classification: "RequestedOutput.classCount",
  shared_memory_region: "RequestedOutput.sharedMemory",
  shared_memory_byte_size: "RequestedOutput.sharedMemory",
  shared_memory_offset: "RequestedOutput.sharedMemory",
};

function reservedFor(name: string, table: Readonly<Record<string, string>>): string | undefined {
  if (Object.hasOwn(table, name)) return table[name];
  if (name.startsWith("triton_")) return "the server (every 'triton_' name is Triton's)";
  if (name.startsWith("shared_memory_")) return "the shared-memory options";
  return undefined;
}

function checkValues(params: Record<string, ParameterValue>, where: string, table: Readonly<Record<string, string>>): void {
  if (params === null || typeof params !== "object" || Array.isArray(params))
    throw new InferenceError("invalid_argument", `${where}: parameters must be an object of name -> value`);
  for (const [k, v] of Object.entries(params)) {
    const owner = reservedFor(k, table);
    if (owner !== undefined)
      throw new InferenceError("invalid_argument", `${where}: parameter "${k}" is reserved by the protocol and cannot be set as a custom parameter; use ${owner}`);
    const t = typeof v;
    if (t !== "boolean" && t !== "string" && t !== "bigint" && !(t === "number" && Number.isFinite(v)))
      throw new InferenceError("invalid_argument", `${where}: parameter "${k}" must be a boolean, finite number, string or bigint, got ${t === "number" ? String(v) : t}`);
  }
}

const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MAX = (1n << 63n) - 1n;

function unsignedOption(name: string, v: unknown, max: bigint): number | bigint {
  const ok =
    (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) || (typeof v === "bigint" && v >= 0n && v <= max);
  if (!ok)
    throw new InferenceError(
      "invalid_argument",
      `infer: ${name} must be a non-negative integer${max === UINT64_MAX ? " (uint64)" : " (int64)"}, got ${typeof v === "bigint" ? v.toString() : JSON.stringify(v)}`,
    );
  return v as number | bigint;
}

/**
 * The request parameters to send: the caller's custom ones (checked: no reserved names, JSON-able values)
 * plus `priority` and `timeout` from InferOptions.priority / serverTimeoutUs. Undefined when there are none.
 */
export function requestParameters(options: InferOptions | undefined): Record<string, ParameterValue> | undefined {
  if (options === undefined) return undefined;
  const custom = options.parameters;
  if (custom !== undefined) checkValues(custom, "infer", RESERVED_REQUEST_PARAMETERS);
  if (options.priority === undefined && options.serverTimeoutUs === undefined) return custom;
  const out: Record<string, ParameterValue> = { ...custom };
  if (options.priority !== undefined) out.priority = unsignedOption("priority", options.priority, UINT64_MAX);
  if (options.serverTimeoutUs !== undefined) out.timeout = unsignedOption("serverTimeoutUs", options.serverTimeoutUs, INT64_MAX);
  return out;
}

/** The parameters of one requested output: the caller's (checked) plus `classification` from classCount. */
export function outputParameters(o: RequestedOutput): Record<string, ParameterValue> | undefined {
  const where = `infer: output "${o.name}"`;
  if (o.parameters !== undefined) checkValues(o.parameters, where, RESERVED_OUTPUT_PARAMETERS);
  if (o.classCount === undefined) return o.parameters;
  if (!Number.isSafeInteger(o.classCount) || o.classCount < 1)
    throw new InferenceError("invalid_argument", `${where}: classCount must be a positive integer, got ${JSON.stringify(o.classCount)}`);
  return { ...o.parameters, classification: o.classCount };
}
