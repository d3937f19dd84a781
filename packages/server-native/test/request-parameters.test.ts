// Request parameters: `priority` and `timeout` (schedule_policy) are checked and stored on the request
// for the scheduler; custom parameters of every kind come back in the response parameters, over HTTP
// (JSON, exact 64-bit integers) and gRPC (InferParameter kinds).
import assert from "node:assert/strict";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { parseJson } from "@iaas/client/protocol";
import type { InferRequest } from "../src/core/types.ts";
import { http, identityConfig, postJson, serveForSuite } from "./helpers.ts";

const ctx = serveForSuite({ ident: identityConfig("ident", "TYPE_INT32") });

const input = { name: "INPUT0", datatype: "INT32", shape: [1], data: [1] };
const rawInput = { inputs: [{ name: "INPUT0", datatype: "INT32", shape: ["1"] }], raw_input_contents: [Buffer.alloc(4)] };

test("priority and timeout are stored on the request (as numbers) for the scheduler", async () => {
  const request: InferRequest = {
    model: "ident",
    inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1], data: Buffer.alloc(4) }],
    parameters: { priority: 2, timeout: 1500n },
  };
  await ctx.srv.server.infer(request);
  assert.equal(request.priority, 2);
  assert.equal(request.timeoutUs, 1500);
  const huge: InferRequest = { model: "ident", inputs: request.inputs, parameters: { priority: (1n << 64n) - 1n } };
  await ctx.srv.server.infer(huge);
  assert.equal(huge.priority, Number.MAX_SAFE_INTEGER, "beyond 2^53 a priority keeps its meaning: the lowest");
});

test("malformed priority / timeout: 400 and INVALID_ARGUMENT naming the parameter", async () => {
  for (const [params, pattern] of [
    [{ priority: -1 }, /request parameter 'priority' must be an unsigned integer/],
    [{ priority: 1.5 }, /'priority' must be an unsigned integer .*a fraction/],
    [{ priority: "high" }, /'priority' must be an unsigned integer.*"high"/],
    [{ timeout: true }, /request parameter 'timeout' must be a non-negative integer number of microseconds/],
    [{ timeout: -5 }, /'timeout' must be a non-negative integer/],
  ] as const) {
    const r = await postJson(ctx.srv.httpUrl, "/v2/models/ident/infer", { inputs: [input], parameters: params });
    assert.equal(r.status, 400, JSON.stringify(params));
    assert.match(r.json().error, pattern);
  }
  await assert.rejects(
    ctx.client.call("ModelInfer", { model_name: "ident", ...rawInput, parameters: { priority: { string_param: "1" } } }),
    (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /'priority'/.test(e.details),
  );
  await assert.rejects(
    ctx.client.call("ModelInfer", { model_name: "ident", ...rawInput, parameters: { timeout: { double_param: 2.5 } } }),
    (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /'timeout'/.test(e.details),
  );
  // Valid values in every integer form are accepted.
  const ok = await ctx.client.call("ModelInfer", { model_name: "ident", ...rawInput, parameters: { priority: { uint64_param: "1" }, timeout: { int64_param: "100" } } });
  assert.equal(ok.model_name, "ident");
});

test("custom parameters round-trip over HTTP, reserved ones are not echoed", async () => {
  const body = `{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1],"data":[1]}],"parameters":{"flag":true,"n":-42,"x":2.5,"s":"hello","big":18446744073709551615,"priority":1,"binary_data_output":false,"triton_x":1}}`;
  const r = await http(ctx.srv.httpUrl, "/v2/models/ident/infer", { body });
  assert.equal(r.status, 200, r.body.toString());
  const params = (parseJson(r.body.toString()) as any).parameters;
  assert.deepEqual(params, { flag: true, n: -42, x: 2.5, s: "hello", big: 18446744073709551615n });
  // No custom parameters: no parameters field at all.
  const plain = await postJson(ctx.srv.httpUrl, "/v2/models/ident/infer", { inputs: [input] });
  assert.equal(plain.json().parameters, undefined);
});

test("custom parameters round-trip over gRPC with their kinds", async () => {
  const res = await ctx.client.call("ModelInfer", {
    model_name: "ident",
    ...rawInput,
    parameters: {
      flag: { bool_param: false },
      n: { int64_param: "-9007199254740993" },
      x: { double_param: 0.125 },
      s: { string_param: "é" },
      u: { uint64_param: "18446744073709551615" },
      timeout: { int64_param: "5" },
    },
  });
  const kinds = Object.fromEntries(Object.entries(res.parameters as Record<string, any>).map(([k, v]) => [k, [v.parameter_choice, v[v.parameter_choice]]]));
  assert.deepEqual(kinds, {
    flag: ["bool_param", false],
    n: ["int64_param", "-9007199254740993"],
    x: ["double_param", 0.125],
    s: ["string_param", "é"],
    u: ["uint64_param", "18446744073709551615"],
  });
});
