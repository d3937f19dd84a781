// Decoupled models over gRPC ModelStreamInfer (the shipped repeat_int32): responses in order with the
// final flag, the empty final response only on request, in-band errors that keep the stream open,
// cancellation that stops the model, response_stats, and the refusal of unary inference.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { http, postJson, serveForSuite, tempRepository } from "./helpers.ts";
import { finalFlag, openStream, repeatRequest, scalarOutput, sequenceRequest, shippedConfig } from "./stream-helpers.ts";
import { startServer } from "../src/server.ts";

const SIMPLE = `name: "simple"
backend: "simple"
max_batch_size: 8
input [ { name: "INPUT0", data_type: TYPE_INT32, dims: [ 4 ] }, { name: "INPUT1", data_type: TYPE_INT32, dims: [ 4 ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_INT32, dims: [ 4 ] }, { name: "OUTPUT1", data_type: TYPE_INT32, dims: [ 4 ] } ]
instance_group [ { kind: KIND_CPU } ]
`;

function simpleRequest(id: string, a: number): object {
  const data = Buffer.from(Int32Array.of(a, a, a, a).buffer);
  return {
    model_name: "simple",
    id,
    inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1, 4] }, { name: "INPUT1", datatype: "INT32", shape: [1, 4] }],
    raw_input_contents: [data, data],
  };
}

