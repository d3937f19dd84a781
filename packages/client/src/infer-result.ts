// The InferResult handed to callers: the response plus lookup of outputs by name.
import type { InferResult, ParameterValue } from "./api.ts";
import { InferenceError } from "./errors.ts";
import type { Tensor } from "./tensor.ts";
import type { InferResponse } from "./transport/transport.ts";

export class InferResultImpl implements InferResult {
  readonly modelName: string;
  readonly modelVersion: string;
  readonly id: string;
  readonly parameters: Record<string, ParameterValue>;
  readonly outputs: Tensor[];

  constructor(response: InferResponse) {
    this.modelName = response.modelName;
    this.modelVersion = response.modelVersion;
    this.id = response.id;
    this.parameters = response.parameters;
    this.outputs = response.outputs;
  }

  output(name: string): Tensor {
    for (const t of this.outputs) if (t.name === name) return t;
    throw new InferenceError(
      "invalid_argument",
      `no output "${name}" in the response of ${this.modelName}; outputs are: ${this.outputs.map((t) => t.name).join(", ") || "(none)"}`,
    );
  }
}
