// Health, metadata and one inference on Triton's `simple` model, over HTTP or gRPC.
//   node examples/simple-infer.ts [URL] [http|grpc]
// e.g. against `./iaas serve`: node examples/simple-infer.ts http://127.0.0.1:8000
//                              node examples/simple-infer.ts 127.0.0.1:8001 grpc
import { createClient, InferenceError, Tensor, type Protocol } from "@iaas/client";

const url = process.argv[2] ?? "http://127.0.0.1:8000";
const protocol = (process.argv[3] ?? "http") as Protocol;
const client = createClient({ url, protocol, timeoutMs: 5000 });

try {
  if (!(await client.isServerReady())) throw new Error(`server at ${url} is not ready`);
  const meta = await client.modelMetadata("simple");
  console.log(`model ${meta.name}: inputs ${meta.inputs.map((t) => `${t.name} ${t.datatype}[${t.shape}]`).join(", ")}`);

  const input0 = new Tensor("INPUT0", "INT32", [1, 16], Int32Array.from({ length: 16 }, (_, i) => i));
  const input1 = new Tensor("INPUT1", "INT32", [1, 16], new Int32Array(16).fill(1));
  const result = await client.infer("simple", [input0, input1], { id: "example" });
  for (const name of ["OUTPUT0", "OUTPUT1"]) console.log(`${name} = [${Array.from(result.output(name).data as Int32Array).join(", ")}]`);
} catch (err) {
  const e = InferenceError.from(err);
  console.error(`simple-infer: ${e.code}: ${e.message}`);
  process.exitCode = 1;
} finally {
  await client.close();
}
