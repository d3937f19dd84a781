// Response parameters (plain JS values) as gRPC InferParameter messages, keeping each value's kind:
// booleans, strings, integers (int64, or uint64 above int64's range) and doubles.
import type { Parameters } from "../../core/types.ts";

const INT64_MAX = (1n << 63n) - 1n;

export function parametersToGrpc(params: Parameters | undefined): Record<string, object> | undefined {
  if (params === undefined) return undefined;
  const out: Record<string, object> = {};
  for (const [k, v] of Object.entries(params)) {
    if (typeof v === "boolean") out[k] = { bool_param: v };
    else if (typeof v === "string") out[k] = { string_param: v };
    else if (typeof v === "bigint") out[k] = v > INT64_MAX ? { uint64_param: v.toString() } : { int64_param: v.toString() };
    else out[k] = Number.isSafeInteger(v) ? { int64_param: v } : { double_param: v };
  }
  return out;
}
