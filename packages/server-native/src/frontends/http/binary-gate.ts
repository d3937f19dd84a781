// With the binary_tensor_data extension disabled, the REST front end behaves like a server that only
// speaks JSON tensors (MLServer, older KServe): binary request bodies are refused and outputs always
// come back as JSON, whatever binary_data / binary_data_output the request asks for.
import { invalidArg } from "../../core/errors.ts";
import type { InferenceServer } from "../../core/inference-server.ts";
import type { HttpInferRequest } from "./infer-codec.ts";

/** Refuses a binary body (Inference-Header-Content-Length present) when the extension is disabled. */
export function checkBinaryRequest(server: InferenceServer, headerLength: string | undefined): void {
  if (headerLength !== undefined && !server.extensions.has("binary_tensor_data"))
    throw invalidArg(
      "this server does not accept binary tensor data (the binary_tensor_data extension is disabled): send the request as JSON without Inference-Header-Content-Length",
    );
}

/** Makes every output of the response JSON when the extension is disabled. */
export function jsonOutputsOnly(server: InferenceServer, request: HttpInferRequest): void {
  if (server.extensions.has("binary_tensor_data")) return;
  request.binaryOutput = false;
  for (const o of request.outputs ?? []) {
    if (o.parameters?.binary_data === undefined) continue;
    const { binary_data: _ignored, ...rest } = o.parameters;
    o.parameters = rest;
  }
}
