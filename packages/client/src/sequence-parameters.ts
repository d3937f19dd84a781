// InferOptions' sequenceId / sequenceStart / sequenceEnd as Triton's request parameters sequence_id,
// sequence_start, sequence_end (both transports then encode them as they encode any parameter: HTTP JSON
// writes a bigint id as an exact integer; gRPC sends integers as int64_param, see grpc/parameters.ts).
import type { ParameterValue } from "./api.ts";
import { InferenceError } from "./errors.ts";

/** A sequence (correlation) id: an unsigned 64-bit integer (number or bigint) or a string. */
export type SequenceId = number | bigint | string;

export interface SequenceFields {
  sequenceId?: SequenceId | undefined;
  sequenceStart?: boolean | undefined;
  sequenceEnd?: boolean | undefined;
}

const UINT64_MAX = (1n << 64n) - 1n;
const RESERVED = ["sequence_id", "sequence_start", "sequence_end"] as const;

/** Throws invalid_argument unless `id` is a non-zero uint64 (number or bigint) or a non-empty string. */
export function checkSequenceId(what: string, id: unknown): SequenceId {
  const ok =
    (typeof id === "number" && Number.isSafeInteger(id) && id > 0) ||
    (typeof id === "bigint" && id > 0n && id <= UINT64_MAX) ||
    (typeof id === "string" && id !== "");
  if (!ok)
    throw new InferenceError(
      "invalid_argument",
      `${what}: sequenceId must be a positive integer below 2^64 (number up to 2^53, or bigint) or a non-empty string, got ${typeof id === "bigint" ? `${id}n` : JSON.stringify(id)}` +
        " (0 and \"\" mean no sequence)",
    );
  return id as SequenceId;
}

/**
 * `parameters` with the sequence fields added (a new object; `parameters` itself is returned unchanged
 * when no sequence field is set). Conflicting explicit sequence_* parameters are an error.
 */
export function withSequenceParameters(
  what: string,
  parameters: Record<string, ParameterValue> | undefined,
  fields: SequenceFields | undefined,
): Record<string, ParameterValue> | undefined {
  if (fields === undefined) return parameters;
  const { sequenceId, sequenceStart, sequenceEnd } = fields;
  if (sequenceId === undefined && sequenceStart === undefined && sequenceEnd === undefined) return parameters;
  for (const [name, v] of [["sequenceStart", sequenceStart], ["sequenceEnd", sequenceEnd]] as const)
    if (v !== undefined && typeof v !== "boolean") throw new InferenceError("invalid_argument", `${what}: ${name} must be a boolean, got ${JSON.stringify(v)}`);
  if (sequenceId === undefined)
    throw new InferenceError("invalid_argument", `${what}: sequenceStart / sequenceEnd need a sequenceId`);
  const id = checkSequenceId(what, sequenceId);
  if (parameters) for (const k of RESERVED) if (k in parameters)
    throw new InferenceError("invalid_argument", `${what}: parameter '${k}' conflicts with the sequence options; set sequenceId / sequenceStart / sequenceEnd only`);
  return { ...parameters, sequence_id: id, sequence_start: sequenceStart === true, sequence_end: sequenceEnd === true };
}
