// Dense MLP on the native dense_mlp kernel: FP32 INPUT [batch, in] -> OUTPUT [batch, out]. The network
// comes from config parameters: "layer_sizes" ("256,1024,1024,16") and "seed" (integer, default 1).
import { configError, type Locator } from "../repository/config-decode.ts";
import type { ModelConfig } from "../repository/model-config.ts";
import type { Backend, BackendModel, CheckedInput, ExecutionPlan } from "./backend.ts";
import { generateDenseLayers } from "./dense-mlp-weights.ts";

/** Reads layer sizes and seed from config parameters; errors name where the parameter was written. */
export function denseMlpParameters(config: ModelConfig, at: Locator): { sizes: number[]; seed: number } {
  const sizesText = config.parameters.layer_sizes?.string_value;
  if (sizesText === undefined)
    throw configError(at.at("parameters"), `backend 'dense_mlp' needs parameter 'layer_sizes' (e.g. "256,1024,1024,16")`);
  const sizes = sizesText.split(",").map((s) => Number(s.trim()));
  if (sizes.length < 2 || sizes.some((n) => !Number.isSafeInteger(n) || n < 1 || n > 65536))
    throw configError(at.at('parameters["layer_sizes"]'), `parameter 'layer_sizes' must list at least 2 integers in 1..65536, got "${sizesText}"`);
  const seedText = config.parameters.seed?.string_value ?? "1";
  const seed = Number(seedText);
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw configError(at.at('parameters["seed"]'), `parameter 'seed' must be an integer in 0..4294967295, got "${seedText}"`);
  return { sizes, seed };
}

export const denseMlpBackend: Backend = {
  name: "dense_mlp",
  kernel: "dense_mlp",
  load(config: ModelConfig, at: Locator): BackendModel {
    const { sizes, seed } = denseMlpParameters(config, at);
    const inF = sizes[0]!;
    const outF = sizes[sizes.length - 1]!;
    if (config.max_batch_size < 1) throw configError(at.at("max_batch_size"), "backend 'dense_mlp' needs max_batch_size >= 1 (it batches rows)");
    if (config.input.length !== 1 || config.output.length !== 1)
      throw configError(at.at("input"), `backend 'dense_mlp' needs exactly 1 input and 1 output, model '${config.name}' declares ${config.input.length} and ${config.output.length}`);
    const [inp, out] = [config.input[0]!, config.output[0]!];
    if (inp.data_type !== "TYPE_FP32") throw configError(at.at("input[0].data_type"), `dense_mlp input '${inp.name}' must be TYPE_FP32, got ${inp.data_type}`);
    if (out.data_type !== "TYPE_FP32") throw configError(at.at("output[0].data_type"), `dense_mlp output '${out.name}' must be TYPE_FP32, got ${out.data_type}`);
    if (inp.dims.length !== 1 || inp.dims[0] !== inF)
      throw configError(at.at("input[0].dims"), `dense_mlp input '${inp.name}' dims must be [${inF}] (first of layer_sizes), got [${inp.dims.join(",")}]`);
    if (out.dims.length !== 1 || out.dims[0] !== outF)
      throw configError(at.at("output[0].dims"), `dense_mlp output '${out.name}' dims must be [${outF}] (last of layer_sizes), got [${out.dims.join(",")}]`);
    const layers = generateDenseLayers(sizes, seed);
    return {
      instanceOptions: { kernel: "dense_mlp", layers },
      plan(inputs: CheckedInput[], batchSize: number): ExecutionPlan {
        const x = inputs[0]!;
        const y = Buffer.allocUnsafe(batchSize * outF * 4);
        return {
          outputs: [{ name: out.name, datatype: "FP32", shape: [batchSize, outF], data: y }],
          native: { inputs: [x.data], outputs: [y], batch: batchSize },
        };
      },
    };
  },
};
