// gRPC details of tensors in shared memory: which raw_input_contents entry feeds which input when some
// inputs come from regions, and the parameters a shared-memory output carries in the response.
import { invalidArg } from "../../core/errors.ts";
import type { SharedMemoryRef } from "../../shared-memory/system-shared-memory.ts";
import { SHM_BYTE_SIZE, SHM_OFFSET, SHM_REGION } from "../../shared-memory/tensor-parameters.ts";

/**
 * For each input, the index of its raw_input_contents entry (undefined: none). Accepted layouts: no raw
 * entries; one per input (entries of shared-memory inputs must be empty); or one per input that is not in
 * shared memory, in input order (what Triton's clients send).
 */
export function rawInputFor(rawCount: number, shmInputs: readonly (SharedMemoryRef | undefined)[], model: string): (number | undefined)[] {
  if (rawCount === 0) return shmInputs.map(() => undefined);
  if (rawCount === shmInputs.length) return shmInputs.map((_, i) => i);
  const inMemory = shmInputs.filter((s) => s === undefined).length;
  if (rawCount !== inMemory) {
    const shared = shmInputs.length - inMemory;
    throw invalidArg(
      `raw_input_contents has ${rawCount} entries but the request has ${shmInputs.length} inputs for model '${model}'` +
        (shared > 0 ? ` (${shared} in shared memory); send one per input that is not in shared memory` : "; send one per input"),
    );
  }
  let next = 0;
  return shmInputs.map((s) => (s === undefined ? next++ : undefined));
}

/** InferParameter map for an output written to shared memory. */
export function sharedMemoryOutputParameters(ref: SharedMemoryRef): Record<string, unknown> {
  return {
    [SHM_REGION]: { string_param: ref.region },
    [SHM_BYTE_SIZE]: { int64_param: ref.byteSize },
    [SHM_OFFSET]: { int64_param: ref.offset },
  };
}
