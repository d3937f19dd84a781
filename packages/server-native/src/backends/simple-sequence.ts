// Triton's "simple_sequence" example model: a stateful accumulator. INPUT and OUTPUT are INT32 with
// one element per request; OUTPUT is the running sum (32-bit wrap-around) of INPUT over the sequence,
// the current request included. The state is one accumulator per sequence slot of an instance; the
// sequence batcher's START control (required) resets it, a false READY control (optional) leaves it
// untouched and answers 0. Other controls (END, CORRID) may be declared and are not read.
import { configError, type Locator } from "../repository/config-decode.ts";
import type { ModelConfig } from "../repository/model-config.ts";
import type { SequenceControlConfig } from "../repository/sequence-config.ts";
import type { ControlTensor } from "../scheduler/model-instance.ts";
import { ServerError } from "../core/errors.ts";
import { oneInOneOut, sameShapePlan } from "./check-inputs.ts";
import { cpuInstanceGroups, jsInstance, type JsBackend, type JsBackendModel } from "./js-backend.ts";

const NAME = "simple_sequence";

/** Whether a boolean control tensor holds the control's configured "true" value. */
function isTrue(tensor: ControlTensor, c: SequenceControlConfig): boolean {
  if (c.int32_false_true.length === 2) return tensor.data.readInt32LE(0) === c.int32_false_true[1];
  if (c.fp32_false_true.length === 2) return tensor.data.readFloatLE(0) === Math.fround(c.fp32_false_true[1]!);
  return (tensor.data[0] !== 0) === c.bool_false_true[1];
}

export const simpleSequenceBackend: JsBackend = {
  name: NAME,
  load(config: ModelConfig, at: Locator): JsBackendModel {
    const { output } = oneInOneOut(config, at, NAME, "TYPE_INT32", "accumulates", (t, path) => {
      if (t.dims.length !== 1 || t.dims[0] !== 1) throw configError(at.at(`${path}.dims`), `backend '${NAME}' takes one value per request: '${t.name}' dims must be [1], got [${t.dims.join(",")}]`);
    });
    const sequencing = config.sequence_batching;
    if (sequencing === undefined)
      throw configError(at.at("sequence_batching"), `backend '${NAME}' keeps state per sequence: the model needs a sequence_batching block with a CONTROL_SEQUENCE_START control input`);
    const controls = sequencing.control_input;
    const startAt = controls.findIndex((ci) => ci.control[0]!.kind === "CONTROL_SEQUENCE_START");
    if (startAt < 0)
      throw configError(at.at("sequence_batching.control_input"), `backend '${NAME}' resets its sum on START: declare a control input of kind CONTROL_SEQUENCE_START`);
    const readyAt = controls.findIndex((ci) => ci.control[0]!.kind === "CONTROL_SEQUENCE_READY");
    const start = controls[startAt]!.control[0]!;
    const ready = readyAt < 0 ? undefined : controls[readyAt]!.control[0]!;
    cpuInstanceGroups(config, at, NAME);

    return {
      kind: "js",
      plan: sameShapePlan(output.name, "INT32"),
      createInstance(name: string) {
        const sums = new Map<number, number>();
        return jsInstance(name, (request, step) => {
          if (step === undefined) throw new ServerError("INTERNAL", `model '${config.name}': '${NAME}' ran a request without its sequence step`);
          const x = request.inputs[0]!;
          const y = request.outputs[0]!;
          const xv = new DataView(x.buffer, x.byteOffset, x.byteLength);
          const yv = new DataView(y.buffer, y.byteOffset, y.byteLength);
          if (ready !== undefined && !isTrue(step.controls[readyAt]!, ready)) {
            yv.setInt32(0, 0, true);
            return;
          }
          const base = isTrue(step.controls[startAt]!, start) ? 0 : (sums.get(step.slot) ?? 0);
          const sum = (base + xv.getInt32(0, true)) | 0;
          sums.set(step.slot, sum);
          yv.setInt32(0, sum, true);
        });
      },
    };
  },
};
