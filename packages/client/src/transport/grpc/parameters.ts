// InferParameter (oneof bool/int64/string/double/uint64) <-> the API's ParameterValue.
import type { ParameterValue } from "../../api.ts";
import { InferenceError } from "../../errors.ts";

export interface WireParameter {
  bool_param?: boolean;
  int64_param?: string | number;
  string_param?: string;
  double_param?: number;
  uint64_param?: string | number;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

function toWire(key: string, v: ParameterValue): WireParameter {
  switch (typeof v) {
    case "boolean":
      return { bool_param: v };
    case "string":
      return { string_param: v };
    case "number":
      return Number.isSafeInteger(v) ? { int64_param: v } : { double_param: v };
    case "bigint":
      if (v >= INT64_MIN && v <= INT64_MAX) return { int64_param: v.toString() };
      // Triton reads sequence_id only from int64_param (or string_param), as the uint64 of its bits.
      if (key === "sequence_id" && v <= UINT64_MAX) return { int64_param: BigInt.asIntN(64, v).toString() };
      if (v > INT64_MAX && v <= UINT64_MAX) return { uint64_param: v.toString() };
      throw new InferenceError("invalid_argument", `parameter "${key}": ${v} does not fit int64 or uint64`);
    default:
      throw new InferenceError("invalid_argument", `parameter "${key}": ${typeof v} is not a parameter value`);
  }
}

export function parametersToWire(params: Record<string, ParameterValue> | undefined): Record<string, WireParameter> | undefined {
  if (!params) return undefined;
  const out: Record<string, WireParameter> = {};
  for (const k of Object.keys(params)) out[k] = toWire(k, params[k]!);
  return out;
}

function integer(text: string | number): number | bigint {
  if (typeof text === "number") return text;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

/** 64-bit integers come back as numbers when exact, as bigints beyond 2^53 (like parseJson over HTTP). */
export function parametersFromWire(params: Record<string, WireParameter> | undefined): Record<string, ParameterValue> {
  const out: Record<string, ParameterValue> = {};
  if (!params) return out;
  for (const k of Object.keys(params)) {
    const p = params[k]!;
    if (p.bool_param !== undefined) out[k] = p.bool_param;
    else if (p.string_param !== undefined) out[k] = p.string_param;
    else if (p.int64_param !== undefined) out[k] = integer(p.int64_param);
    else if (p.double_param !== undefined) out[k] = p.double_param;
    else if (p.uint64_param !== undefined) out[k] = integer(p.uint64_param);
  }
  return out;
}
