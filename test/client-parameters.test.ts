// Request parameters through the client against the real server, over HTTP and gRPC: custom parameters of
// every kind round-trip (the reference server echoes custom parameters), priority and serverTimeoutUs
// reach the server as `priority` / `timeout`, and reserved names are refused before anything is sent.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type InferRequest, type RunningServer } from "@iaas/server-native";
import { InferenceError, Tensor, type Protocol } from "@iaas/client";
import { clientForSuite } from "./client-fixtures.ts";

let repo: string;
let srv: RunningServer;
/** The requests as the server core saw them (after it checked priority/timeout). */
const seen: InferRequest[] = [];
before(async () => {
  repo = mkdtempSync(join(tmpdir(), "iaas-client-params-"));
  mkdirSync(join(repo, "ident", "1"), { recursive: true });
  writeFileSync(
    join(repo, "ident", "config.pbtxt"),
    'name: "ident"\nbackend: "identity"\nmax_batch_size: 0\ninput [ { name: "INPUT0", data_type: TYPE_INT32, dims: [ -1 ] } ]\noutput [ { name: "OUTPUT0", data_type: TYPE_INT32, dims: [ -1 ] } ]\ninstance_group [ { kind: KIND_CPU } ]\n',
  );
  srv = await startServer({ modelRepository: repo, httpPort: 0, grpcPort: 0 });
  const infer = srv.server.infer.bind(srv.server);
  srv.server.infer = async (request, receivedAt) => {
    const response = await infer(request, receivedAt);
    seen.push(request);
    return response;
  };
});
after(async () => {
  await srv.close();
  rmSync(repo, { recursive: true, force: true });
});

const input = () => [new Tensor("INPUT0", "INT32", [2], Int32Array.of(7, 8))];
const invalid = (p: Promise<unknown>, message: RegExp) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof InferenceError, String(e));
    assert.equal(e.code, "invalid_argument");
    assert.match(e.message, message);
    return true;
  });

for (const protocol of ["http", "grpc"] as Protocol[]) {
  describe(`over ${protocol}`, () => {
    const ctx = clientForSuite(() => srv, protocol);

    test("custom parameters of every kind round-trip exactly", async () => {
      const parameters = {
        flag: true,
        off: false,
        count: -42,
        ratio: 0.375,
        label: "naïve",
        big: 2n ** 64n - 1n,
        negative: -(2n ** 62n),
      };
      const r = await ctx.client.infer("ident", input(), { parameters });
      // Integers beyond 2^53 come back as bigints, within it as numbers (as sent here).
      assert.deepEqual(r.parameters, parameters);
      assert.deepEqual([...(r.output("OUTPUT0").data as Int32Array)], [7, 8]);
    });

    test("priority and serverTimeoutUs reach the server as priority / timeout", async () => {
      seen.length = 0;
      await ctx.client.infer("ident", input(), { priority: 3, serverTimeoutUs: 250_000n, parameters: { tag: "x" } });
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.priority, 3);
      assert.equal(seen[0]!.timeoutUs, 250_000);
      const r = await ctx.client.infer("ident", input(), { priority: 2n ** 63n });
      assert.deepEqual(r.parameters, {}, "reserved parameters are not echoed");
      assert.equal(seen[1]!.priority, Number.MAX_SAFE_INTEGER);
    });

    test("reserved names and bad values are refused before sending, naming the parameter", async () => {
      seen.length = 0;
      for (const name of ["sequence_id", "sequence_start", "sequence_end", "priority", "timeout", "headers", "binary_data_output", "triton_enable_empty_final_response", "shared_memory_region"])
        await invalid(ctx.client.infer("ident", input(), { parameters: { [name]: 1 } }), new RegExp(`parameter "${name}" is reserved by the protocol`));
      await invalid(ctx.client.infer("ident", input(), { parameters: { priority: 1 } }), /use InferOptions\.priority/);
      await invalid(ctx.client.infer("ident", input(), { parameters: { timeout: 1 } }), /use InferOptions\.serverTimeoutUs/);
      for (const name of ["classification", "binary_data", "shared_memory_offset"])
        await invalid(
          ctx.client.infer("ident", input(), { outputs: [{ name: "OUTPUT0", parameters: { [name]: 1 } }] }),
          new RegExp(`output "OUTPUT0": parameter "${name}" is reserved`),
        );
      await invalid(ctx.client.infer("ident", input(), { parameters: { x: Number.NaN } }), /parameter "x" must be a boolean, finite number, string or bigint/);
      await invalid(ctx.client.infer("ident", input(), { parameters: { x: null as never } }), /parameter "x"/);
      await invalid(ctx.client.infer("ident", input(), { priority: -1 }), /priority must be a non-negative integer/);
      await invalid(ctx.client.infer("ident", input(), { priority: 1.5 }), /priority must be a non-negative integer/);
      await invalid(ctx.client.infer("ident", input(), { serverTimeoutUs: 2n ** 63n }), /serverTimeoutUs must be a non-negative integer \(int64\)/);
      await invalid(ctx.client.infer("ident", input(), { outputs: [{ name: "OUTPUT0", classCount: 0 }] }), /classCount must be a positive integer/);
      assert.equal(seen.length, 0, "nothing reached the server");
    });
  });
}
