// The control tensors Triton's sequence batcher adds to each request of a sequence, from the model
// config's control_input list: START / END / READY carry the configured false or true value (int32, fp32
// or bool), CORRID the correlation id in the configured data type. One element each, with the batch
// dimension when the model batches. Boolean controls only have a few combinations, built once.
import { encodeBytesElements, type DataType } from "@iaas/client/protocol";
import { invalidArg } from "../core/errors.ts";
import type { ModelConfig } from "../repository/model-config.ts";
import type { SequenceControlConfig } from "../repository/sequence-config.ts";
import type { ControlTensor, CorrelationId, SequenceFlags } from "./model-instance.ts";

type Build = (flags: SequenceFlags) => ControlTensor;

function booleanTensor(name: string, shape: number[], c: SequenceControlConfig): [ControlTensor, ControlTensor] {
  const make = (datatype: DataType, data: Buffer): ControlTensor => ({ name, datatype, shape, data });
  if (c.int32_false_true.length === 2) {
    const [f, t] = c.int32_false_true as [number, number];
    return [make("INT32", Buffer.from(Int32Array.of(f).buffer)), make("INT32", Buffer.from(Int32Array.of(t).buffer))];
  }
  if (c.fp32_false_true.length === 2) {
    const [f, t] = c.fp32_false_true as [number, number];
    return [make("FP32", Buffer.from(Float32Array.of(f).buffer)), make("FP32", Buffer.from(Float32Array.of(t).buffer))];
  }
  const [f, t] = c.bool_false_true as [boolean, boolean];
  return [make("BOOL", Buffer.of(f ? 1 : 0)), make("BOOL", Buffer.of(t ? 1 : 0))];
}

function corridTensor(model: string, name: string, shape: number[], dataType: string, id: CorrelationId): ControlTensor {
  if (dataType === "TYPE_STRING") return { name, datatype: "BYTES", shape, data: encodeBytesElements([String(id)]) };
  if (typeof id === "string")
    throw invalidArg(
      `sequence id ${JSON.stringify(id)} of a request to model '${model}' is a string, but its control input '${name}' (CONTROL_SEQUENCE_CORRID) is ${dataType}; send an unsigned integer sequence_id`,
    );
  const wide = dataType === "TYPE_UINT64" || dataType === "TYPE_INT64";
  const data = Buffer.allocUnsafe(wide ? 8 : 4);
  // 32-bit types carry the low-order 32 bits of the id, as Triton does.
  if (dataType === "TYPE_UINT64") data.writeBigUInt64LE(id);
  else if (dataType === "TYPE_INT64") data.writeBigInt64LE(BigInt.asIntN(64, id));
  else if (dataType === "TYPE_UINT32") data.writeUInt32LE(Number(BigInt.asUintN(32, id)));
  else data.writeInt32LE(Number(BigInt.asIntN(32, id)));
  const datatype: DataType = dataType === "TYPE_UINT64" ? "UINT64" : dataType === "TYPE_INT64" ? "INT64" : dataType === "TYPE_UINT32" ? "UINT32" : "INT32";
  return { name, datatype, shape, data };
}

export class SequenceControls {
  private readonly builders: Build[];
  /** Whether the model declares any control input (else every request gets an empty list). */
  readonly empty: boolean;

  constructor(config: ModelConfig) {
    const shape = config.max_batch_size > 0 ? [1, 1] : [1];
    const inputs = config.sequence_batching?.control_input ?? [];
    this.builders = inputs.map((ci): Build => {
      const c = ci.control[0]!;
      switch (c.kind) {
        case "CONTROL_SEQUENCE_CORRID":
          return (flags) => corridTensor(config.name, ci.name, shape, c.data_type, flags.id);
        case "CONTROL_SEQUENCE_READY": {
          // Every request the batcher runs is a real one: iaas never pads batches with not-ready slots.
          const [, ready] = booleanTensor(ci.name, shape, c);
          return () => ready;
        }
        case "CONTROL_SEQUENCE_START": {
          const [no, yes] = booleanTensor(ci.name, shape, c);
          return (flags) => (flags.start ? yes : no);
        }
        case "CONTROL_SEQUENCE_END": {
          const [no, yes] = booleanTensor(ci.name, shape, c);
          return (flags) => (flags.end ? yes : no);
        }
      }
    });
    this.empty = this.builders.length === 0;
  }

  /** The control tensors for one request, in control_input order; throws INVALID_ARG for an unusable id. */
  tensors(flags: SequenceFlags): ControlTensor[] {
    if (this.empty) return [];
    return this.builders.map((b) => b(flags));
  }
}