describe("decoupled repeat_int32", () => {
  const s = serveForSuite({ repeat_int32: shippedConfig("repeat_int32"), simple: SIMPLE, simple_sequence: shippedConfig("simple_sequence") });

  test("sends one response per IN element in order, then the empty final response when asked", async () => {
    const st = openStream(s.client);
    st.call.write(repeatRequest("r1", [10, -20, 30, 40], [5, 1, 1, 1], 5));
    st.call.end();
    assert.equal((await st.status).code, grpc.status.OK);
    assert.equal(st.messages.length, 5);
    st.messages.slice(0, 4).forEach((m, i) => {
      assert.equal(m.error_message, "");
      assert.equal(m.infer_response!.id, "r1");
      assert.equal(finalFlag(m), false, `response ${i} is not final`);
      assert.equal(scalarOutput(m, "OUT"), [10, -20, 30, 40][i]);
      assert.equal(scalarOutput(m, "IDX"), i);
    });
    const last = st.messages[4]!;
    assert.equal(finalFlag(last), true);
    assert.equal(last.infer_response!.id, "r1");
    assert.equal(last.infer_response!.outputs.length, 0);
  });

  test("without triton_enable_empty_final_response only the data responses come", async () => {
    const st = openStream(s.client);
    st.call.write(repeatRequest("r2", [1, 2], [0, 0], 0, false));
    st.call.end();
    assert.equal((await st.status).code, grpc.status.OK);
    assert.deepEqual(st.messages.map(finalFlag), [false, false]);
    assert.deepEqual(st.messages.map((m) => scalarOutput(m, "OUT")), [1, 2]);
  });

  test("an empty IN sends only the final flag", async () => {
    const st = openStream(s.client);
    st.call.write(repeatRequest("r0", [], [], 0));
    st.call.end();
    await st.status;
    assert.equal(st.messages.length, 1);
    assert.equal(finalFlag(st.messages[0]!), true);
  });

  test("a non-decoupled model on the stream answers once, final, in request order", async () => {
    const st = openStream(s.client);
    // A decoupled request first (its responses take a while), then ordered simple requests.
    st.call.write(repeatRequest("slow", [7], [60], 0));
    for (let i = 0; i < 5; i++) st.call.write(simpleRequest(`s${i}`, i));
    st.call.end();
    await st.status;
    const simple = st.messages.filter((m) => m.infer_response?.model_name === "simple");
    assert.deepEqual(simple.map((m) => m.infer_response!.id), ["s0", "s1", "s2", "s3", "s4"]);
    for (const [i, m] of simple.entries()) {
      assert.equal(finalFlag(m), true);
      assert.equal(scalarOutput(m, "OUTPUT0"), 2 * i);
    }
    assert.equal(st.messages.filter((m) => m.infer_response?.id === "slow").length, 2);
  });

  test("in-band errors name the request and the stream keeps serving", async () => {
    const st = openStream(s.client);
    st.call.write(repeatRequest("bad-delay", [1, 2, 3], [1], 0));
    st.call.write({ ...(repeatRequest("no-model", [1], [0], 0) as object), model_name: "missing" });
    st.call.write({ ...(repeatRequest("bad-flag", [1], [0], 0) as object), parameters: { triton_enable_empty_final_response: { string_param: "yes" } } });
    st.call.write(repeatRequest("good", [5], [0], 0));
    st.call.end();
    assert.equal((await st.status).code, grpc.status.OK);
    const byId = (id: string) => st.messages.filter((m) => m.infer_response?.id === id);
    assert.match(byId("bad-delay")[0]!.error_message, /DELAY has 1 elements but IN has 3/);
    assert.match(byId("no-model")[0]!.error_message, /unknown model: 'missing'/);
    assert.match(byId("bad-flag")[0]!.error_message, /triton_enable_empty_final_response.*expected bool_param/);
    const good = byId("good");
    assert.equal(good.length, 2);
    assert.equal(good[0]!.error_message, "");
    assert.equal(scalarOutput(good[0]!, "OUT"), 5);
    assert.equal(finalFlag(good[1]!), true);
  });

  test("unary inference of a decoupled model is refused over HTTP (501) and gRPC (UNIMPLEMENTED)", async () => {
    const body = {
      inputs: [
        { name: "IN", datatype: "INT32", shape: [1], data: [1] },
        { name: "DELAY", datatype: "UINT32", shape: [1], data: [0] },
        { name: "WAIT", datatype: "UINT32", shape: [1], data: [0] },
      ],
    };
    const r = await postJson(s.srv.httpUrl, "/v2/models/repeat_int32/infer", body);
    assert.equal(r.status, 501);
    assert.match(r.json().error, /decoupled transaction policy.*ModelStreamInfer/);
    await assert.rejects(s.client.call("ModelInfer", repeatRequest("u", [1], [0], 0)), (e: grpc.ServiceError) => {
      assert.equal(e.code, grpc.status.UNIMPLEMENTED);
      assert.match(e.details, /decoupled/);
      return true;
    });
  });

  test("cancelling the stream stops the model; response_stats records responses, the final flag and the cancel", async () => {
    const stats = async () => (await http(s.srv.httpUrl, "/v2/models/repeat_int32/stats")).json().model_stats[0];
    const before = await stats();
    const count = (snap: any, key: string, field: string): number => Number(snap.response_stats[key]?.[field]?.count ?? 0);

    const st = openStream(s.client);
    st.call.write(repeatRequest("long", [1, 2, 3, 4, 5, 6, 7, 8], [1, 1000, 1000, 1000, 1000, 1000, 1000, 1000], 0));
    await st.waitFor(1);
    st.call.cancel();
    assert.equal((await st.status).code, grpc.status.CANCELLED);
    // Time for the server to handle the cancellation (a model ignoring it would answer only after 1 s,
    // and the counters below would show no cancel).
    await new Promise((r) => setTimeout(r, 300));
    const after = await stats();
    assert.equal(count(after, "0", "success") - count(before, "0", "success"), 1, "response 0 went out");
    assert.equal(count(after, "1", "cancel") - count(before, "1", "cancel"), 1, "cancelled while producing response 1");
    assert.equal(count(after, "1", "success") - count(before, "1", "success"), 0, "nothing after the cancellation");
    assert.equal(Number(after.inference_stats.fail.count) - Number(before.inference_stats.fail.count), 1);

    // A complete run: keys 0..1 succeed, key 2 holds the empty final response.
    const done = openStream(s.client);
    done.call.write(repeatRequest("short", [1, 2], [0, 0], 0));
    done.call.end();
    await done.status;
    const end = await stats();
    assert.equal(count(end, "0", "success") - count(after, "0", "success"), 1);
    assert.equal(count(end, "1", "success") - count(after, "1", "success"), 1);
    assert.equal(count(end, "2", "empty_response") - count(after, "2", "empty_response"), 1);
    assert.equal(Number(end.inference_stats.success.count) - Number(after.inference_stats.success.count), 1);
  });

  test("the stream still answers after a sequence error on it", async () => {
    const st = openStream(s.client);
    st.call.write(sequenceRequest("q1", { int64_param: "77" }, 1));
    st.call.write(sequenceRequest("q2", { int64_param: "77" }, 4, { start: true }));
    st.call.end();
    await st.status;
    assert.match(st.messages[0]!.error_message, /sequence 77 to model 'simple_sequence' must specify the START flag/);
    assert.equal(scalarOutput(st.messages[1]!, "OUTPUT"), 4);
  });
});

describe("decoupled model configuration", () => {
  const load = async (models: Record<string, string>) => {
    const repo = tempRepository(models);
    try {
      const srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0 });
      await srv.close();
      return undefined;
    } catch (e) {
      return (e as Error).message;
    } finally {
      repo.remove();
    }
  };

  test("repeat needs decoupled; native backends cannot be decoupled", async () => {
    const notDecoupled = shippedConfig("repeat_int32").replace(/model_transaction_policy \{[^}]*\}/, "");
    assert.match((await load({ repeat_int32: notDecoupled })) ?? "", /backend 'repeat' sends many responses per request: set model_transaction_policy \{ decoupled: true \}/);
    const decoupledSimple = SIMPLE + "model_transaction_policy { decoupled: true }\n";
    assert.match((await load({ simple: decoupledSimple })) ?? "", /backend 'simple' answers each request once; it cannot be decoupled/);
    const wrongTensor = shippedConfig("repeat_int32").replace(`name: "WAIT"`, `name: "PAUSE"`);
    assert.match((await load({ repeat_int32: wrongTensor })) ?? "", /needs input 2 to be WAIT TYPE_UINT32 \[1\], got PAUSE/);
  });
});
