// Triton's sequence_batching block, checked the way Triton checks it: each control input carries one
// control; START/END/READY give a false and a true value in exactly one of int32/fp32/bool; CORRID names
// its data type; no control kind appears twice. The direct strategy is what iaas runs (a sequence keeps
// one slot of one instance for its lifetime); settings that only make sense when batching are rejected.
import { configError, type Decoded, type Locator } from "./config-decode.ts";

export type SequenceControlKind = "CONTROL_SEQUENCE_START" | "CONTROL_SEQUENCE_READY" | "CONTROL_SEQUENCE_END" | "CONTROL_SEQUENCE_CORRID";

export interface SequenceControlConfig {
  kind: SequenceControlKind;
  int32_false_true: number[];
  fp32_false_true: number[];
  bool_false_true: boolean[];
  data_type: string;
}

export interface SequenceControlInputConfig {
  name: string;
  control: SequenceControlConfig[];
}

export interface SequenceBatchingConfig {
  /** Triton's default: 1 second. */
  max_sequence_idle_microseconds: number;
  control_input: SequenceControlInputConfig[];
  direct?: { max_queue_delay_microseconds: number; minimum_slot_utilization: number };
}

export const DEFAULT_MAX_SEQUENCE_IDLE_MICROSECONDS = 1_000_000;

const CORRID_TYPES = ["TYPE_UINT64", "TYPE_INT64", "TYPE_UINT32", "TYPE_INT32", "TYPE_STRING"];

export function sequenceBatchingConfig(raw: Decoded, at: Locator, inputNames: ReadonlySet<string>): SequenceBatchingConfig {
  const fail = (path: string, message: string): never => {
    throw configError(at.at(`sequence_batching${path}`), message);
  };
  if (raw.oldest !== undefined)
    fail(".oldest", "the oldest sequence batching strategy is not supported by iaas; use direct (the default), which gives each sequence one slot");
  const rawDirect = raw.direct as Decoded | undefined;
  const delay = (rawDirect?.max_queue_delay_microseconds as number | undefined) ?? 0;
  const utilization = (rawDirect?.minimum_slot_utilization as number | undefined) ?? 0;
  // Both settings tune how long the batcher waits to fill a batch; iaas executes each request alone.
  if (delay !== 0)
    fail(".direct.max_queue_delay_microseconds", `iaas executes each sequence request alone, without waiting to form batches; max_queue_delay_microseconds must be 0, got ${delay}`);
  if (utilization !== 0)
    fail(".direct.minimum_slot_utilization", `iaas executes each sequence request alone, without waiting to form batches; minimum_slot_utilization must be 0, got ${utilization}`);

  const idle = raw.max_sequence_idle_microseconds as number | undefined;
  const seenKinds = new Map<SequenceControlKind, string>();
  const seenNames = new Set<string>();
  const controlInputs = ((raw.control_input as Decoded[] | undefined) ?? []).map((ci, i): SequenceControlInputConfig => {
    const path = `.control_input[${i}]`;
    const name = typeof ci.name === "string" ? ci.name : "";
    if (name === "") fail(path, "a sequence batching control input needs a name");
    if (inputNames.has(name))
      fail(`${path}.name`, `control input '${name}' is also a model input; the sequence batcher supplies control tensors itself, so remove it from 'input'`);
    if (seenNames.has(name)) fail(`${path}.name`, `control input '${name}' is declared more than once`);
    seenNames.add(name);
    const controls = (ci.control as Decoded[] | undefined) ?? [];
    if (controls.length !== 1) fail(path, `control input '${name}' must have exactly one control, got ${controls.length}`);
    const c = controls[0]!;
    const cpath = `${path}.control[0]`;
    const kind = ((c.kind as string | undefined) ?? "CONTROL_SEQUENCE_START") as SequenceControlKind;
    const other = seenKinds.get(kind);
    if (other !== undefined) fail(`${cpath}.kind`, `sequence batching specifies ${kind} twice (control inputs '${other}' and '${name}')`);
    seenKinds.set(kind, name);
    const int32 = (c.int32_false_true as number[] | undefined) ?? [];
    const fp32 = (c.fp32_false_true as number[] | undefined) ?? [];
    const bools = (c.bool_false_true as boolean[] | undefined) ?? [];
    const dataType = (c.data_type as string | undefined) ?? "TYPE_INVALID";
    if (kind === "CONTROL_SEQUENCE_CORRID") {
      if (int32.length + fp32.length + bools.length > 0)
        fail(cpath, `${kind} control '${name}' takes a data_type, not false/true values`);
      if (!CORRID_TYPES.includes(dataType))
        fail(`${cpath}.data_type`, `${kind} control '${name}' needs data_type ${CORRID_TYPES.join(", ")}, got ${dataType}`);
    } else {
      const given = [int32, fp32, bools].filter((l) => l.length > 0);
      if (given.length !== 1)
        fail(cpath, `${kind} control '${name}' must give its false and true values in exactly one of int32_false_true, fp32_false_true or bool_false_true`);
      if (given[0]!.length !== 2)
        fail(cpath, `${kind} control '${name}' must list exactly two values (false, true), got ${given[0]!.length}`);
      if (dataType !== "TYPE_INVALID") fail(`${cpath}.data_type`, `${kind} control '${name}' takes false/true values, not a data_type`);
    }
    return { name, control: [{ kind, int32_false_true: int32, fp32_false_true: fp32, bool_false_true: bools, data_type: dataType }] };
  });
  const out: SequenceBatchingConfig = {
    max_sequence_idle_microseconds: idle === undefined || idle === 0 ? DEFAULT_MAX_SEQUENCE_IDLE_MICROSECONDS : idle,
    control_input: controlInputs,
  };
  if (rawDirect !== undefined) out.direct = { max_queue_delay_microseconds: 0, minimum_slot_utilization: 0 };
  return out;
}
