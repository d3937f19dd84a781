// Request-level parameters the core understands (Triton's schedule_policy extension: `priority` and
// `timeout` in microseconds), and the custom ones it echoes back in the response parameters.
import { invalidArg } from "./errors.ts";
import type { ParameterValue, Parameters } from "./types.ts";

/**
 * Request parameter names with a protocol meaning (Triton's parameters extension, plus the ones iaas
 * and its front ends use). They are never echoed as custom parameters.
 */
export const RESERVED_REQUEST_PARAMETERS: ReadonlySet<string> = new Set([
  "sequence_id",
  "sequence_start",
  "sequence_end",
  "priority",
  "timeout",
  "headers",
  "binary_data_output",
]);

export function isReservedRequestParameter(name: string): boolean {
  return RESERVED_REQUEST_PARAMETERS.has(name) || name.startsWith("triton_") || name.startsWith("shared_memory_");
}

const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MAX = (1n << 63n) - 1n;

function unsigned(name: string, v: ParameterValue, max: bigint, what: string): number {
  const ok = (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) || (typeof v === "bigint" && v >= 0n && v <= max);
  if (!ok)
    throw invalidArg(
      `request parameter '${name}' must be ${what}, got ${typeof v === "string" ? JSON.stringify(v) : String(v)} (${typeof v === "number" && !Number.isInteger(v) ? "a fraction" : typeof v})`,
    );
  // Values past 2^53 are far beyond any priority level or timeout; they keep their meaning ("lowest",
  // "practically never") as MAX_SAFE_INTEGER.
  return typeof v === "bigint" ? (v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v)) : v;
}

export interface SchedulingParameters {
  /** Triton priority: 1 is highest, 0 (or absent) means the model's default level. */
  priority?: number;
  /** Queue timeout in microseconds; 0 (or absent) means the model's default. */
  timeoutUs?: number;
}

/** Reads and checks `priority` (unsigned integer) and `timeout` (non-negative int64 microseconds). */
export function schedulingParameters(params: Parameters | undefined): SchedulingParameters {
  const out: SchedulingParameters = {};
  if (params === undefined) return out;
  if (params.priority !== undefined) out.priority = unsigned("priority", params.priority, UINT64_MAX, "an unsigned integer (1 = highest priority, 0 = the model's default)");
  if (params.timeout !== undefined) out.timeoutUs = unsigned("timeout", params.timeout, INT64_MAX, "a non-negative integer number of microseconds");
  return out;
}

/** The custom (not reserved) parameters of a request, or undefined when there are none. */
export function customParameters(params: Parameters | undefined): Parameters | undefined {
  if (params === undefined) return undefined;
  let out: Parameters | undefined;
  for (const k in params) {
    if (isReservedRequestParameter(k)) continue;
    (out ??= {})[k] = params[k]!;
  }
  return out;
}
