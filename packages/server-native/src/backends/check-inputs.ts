// Request tensor checks shared by all backends, done before anything reaches native code: every
// model input present exactly once, datatype and shape as configured (batch dimension first when
// max_batch_size > 0), byte size consistent with the shape. Also the load-time check of the backends
// that take one tensor and give one back (oneInOneOut), and their plan (sameShapePlan).
import { decodeBytesElements, elementSize, isDataType, type DataType } from "@iaas/client/protocol";
import { ServerError, invalidArg } from "../core/errors.ts";
import type { InferInput } from "../core/types.ts";
import { configError, type Locator } from "../repository/config-decode.ts";
import { fullShape, tensorDataType, type ModelConfig, type ModelInputConfig, type ModelOutputConfig } from "../repository/model-config.ts";
import type { CheckedInput, ExecutionPlan } from "./backend.ts";

const shapeText = (s: readonly number[]): string => `[${s.join(",")}]`;

export function checkInputs(config: ModelConfig, inputs: readonly InferInput[]): { inputs: CheckedInput[]; batchSize: number } {
  const model = config.name;
  const byName = new Map<string, InferInput>();
  for (const input of inputs) {
    if (byName.has(input.name)) throw invalidArg(`input '${input.name}' is given more than once in the request for model '${model}'`);
    if (!config.input.some((c) => c.name === input.name))
      throw invalidArg(`unexpected inference input '${input.name}' for model '${model}'; expected inputs: ${config.input.map((c) => c.name).join(", ")}`);
    byName.set(input.name, input);
  }
  const missing = config.input.filter((c) => !byName.has(c.name)).map((c) => `'${c.name}'`);
  if (missing.length > 0)
    throw invalidArg(`expected ${config.input.length} inputs but got ${inputs.length} inputs for model '${model}'; missing required input(s) ${missing.join(", ")}`);

  let batchSize = 1;
  let batchFrom: string | undefined;
  const checked = config.input.map((c): CheckedInput => {
    const input = byName.get(c.name)!;
    const expectedType = tensorDataType(c.data_type);
    if (!isDataType(input.datatype))
      throw invalidArg(`input '${c.name}' has unknown datatype '${input.datatype}'`);
    if (input.datatype !== expectedType)
      throw invalidArg(`inference input '${c.name}' data-type is '${input.datatype}', but model '${model}' expects '${expectedType}'`);
    const shape = input.shape;
    const expected = fullShape(config, c.dims);
    const shapeOk =
      shape.length === expected.length &&
      shape.every((d, i) => Number.isSafeInteger(d) && d >= 0 && (expected[i] === -1 || expected[i] === d));
    if (!shapeOk)
      throw invalidArg(`unexpected shape for input '${c.name}' for model '${model}'. Expected ${shapeText(expected)}, got ${shapeText(shape)}`);
    if (config.max_batch_size > 0) {
      const b = shape[0]!;
      if (batchFrom === undefined) {
        batchSize = b;
        batchFrom = c.name;
      } else if (b !== batchSize) {
        throw invalidArg(`input '${c.name}' has batch size ${b} but input '${batchFrom}' has ${batchSize}; all inputs of model '${model}' must share the batch size`);
      }
      if (b < 1 || b > config.max_batch_size)
        throw invalidArg(`inference request batch-size must be between 1 and ${config.max_batch_size} for '${model}', input '${c.name}' has batch size ${b}`);
    }
    let elements = 1;
    for (const d of shape) elements *= d;
    if (expectedType === "BYTES") {
      try {
        decodeBytesElements(input.data, elements);
      } catch (err) {
        throw invalidArg(`input '${c.name}' for model '${model}': ${(err as Error).message}`);
      }
    } else {
      const bytes = elements * elementSize(expectedType);
      if (input.data.byteLength !== bytes)
        throw invalidArg(`input byte size mismatch for input '${c.name}' for model '${model}'. Expected ${bytes}, got ${input.data.byteLength}`);
    }
    return { config: c, datatype: expectedType, shape, data: input.data, elements };
  });
  if (checked.length === 0) throw new ServerError("INTERNAL", `model '${model}' has no inputs`);
  return { inputs: checked, batchSize };
}

/**
 * Load-time check of a backend with exactly one input and one output, both of config type `dataType`
 * (e.g. "TYPE_FP32"); `does` says what the backend does with that type, for the error ("copies").
 * `each` (optional) checks more of each tensor, right after its type (input first).
 */
export function oneInOneOut(
  config: ModelConfig,
  at: Locator,
  backend: string,
  dataType: string,
  does: string,
  each?: (tensor: ModelInputConfig | ModelOutputConfig, path: string) => void,
): { input: ModelInputConfig; output: ModelOutputConfig } {
  const { input, output } = config;
  if (input.length !== 1 || output.length !== 1)
    throw configError(at.at("input"), `backend '${backend}' needs exactly 1 input and 1 output, model '${config.name}' declares ${input.length} and ${output.length}`);
  for (const [t, path] of [[input[0]!, "input[0]"], [output[0]!, "output[0]"]] as const) {
    if (t.data_type !== dataType) throw configError(at.at(`${path}.data_type`), `backend '${backend}' ${does} ${dataType}, '${t.name}' is ${t.data_type}`);
    each?.(t, path);
  }
  return { input: input[0]!, output: output[0]! };
}

/** The plan of a oneInOneOut backend: output `name` of `datatype`, the input's shape and byte size. */
export function sameShapePlan(name: string, datatype: DataType): (inputs: CheckedInput[], batchSize: number) => ExecutionPlan {
  return (inputs, batchSize) => {
    const x = inputs[0]!;
    const y = Buffer.allocUnsafe(x.data.byteLength);
    return { outputs: [{ name, datatype, shape: x.shape, data: y }], native: { inputs: [x.data], outputs: [y], batch: batchSize } };
  };
}
