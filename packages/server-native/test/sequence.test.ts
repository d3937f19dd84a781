// Sequence batching (Triton's direct strategy) with the shipped simple_sequence accumulator: sequences
// keep their own state over HTTP, gRPC and the stream; START is required first; string and uint64 ids
// (including ids past 2^63); idle sequences lose their slot; sequences beyond the slots wait in the
// backlog; the sequence_batching config is checked and reported.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { stringifyJson } from "@iaas/client/protocol";
import { http, postJson, serveForSuite, tempRepository } from "./helpers.ts";
import { i32, openStream, scalarOutput, sequenceRequest, shippedConfig } from "./stream-helpers.ts";
import { startServer } from "../src/server.ts";

/** simple_sequence with one instance of `slots` slots and a short idle time. */
const smallSequenceModel = (name: string, slots: number, idleUs: number): string =>
  shippedConfig("simple_sequence")
    .replace(`name: "simple_sequence"`, `name: "${name}"`)
    .replace("max_batch_size: 8", `max_batch_size: ${slots}`)
    .replace("max_sequence_idle_microseconds: 5000000", `max_sequence_idle_microseconds: ${idleUs}`);

const IDENTITY = `name: "identity_i32"
backend: "identity"
max_batch_size: 0
input [ { name: "INPUT0", data_type: TYPE_INT32, dims: [ 1 ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_INT32, dims: [ 1 ] } ]
`;

