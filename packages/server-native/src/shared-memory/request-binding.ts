// Binds one inference request to the shared-memory regions its tensors name: inputs read straight from
// their region (Buffer views, no copy), outputs are written by the kernel straight into theirs. The
// binding holds a lease on every range until release(), which the core calls only after the native
// execution has settled: unregistering a region meanwhile defers its unmap instead of pulling memory
// from under a running kernel.
import { invalidArg } from "../core/errors.ts";
import type { InferOutput, InferRequest } from "../core/types.ts";
import type { ExecuteRequest } from "../native/types.ts";
import type { SharedMemoryLease, SharedMemoryRef, SystemSharedMemory } from "./system-shared-memory.ts";
import { sharedMemoryDisabled } from "./tensor-parameters.ts";

const EMPTY = Buffer.alloc(0);

export interface SharedMemoryBinding {
  /**
   * After the backend planned the execution and the core selected the outputs: points the native output
   * buffer of each shared-memory output at its region and marks the response output (no data, `sharedMemory`
   * set). Throws INVALID_ARG when a region range is too small for its output or overlaps another tensor.
   */
  placeOutputs(native: ExecuteRequest, outputs: InferOutput[]): void;
  /** After a successful execution: copies the outputs that could not be written in place. */
  finish(): void;
  /** Returns every lease; idempotent. */
  release(): void;
}

interface Placed {
  name: string;
  ref: SharedMemoryRef;
  lease: SharedMemoryLease;
}

function overlaps(a: SharedMemoryLease, b: SharedMemoryLease): boolean {
  if (a.key !== b.key || a.view.byteLength === 0 || b.view.byteLength === 0) return false;
  return a.objectOffset < b.objectOffset + b.view.byteLength && b.objectOffset < a.objectOffset + a.view.byteLength;
}

/**
 * Leases the regions `request` names and swaps each shared-memory input's data for a view of its region.
 * Returns undefined (and touches nothing) when no tensor of the request uses shared memory.
 */
export function bindSharedMemory(shm: SystemSharedMemory | undefined, request: InferRequest): SharedMemoryBinding | undefined {
  let used = false;
  for (const input of request.inputs) if (input.sharedMemory !== undefined) used = true;
  if (request.outputs !== undefined) for (const output of request.outputs) if (output.sharedMemory !== undefined) used = true;
  if (!used) return undefined;

  const inputLeases: Placed[] = [];
  const outputLeases: Placed[] = [];
  const release = (): void => {
    for (const p of inputLeases) p.lease.release();
    for (const p of outputLeases) p.lease.release();
  };
  try {
    for (const input of request.inputs) {
      const ref = input.sharedMemory;
      if (ref === undefined) continue;
      const where = `input '${input.name}'`;
      if (shm === undefined) throw sharedMemoryDisabled(where);
      const lease = shm.lease(ref, where);
      inputLeases.push({ name: input.name, ref, lease });
      input.data = lease.view;
    }
    for (const output of request.outputs ?? []) {
      const ref = output.sharedMemory;
      if (ref === undefined) continue;
      const where = `output '${output.name}'`;
      if (shm === undefined) throw sharedMemoryDisabled(where);
      const lease = shm.lease(ref, where);
      for (const other of [...inputLeases, ...outputLeases]) {
        if (overlaps(lease, other.lease)) {
          lease.release();
          const kind = inputLeases.includes(other) ? "input" : "output";
          throw invalidArg(
            `output '${output.name}': its shared memory (region '${ref.region}', offset ${ref.offset}, ${ref.byteSize} bytes) ` +
              `overlaps the shared memory of ${kind} '${other.name}' (region '${other.ref.region}', offset ${other.ref.offset}, ` +
              `${other.ref.byteSize} bytes); outputs need memory of their own`,
          );
        }
      }
      outputLeases.push({ name: output.name, ref, lease });
    }
  } catch (err) {
    release();
    throw err;
  }

  const copies: [Buffer, Buffer][] = [];
  let released = false;
  return {
    placeOutputs(native, outputs) {
      for (const placed of outputLeases) {
        const out = outputs.find((o) => o.name === placed.name);
        if (out === undefined) continue;
        const needed = out.data.byteLength;
        const room = placed.lease.view.byteLength;
        if (room < needed)
          throw invalidArg(
            `shared memory size specified with the request for output '${out.name}' (${room} bytes) should be at least ${needed} bytes to hold the results`,
          );
        const target = placed.lease.view.subarray(0, needed);
        const slot = native.outputs.indexOf(out.data);
        if (slot >= 0) native.outputs[slot] = target;
        else copies.push([out.data, target]);
        out.data = EMPTY;
        out.sharedMemory = placed.ref;
      }
    },
    finish() {
      for (const [from, to] of copies) to.set(from);
    },
    release() {
      if (released) return;
      released = true;
      release();
    },
  };
}
