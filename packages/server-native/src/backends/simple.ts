// Triton's "simple" example model: OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1, all INT32
// of one shape (wrapping 32-bit arithmetic), on the native add_sub_i32 kernel.
import { configError, type Locator } from "../repository/config-decode.ts";
import type { ModelConfig } from "../repository/model-config.ts";
import type { Backend, BackendModel, CheckedInput, ExecutionPlan } from "./backend.ts";
import { invalidArg } from "../core/errors.ts";

const sameDims = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

export const simpleBackend: Backend = {
  name: "simple",
  kernel: "add_sub_i32",
  load(config: ModelConfig, at: Locator): BackendModel {
    const { input, output } = config;
    if (input.length !== 2) throw configError(at.at("input"), `backend 'simple' needs exactly 2 inputs, model '${config.name}' declares ${input.length}`);
    if (output.length !== 2) throw configError(at.at("output"), `backend 'simple' needs exactly 2 outputs (sum, difference), model '${config.name}' declares ${output.length}`);
    const tensors = [...input.map((t, i) => ({ t, path: `input[${i}]` })), ...output.map((t, i) => ({ t, path: `output[${i}]` }))];
    for (const { t, path } of tensors) {
      if (t.data_type !== "TYPE_INT32") throw configError(at.at(`${path}.data_type`), `backend 'simple' computes on TYPE_INT32, '${t.name}' is ${t.data_type}`);
      if (!sameDims(t.dims, input[0]!.dims))
        throw configError(at.at(`${path}.dims`), `backend 'simple' needs all tensors to share dims [${input[0]!.dims.join(",")}], '${t.name}' has [${t.dims.join(",")}]`);
    }
    return {
      instanceOptions: { kernel: "add_sub_i32" },
      plan(inputs: CheckedInput[]): ExecutionPlan {
        const [a, b] = inputs as [CheckedInput, CheckedInput];
        if (!sameDims(a.shape, b.shape))
          throw invalidArg(`inputs '${a.config.name}' [${a.shape.join(",")}] and '${b.config.name}' [${b.shape.join(",")}] of model '${config.name}' must have the same shape`);
        const outputs = output.map((o) => ({ name: o.name, datatype: "INT32" as const, shape: a.shape, data: Buffer.allocUnsafe(a.data.byteLength) }));
        return { outputs, native: { inputs: [a.data, b.data], outputs: outputs.map((o) => o.data) } };
      },
    };
  },
};