describe("simple_sequence", () => {
  const s = serveForSuite({
    simple_sequence: shippedConfig("simple_sequence"),
    one_slot: smallSequenceModel("one_slot", 1, 250_000),
    two_slots: smallSequenceModel("two_slots", 2, 60_000_000),
    identity_i32: IDENTITY,
  });

  /** One HTTP request of a sequence; returns the OUTPUT value or throws with the error text. */
  async function httpStep(model: string, id: number | bigint | string, value: number, flags: { start?: boolean; end?: boolean } = {}): Promise<number> {
    const parameters: Record<string, unknown> = { sequence_id: id };
    if (flags.start) parameters.sequence_start = true;
    if (flags.end) parameters.sequence_end = true;
    const body = stringifyJson({ parameters, inputs: [{ name: "INPUT", datatype: "INT32", shape: [1, 1], data: [value] }] });
    const r = await http(s.srv.httpUrl, `/v2/models/${model}/infer`, { body, headers: { "content-type": "application/json" } });
    if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.json().error}`);
    return r.json().outputs[0].data[0];
  }

  async function grpcStep(id: object, value: number, flags: { start?: boolean; end?: boolean } = {}, model = "simple_sequence"): Promise<number> {
    const r = await s.client.call("ModelInfer", sequenceRequest("g", id, value, flags, model));
    return (r.raw_output_contents[0] as Buffer).readInt32LE(0);
  }

  test("two interleaved sequences over HTTP accumulate independently", async () => {
    const values = [11, 7, 5, 3, 2, 0, 1];
    const a: number[] = [];
    const b: number[] = [];
    for (const [i, v] of values.entries()) {
      const flags = { start: i === 0, end: i === values.length - 1 };
      a.push(await httpStep("simple_sequence", 1001, v, flags));
      b.push(await httpStep("simple_sequence", 1002, -v * 10, flags));
    }
    assert.deepEqual(a, [11, 18, 23, 26, 28, 28, 29]);
    assert.deepEqual(b, [-110, -180, -230, -260, -280, -280, -290]);
  });

  test("two interleaved sequences over gRPC, concurrently, with string and uint64 ids", async () => {
    const big = (1n << 64n) - 5n; // past 2^63: Triton's clients send it as the int64 of the same bits
    const asInt64 = BigInt.asIntN(64, big).toString();
    const results = await Promise.all([
      (async () => {
        const out = [await grpcStep({ string_param: "user-7" }, 3, { start: true })];
        for (const v of [4, 5]) out.push(await grpcStep({ string_param: "user-7" }, v));
        out.push(await grpcStep({ string_param: "user-7" }, 1, { end: true }));
        return out;
      })(),
      (async () => {
        const out = [await grpcStep({ int64_param: asInt64 }, 100, { start: true })];
        for (const v of [-1, -2]) out.push(await grpcStep({ uint64_param: big.toString() }, v));
        out.push(await grpcStep({ int64_param: asInt64 }, 0, { end: true }));
        return out;
      })(),
    ]);
    assert.deepEqual(results, [
      [3, 7, 12, 13],
      [100, 99, 97, 97],
    ]);
  });

  test("uint64 ids past 2^53 stay exact over HTTP JSON", async () => {
    const id = (1n << 63n) + 12345n;
    assert.equal(await httpStep("simple_sequence", id, 2, { start: true }), 2);
    // A neighbouring id that differs only below the double precision is another sequence.
    await assert.rejects(httpStep("simple_sequence", id + 1n, 1), /sequence 9223372036854788154 to model 'simple_sequence' must specify the START flag/);
    assert.equal(await httpStep("simple_sequence", id, 3, { end: true }), 5);
  });

  test("a request for an unknown sequence without START is refused, as Triton words it", async () => {
    await assert.rejects(httpStep("simple_sequence", 424242, 1), /HTTP 400: inference request for sequence 424242 to model 'simple_sequence' must specify the START flag on the first request of the sequence/);
    await assert.rejects(grpcStep({ string_param: "nobody" }, 1), (e: grpc.ServiceError) => {
      assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
      assert.match(e.details, /sequence nobody to model 'simple_sequence' must specify the START flag/);
      return true;
    });
    // After END the id is forgotten: continuing needs a new START.
    assert.equal(await httpStep("simple_sequence", 5150, 1, { start: true, end: true }), 1);
    await assert.rejects(httpStep("simple_sequence", 5150, 1), /must specify the START flag/);
  });

  test("requests without a sequence id, with a batch, or with malformed flags are refused", async () => {
    const noId = await postJson(s.srv.httpUrl, "/v2/models/simple_sequence/infer", { inputs: [{ name: "INPUT", datatype: "INT32", shape: [1, 1], data: [1] }] });
    assert.equal(noId.status, 400);
    assert.match(noId.json().error, /inference request to model 'simple_sequence' must specify a non-zero or non-empty correlation ID/);
    const zero = await postJson(s.srv.httpUrl, "/v2/models/simple_sequence/infer", {
      parameters: { sequence_id: 0, sequence_start: true },
      inputs: [{ name: "INPUT", datatype: "INT32", shape: [1, 1], data: [1] }],
    });
    assert.match(zero.json().error, /non-zero or non-empty correlation ID/);
    const batch = await postJson(s.srv.httpUrl, "/v2/models/simple_sequence/infer", {
      parameters: { sequence_id: 9, sequence_start: true },
      inputs: [{ name: "INPUT", datatype: "INT32", shape: [2, 1], data: [1, 2] }],
    });
    assert.match(batch.json().error, /must specify batch-size 1 due to requirements of sequence batcher/);
    const badFlag = await postJson(s.srv.httpUrl, "/v2/models/simple_sequence/infer", {
      parameters: { sequence_id: 9, sequence_start: "yes" },
      inputs: [{ name: "INPUT", datatype: "INT32", shape: [1, 1], data: [1] }],
    });
    assert.match(badFlag.json().error, /invalid value type for 'sequence_start' parameter, expected a boolean/);
    const badId = await postJson(s.srv.httpUrl, "/v2/models/simple_sequence/infer", {
      parameters: { sequence_id: 1.5, sequence_start: true },
      inputs: [{ name: "INPUT", datatype: "INT32", shape: [1, 1], data: [1] }],
    });
    assert.match(badId.json().error, /'sequence_id' parameter, expected an unsigned 64-bit integer or a string/);
  });

  test("sequences accumulate independently on one stream, interleaved with a plain model", async () => {
    const st = openStream(s.client);
    const plan: [string, number, { start?: boolean; end?: boolean }][] = [
      ["x", 1, { start: true }],
      ["y", 10, { start: true }],
      ["x", 2, {}],
      ["y", 20, {}],
      ["x", 3, { end: true }],
      ["y", 30, { end: true }],
    ];
    plan.forEach(([seq, v, flags], i) => {
      st.call.write(sequenceRequest(`${seq}${i}`, { string_param: `stream-${seq}` }, v, flags));
      st.call.write({ model_name: "identity_i32", id: `i${i}`, inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1] }], raw_input_contents: [i32([i])] });
    });
    st.call.end();
    await st.status;
    assert.equal(st.messages.length, 12);
    assert.ok(st.messages.every((m) => m.error_message === ""), JSON.stringify(st.messages.map((m) => m.error_message)));
    // Non-decoupled answers come in request order.
    assert.deepEqual(
      st.messages.map((m) => m.infer_response!.id),
      plan.flatMap(([seq], i) => [`${seq}${i}`, `i${i}`]),
    );
    const sums = st.messages.filter((m) => m.infer_response!.model_name === "simple_sequence").map((m) => scalarOutput(m, "OUTPUT"));
    assert.deepEqual(sums, [1, 10, 3, 30, 6, 60]);
  });

  test("a sequence beyond the slots waits in the backlog; the stream still answers in request order", async () => {
    // one_slot: a single slot; sequence A holds it and goes idle (250 ms); B waits, then gets the slot.
    assert.equal(await grpcStep({ int64_param: "1" }, 5, { start: true }, "one_slot"), 5);
    const st = openStream(s.client);
    const t0 = Date.now();
    st.call.write(sequenceRequest("b1", { int64_param: "2" }, 7, { start: true }, "one_slot"));
    st.call.write({ model_name: "identity_i32", id: "after-b", inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1] }], raw_input_contents: [i32([1])] });
    st.call.end();
    await st.status;
    const waited = Date.now() - t0;
    assert.deepEqual(st.messages.map((m) => m.infer_response!.id), ["b1", "after-b"]);
    assert.equal(scalarOutput(st.messages[0]!, "OUTPUT"), 7);
    assert.ok(waited >= 100, `B ran after ${waited} ms; it should have waited for A's slot`);
    // A went idle and lost its slot: its id is forgotten.
    await assert.rejects(grpcStep({ int64_param: "1" }, 1, {}, "one_slot"), /sequence 1 to model 'one_slot' must specify the START flag/);
  });

  test("an ended sequence hands its slot to the oldest waiting one", async () => {
    // two_slots: two sequences run, a third waits until one of them ends (idle time is long).
    assert.equal(await grpcStep({ int64_param: "11" }, 1, { start: true }, "two_slots"), 1);
    assert.equal(await grpcStep({ int64_param: "12" }, 2, { start: true }, "two_slots"), 2);
    let thirdDone = false;
    const third = grpcStep({ int64_param: "13" }, 3, { start: true }, "two_slots").then((v) => {
      thirdDone = true;
      return v;
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(thirdDone, false, "the third sequence must wait for a slot");
    assert.equal(await grpcStep({ int64_param: "11" }, 10, { end: true }, "two_slots"), 11);
    assert.equal(await third, 3);
    assert.equal(await grpcStep({ int64_param: "12" }, 1, { end: true }, "two_slots"), 3);
    assert.equal(await grpcStep({ int64_param: "13" }, 4, { end: true }, "two_slots"), 7);
  });

  test("the model config reports sequence_batching with its control inputs (HTTP and gRPC)", async () => {
    const httpConfig = (await http(s.srv.httpUrl, "/v2/models/simple_sequence/config")).json();
    assert.equal(httpConfig.sequence_batching.max_sequence_idle_microseconds, 5000000);
    assert.deepEqual(
      httpConfig.sequence_batching.control_input.map((c: any) => [c.name, c.control[0].kind, c.control[0].int32_false_true]),
      [
        ["START", "CONTROL_SEQUENCE_START", [0, 1]],
        ["READY", "CONTROL_SEQUENCE_READY", [0, 1]],
      ],
    );
    const grpcConfig = await s.client.call("ModelConfig", { name: "simple_sequence" });
    assert.deepEqual(
      grpcConfig.config.sequence_batching.control_input.map((c: any) => [c.name, c.control[0].kind]),
      [
        ["START", "CONTROL_SEQUENCE_START"],
        ["READY", "CONTROL_SEQUENCE_READY"],
      ],
    );
    assert.equal(grpcConfig.config.sequence_batching.max_sequence_idle_microseconds, "5000000");
    // Control inputs are fed by the batcher, not by clients: metadata lists only INPUT.
    const meta = (await http(s.srv.httpUrl, "/v2/models/simple_sequence")).json();
    assert.deepEqual(meta.inputs.map((t: any) => t.name), ["INPUT"]);
    assert.ok((await http(s.srv.httpUrl, "/v2")).json().extensions.includes("sequence"), "server metadata lists the sequence extension");
  });
});

