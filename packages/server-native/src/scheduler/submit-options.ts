// What the core tells the dynamic batcher about one request: its batch size, the key that decides which
// requests may share an execution (the non-batch dims of every input: datatypes are fixed by the config,
// and every execution computes all outputs, so requested outputs do not matter), and its schedule_policy
// parameters. Models without dynamic_batching get nothing (their schedulers ignore it).
import type { CheckedInput } from "../backends/backend.ts";
import type { InferRequest } from "../core/types.ts";
import type { ModelConfig } from "../repository/model-config.ts";
import type { SubmitOptions } from "./scheduler.ts";

export function submitOptions(
  config: ModelConfig,
  inputs: readonly CheckedInput[],
  batchSize: number,
  request: InferRequest,
  alone: boolean,
): SubmitOptions | undefined {
  if (config.dynamic_batching === undefined) return undefined;
  const batched = config.max_batch_size > 0;
  let shapeKey = "";
  for (const t of inputs) shapeKey += (batched ? t.shape.slice(1) : t.shape).join(",") + ";";
  const options: SubmitOptions = { batchSize: batched ? batchSize : 1, shapeKey, alone };
  if (request.priority !== undefined) options.priority = request.priority;
  if (request.timeoutUs !== undefined) options.timeoutUs = request.timeoutUs;
  return options;
}
