// Triton's "simple_string" example model: INPUT0 and INPUT1 are BYTES tensors of decimal integers
// ("12", "-3"); OUTPUT0 = INPUT0 + INPUT1 and OUTPUT1 = INPUT0 - INPUT1 as decimal strings, with 32-bit
// wrap-around. The strings are parsed here, the arithmetic runs in the native add_sub_i32 kernel (like
// `simple`), and the results are written back as strings once it finished.
import { decodeBytesElements, encodeBytesElements } from "@iaas/client/protocol";
import { invalidArg } from "../core/errors.ts";
import type { Locator } from "../repository/config-decode.ts";
import type { ModelConfig } from "../repository/model-config.ts";
import { checkAddSubConfig, sameShapeInputs } from "./add-sub-model.ts";
import type { Backend, BackendModel, CheckedInput, ExecutionPlan, PlannedOutput } from "./backend.ts";
const DECIMAL = /^[+-]?\d{1,10}$/;
const latin1 = new TextDecoder("latin1");

/** Parses every element of a BYTES input as a 32-bit decimal integer; errors name the input and element. */
function parseInt32s(input: CheckedInput, model: string): Int32Array {
  const elements = decodeBytesElements(input.data, input.elements);
  const out = new Int32Array(elements.length);
  for (let i = 0; i < elements.length; i++) {
    const text = latin1.decode(elements[i]!).trim();
    const n = DECIMAL.test(text) ? Number(text) : NaN;
    if (!(n >= -0x80000000 && n <= 0x7fffffff))
      throw invalidArg(
        `input '${input.config.name}' of model '${model}': element ${i} is ${JSON.stringify(text.length > 32 ? `${text.slice(0, 32)}...` : text)}, expected a decimal integer in the int32 range`,
      );
    out[i] = n;
  }
  return out;
}

const bytesOf = (a: Int32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function toStrings(values: Int32Array): Buffer {
  const strings = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) strings[i] = String(values[i]);
  return encodeBytesElements(strings);
}

export const simpleStringBackend: Backend = {
  name: "simple_string",
  kernel: "add_sub_i32",
  load(config: ModelConfig, at: Locator): BackendModel {
    checkAddSubConfig("simple_string", "TYPE_STRING", config, at);
    return {
      instanceOptions: { kernel: "add_sub_i32" },
      plan(inputs: CheckedInput[]): ExecutionPlan {
        const [a, b] = sameShapeInputs(inputs, config.name);
        const x = parseInt32s(a, config.name);
        const y = parseInt32s(b, config.name);
        const sum = new Int32Array(x.length);
        const diff = new Int32Array(x.length);
        const pending: PlannedOutput[] = config.output.map((o) => ({ name: o.name, datatype: "BYTES", shape: a.shape, data: Buffer.alloc(0) }));
        return {
          outputs: pending,
          native: { inputs: [bytesOf(x), bytesOf(y)], outputs: [bytesOf(sum), bytesOf(diff)] },
          finish: () => [
            { ...pending[0]!, data: toStrings(sum) },
            { ...pending[1]!, data: toStrings(diff) },
          ],
        };
      },
    };
  },
};