describe("sequence_batching configuration", () => {
  const loadError = async (models: Record<string, string>): Promise<string> => {
    const repo = tempRepository(models);
    try {
      const srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0 });
      await srv.close();
      return "";
    } catch (e) {
      return (e as Error).message;
    } finally {
      repo.remove();
    }
  };
  const base = shippedConfig("simple_sequence");

  test("checks controls, strategy and backend support, naming file and line", async () => {
    const twoStarts = base.replace("kind: CONTROL_SEQUENCE_READY", "kind: CONTROL_SEQUENCE_START");
    assert.match(await loadError({ simple_sequence: twoStarts }), /config\.pbtxt:\d+: sequence batching specifies CONTROL_SEQUENCE_START twice \(control inputs 'START' and 'READY'\)/);
    const oneValue = base.replace("int32_false_true: [ 0, 1 ]", "int32_false_true: [ 1 ]");
    assert.match(await loadError({ simple_sequence: oneValue }), /CONTROL_SEQUENCE_START control 'START' must list exactly two values \(false, true\), got 1/);
    const oldest = base.replace("sequence_batching {", "sequence_batching {\n  oldest { }");
    assert.match(await loadError({ simple_sequence: oldest }), /the oldest sequence batching strategy is not supported by iaas/);
    const delay = base.replace("sequence_batching {", "sequence_batching {\n  direct { max_queue_delay_microseconds: 100 }");
    assert.match(await loadError({ simple_sequence: delay }), /max_queue_delay_microseconds must be 0, got 100/);
    const corrid = base.replace("kind: CONTROL_SEQUENCE_READY\n          int32_false_true: [ 0, 1 ]", "kind: CONTROL_SEQUENCE_CORRID\n          data_type: TYPE_FP32");
    assert.match(await loadError({ simple_sequence: corrid }), /CONTROL_SEQUENCE_CORRID control 'READY' needs data_type TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32, TYPE_STRING, got TYPE_FP32/);
    const noStart = base.replace(/\{\s*name: "START"[\s\S]*?\]\s*\},/, "");
    assert.match(await loadError({ simple_sequence: noStart }), /backend 'simple_sequence' resets its sum on START: declare a control input of kind CONTROL_SEQUENCE_START/);
    const nativeControls = `${IDENTITY}sequence_batching { control_input [ { name: "S", control [ { kind: CONTROL_SEQUENCE_START, int32_false_true: [ 0, 1 ] } ] } ] }\n`;
    assert.match(await loadError({ identity_i32: nativeControls }), /backend 'identity' does not read sequence control tensors; remove control_input/);
    const noSequencing = base.replace(/sequence_batching \{[\s\S]*?\n\}\n/, "");
    assert.match(await loadError({ simple_sequence: noSequencing }), /backend 'simple_sequence' keeps state per sequence: the model needs a sequence_batching block/);
  });

  test("a native model with sequence_batching (no controls) routes each sequence to one instance", async () => {
    const repo = tempRepository({ identity_i32: `${IDENTITY}sequence_batching { max_sequence_idle_microseconds: 1000000 }\n` });
    const srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0 });
    try {
      const step = (parameters: object) =>
        postJson(srv.httpUrl, "/v2/models/identity_i32/infer", { parameters, inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1], data: [42] }] });
      const first = await step({ sequence_id: "s", sequence_start: true });
      assert.equal(first.status, 200);
      assert.deepEqual(first.json().outputs[0].data, [42]);
      assert.match((await step({ sequence_id: "t" })).json().error, /must specify the START flag/);
    } finally {
      await srv.close();
      repo.remove();
    }
  });
});
