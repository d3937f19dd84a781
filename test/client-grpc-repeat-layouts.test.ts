// Repeated gRPC infer calls against the reference server take kept request prefixes and answer layouts
// (packages/client/src/transport/grpc/infer-{request,answer}-layout.ts): calls that interleave models,
// shapes, ids and requested outputs on one client, many in flight at once, must each get their own answer,
// on both HTTP/2 implementations.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startServer, type RunningServer } from "@iaas/server-native";
import { Tensor, createClient, type InferenceClient, type InferResult } from "@iaas/client";

for (const implementation of ["iaas-h2", "http2"] as const) {
  describe(`repeated infer calls, ${implementation}`, () => {
    let srv: RunningServer;
    let client: InferenceClient;
    before(async () => {
      srv = await startServer({ httpPort: 0, grpcPort: 0 });
      client = createClient({ url: srv.grpcUrl, protocol: "grpc", retry: false, grpc: { implementation } });
    });
    after(async () => {
      await client.close();
      await srv.close();
    });

    test("interleaved models, shapes, ids and outputs each get their own answer", async () => {
      const calls: { result: Promise<InferResult>; check: (r: InferResult) => void }[] = [];
      for (let i = 0; i < 96; i++) {
        const kind = i % 4;
        if (kind === 0) {
          const a = new Tensor("INPUT0", "INT32", [1, 16], new Int32Array(16).fill(i));
          const b = new Tensor("INPUT1", "INT32", [1, 16], new Int32Array(16).fill(2));
          calls.push({
            result: client.infer("simple", [a, b]),
            check: (r) => {
              assert.equal(r.modelName, "simple");
              assert.deepEqual(Array.from(r.output("OUTPUT0").data as Int32Array), new Array(16).fill(i + 2));
              assert.deepEqual(Array.from(r.output("OUTPUT1").data as Int32Array), new Array(16).fill(i - 2));
            },
          });
        } else {
          // identity_fp32 with lengths 1..5 (shape changes call to call), every other one with an id or
          // with its output requested by name.
          const n = 1 + (i % 5);
          const data = Float32Array.from({ length: n }, (_, k) => i * 10 + k);
          const options = kind === 2 ? { id: `call-${i}` } : kind === 3 ? { outputs: ["OUTPUT0"] } : undefined;
          calls.push({
            result: client.infer("identity_fp32", [new Tensor("INPUT0", "FP32", [n], data)], options),
            check: (r) => {
              assert.equal(r.modelName, "identity_fp32");
              assert.equal(r.id, kind === 2 ? `call-${i}` : "");
              const out = r.output("OUTPUT0");
              assert.deepEqual(out.shape, [n]);
              assert.deepEqual(Array.from(out.data as Float32Array), Array.from(data));
            },
          });
        }
      }
      const results = await Promise.all(calls.map((c) => c.result));
      results.forEach((r, i) => calls[i]!.check(r));
      // Once more in order, each awaited: the layouts kept by the first round now serve these.
      for (let i = 0; i < 8; i++) calls[i]!.check(await client.infer(...argsOf(i)));
    });
  });
}

/** The arguments of call i of the test above, made again (same data). */
function argsOf(i: number): [string, Tensor[], { id?: string; outputs?: string[] } | undefined] {
  const kind = i % 4;
  if (kind === 0)
    return [
      "simple",
      [new Tensor("INPUT0", "INT32", [1, 16], new Int32Array(16).fill(i)), new Tensor("INPUT1", "INT32", [1, 16], new Int32Array(16).fill(2))],
      undefined,
    ];
  const n = 1 + (i % 5);
  const data = Float32Array.from({ length: n }, (_, k) => i * 10 + k);
  return ["identity_fp32", [new Tensor("INPUT0", "FP32", [n], data)], kind === 2 ? { id: `call-${i}` } : kind === 3 ? { outputs: ["OUTPUT0"] } : undefined];
}
