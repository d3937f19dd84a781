// What `simple` and `simple_string` (Triton's add/sub example models) share: the model shape (two
// inputs, two outputs: sum and difference, all of one datatype and dims) and the per-request check
// that both inputs have the same shape.
import { invalidArg } from "../core/errors.ts";
import { configError, type Locator } from "../repository/config-decode.ts";
import type { ModelConfig } from "../repository/model-config.ts";
import type { CheckedInput } from "./backend.ts";

const sameDims = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** Rejects a config that is not 2 inputs and 2 outputs, all of `dataType` (a TYPE_* name) with the same dims. */
export function checkAddSubConfig(backend: string, dataType: string, config: ModelConfig, at: Locator): void {
  const { input, output } = config;
  if (input.length !== 2) throw configError(at.at("input"), `backend '${backend}' needs exactly 2 inputs, model '${config.name}' declares ${input.length}`);
  if (output.length !== 2)
    throw configError(at.at("output"), `backend '${backend}' needs exactly 2 outputs (sum, difference), model '${config.name}' declares ${output.length}`);
  const tensors = [...input.map((t, i) => ({ t, path: `input[${i}]` })), ...output.map((t, i) => ({ t, path: `output[${i}]` }))];
  for (const { t, path } of tensors) {
    if (t.data_type !== dataType) throw configError(at.at(`${path}.data_type`), `backend '${backend}' takes and returns ${dataType}, '${t.name}' is ${t.data_type}`);
    if (!sameDims(t.dims, input[0]!.dims))
      throw configError(at.at(`${path}.dims`), `backend '${backend}' needs all tensors to share dims [${input[0]!.dims.join(",")}], '${t.name}' has [${t.dims.join(",")}]`);
  }
}

/** The two inputs of one request, after checking they have the same shape. */
export function sameShapeInputs(inputs: CheckedInput[], model: string): [CheckedInput, CheckedInput] {
  const [a, b] = inputs as [CheckedInput, CheckedInput];
  if (!sameDims(a.shape, b.shape))
    throw invalidArg(`inputs '${a.config.name}' [${a.shape.join(",")}] and '${b.config.name}' [${b.shape.join(",")}] of model '${model}' must have the same shape`);
  return [a, b];
}
