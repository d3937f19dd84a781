// Triton's "simple" example model: OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1, all INT32
// of one shape (wrapping 32-bit arithmetic), on the native add_sub_i32 kernel.
import type { Locator } from "../repository/config-decode.ts";
import type { ModelConfig } from "../repository/model-config.ts";
import { checkAddSubConfig, sameShapeInputs } from "./add-sub-model.ts";
import type { Backend, BackendModel, CheckedInput, ExecutionPlan } from "./backend.ts";

export const simpleBackend: Backend = {
  name: "simple",
  kernel: "add_sub_i32",
  load(config: ModelConfig, at: Locator): BackendModel {
    checkAddSubConfig("simple", "TYPE_INT32", config, at);
    return {
      instanceOptions: { kernel: "add_sub_i32" },
      plan(inputs: CheckedInput[]): ExecutionPlan {
        const [a, b] = sameShapeInputs(inputs, config.name);
        const outputs = config.output.map((o) => ({ name: o.name, datatype: "INT32" as const, shape: a.shape, data: Buffer.allocUnsafe(a.data.byteLength) }));
        return { outputs, native: { inputs: [a.data, b.data], outputs: outputs.map((o) => o.data) } };
      },
    };
  },
};
