// Triton's sequence extension on a request: `sequence_id` (uint64, or a string; 0 and "" mean "no
// sequence"), `sequence_start`, `sequence_end` (booleans), as both front ends decode them into request
// parameters. Over gRPC Triton sends the id as int64_param and reads its bits as uint64, so a negative
// integer here is the uint64 of the same bits.
import type { SequenceFlags } from "../scheduler/model-instance.ts";
import { invalidArg } from "./errors.ts";
import type { ParameterValue, Parameters } from "./types.ts";

const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);

const shown = (v: ParameterValue): string => (typeof v === "string" ? JSON.stringify(v) : `${String(v)} (${typeof v})`);

function flag(params: Parameters, name: "sequence_start" | "sequence_end"): boolean {
  const v = params[name];
  if (v === undefined) return false;
  if (typeof v !== "boolean") throw invalidArg(`invalid value type for '${name}' parameter, expected a boolean, got ${shown(v)}`);
  return v;
}

/** The request's sequence flags, or undefined when it names no sequence (no id, 0 or ""). */
export function sequenceFlags(params: Parameters | undefined): SequenceFlags | undefined {
  if (params === undefined) return undefined;
  const raw = params.sequence_id;
  const start = flag(params, "sequence_start");
  const end = flag(params, "sequence_end");
  if (raw === undefined) return undefined;
  let id: bigint | string;
  if (typeof raw === "string") {
    id = raw;
  } else if ((typeof raw === "number" && Number.isSafeInteger(raw)) || typeof raw === "bigint") {
    const n = BigInt(raw);
    if (n < INT64_MIN || n > UINT64_MAX)
      throw invalidArg(`request parameter 'sequence_id' ${n} does not fit 64 bits; it must be an unsigned 64-bit integer or a string`);
    id = BigInt.asUintN(64, n);
  } else {
    throw invalidArg(`invalid value type for 'sequence_id' parameter, expected an unsigned 64-bit integer or a string, got ${shown(raw)}`);
  }
  if (id === "" || id === 0n) return undefined;
  return { id, start, end };
}

/**
 * The sequence flags of a request to a sequence-batched model: the batcher itself rejects a request
 * without a sequence id; a batch of more than one cannot belong to one sequence.
 */
export function sequenceRequest(model: string, params: Parameters | undefined, batchSize: number): SequenceFlags | undefined {
  const flags = sequenceFlags(params);
  if (batchSize > 1)
    throw invalidArg(`inference request to model '${model}' must specify batch-size 1 due to requirements of sequence batcher, got batch size ${batchSize}`);
  return flags;
}
