// Identity model for any datatype (BYTES included): output i is a copy of input i, same datatype and
// shape, made by the native copy kernel (so transfers and thread hand-off are really exercised).
import { configError, type Locator } from "../repository/config-decode.ts";
import type { ModelConfig } from "../repository/model-config.ts";
import type { Backend, BackendModel, CheckedInput, ExecutionPlan } from "./backend.ts";

export const identityBackend: Backend = {
  name: "identity",
  kernel: "copy",
  load(config: ModelConfig, at: Locator): BackendModel {
    const { input, output } = config;
    if (input.length !== output.length)
      throw configError(at.at("output"), `backend 'identity' needs one output per input: model '${config.name}' has ${input.length} inputs and ${output.length} outputs`);
    output.forEach((o, i) => {
      const inp = input[i]!;
      if (o.data_type !== inp.data_type)
        throw configError(at.at(`output[${i}].data_type`), `identity output '${o.name}' is ${o.data_type} but its input '${inp.name}' is ${inp.data_type}`);
      const dimsMatch = o.dims.length === inp.dims.length && o.dims.every((d, j) => d === inp.dims[j] || d === -1);
      if (!dimsMatch)
        throw configError(at.at(`output[${i}].dims`), `identity output '${o.name}' dims [${o.dims.join(",")}] cannot hold input '${inp.name}' dims [${inp.dims.join(",")}]`);
    });
    return {
      instanceOptions: { kernel: "copy" },
      plan(inputs: CheckedInput[]): ExecutionPlan {
        const outputs = output.map((o, i) => {
          const src = inputs[i]!;
          return { name: o.name, datatype: src.datatype, shape: src.shape, data: Buffer.allocUnsafe(src.data.byteLength) };
        });
        return { outputs, native: { inputs: inputs.map((t) => t.data), outputs: outputs.map((o) => o.data) } };
      },
    };
  },
};
