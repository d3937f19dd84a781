// @iaas/client streaming against the real reference server: client.stream() over gRPC ModelStreamInfer
// with the decoupled repeat_int32 (responses in order, final flags), in-band errors that keep the stream
// usable, cancellation (cancel(), AbortSignal, breaking out) that the server sees, deadlines,
// responses(requestId) and inferDecoupled; HTTP clients refuse streaming.
// Lives in the cross-package test/ folder: @iaas/server-native depends on @iaas/client.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startServer, type RunningServer } from "@iaas/server-native";
import { InferenceError, Tensor, createClient, type InferResult, type InferenceClient, type StreamResponse } from "@iaas/client";
import { expectCode } from "./client-fixtures.ts";

function repeatInputs(values: number[], delays: number[], wait = 0): Tensor[] {
  return [
    new Tensor("IN", "INT32", [values.length], Int32Array.from(values)),
    new Tensor("DELAY", "UINT32", [delays.length], Uint32Array.from(delays)),
    new Tensor("WAIT", "UINT32", [1], Uint32Array.of(wait)),
  ];
}

const out = (r: InferResult): [number, number] => [(r.output("OUT").data as Int32Array)[0]!, (r.output("IDX").data as Uint32Array)[0]!];

async function collect(iterable: AsyncIterable<StreamResponse>): Promise<StreamResponse[]> {
  const items: StreamResponse[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe("client streaming", () => {
  let server: RunningServer;
  let grpcClient: InferenceClient;
  let httpClient: InferenceClient;

  before(async () => {
    server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0 });
    grpcClient = createClient({ url: server.grpcUrl, protocol: "grpc" });
    httpClient = createClient({ url: server.httpUrl });
  });
  after(async () => {
    await grpcClient.close();
    await httpClient.close();
    await server.close();
  });

  /** response_stats counters of repeat_int32, read from the server itself. */
  const responseCount = (key: string, field: "success" | "cancel" | "empty_response"): number => {
    const snap = server.server.statistics("repeat_int32")[0]!;
    return Number(snap.response_stats[key]?.[field].count ?? 0n);
  };

  test("repeat_int32: N results in order, each not final, then an empty final result", async () => {
    const stream = grpcClient.stream();
    const id = stream.send("repeat_int32", repeatInputs([4, 8, 15, 16, 23], [2, 2, 2, 2, 2]));
    assert.equal(id, "stream-1");
    stream.end();
    const items = await collect(stream);
    assert.equal(items.length, 6);
    items.forEach((item) => {
      assert.equal(item.type, "result");
      assert.equal(item.requestId, id);
    });
    const results = items as Extract<StreamResponse, { type: "result" }>[];
    assert.deepEqual(results.slice(0, 5).map((r) => out(r.result)), [[4, 0], [8, 1], [15, 2], [16, 3], [23, 4]]);
    assert.deepEqual(results.map((r) => r.final), [false, false, false, false, false, true]);
    assert.equal(results[5]!.result.outputs.length, 0);
    await stream.closed;
  });

  test("enableEmptyFinalResponse: false leaves only the data responses", async () => {
    const stream = grpcClient.stream();
    stream.send("repeat_int32", repeatInputs([1, 2], [0, 0]), { id: "plain", enableEmptyFinalResponse: false });
    stream.end();
    const items = await collect(stream);
    assert.deepEqual(items.map((i) => (i.type === "result" ? [i.requestId, i.final] : i.type)), [["plain", false], ["plain", false]]);
  });

  test("an in-band error is an item of the iteration and the stream stays usable", async () => {
    const stream = grpcClient.stream();
    const bad = stream.send("repeat_int32", repeatInputs([1, 2, 3], [0]), { id: "bad" });
    const missing = stream.send("no_such_model", repeatInputs([1], [0]));
    const good = stream.send("simple", [
      new Tensor("INPUT0", "INT32", [1, 16], new Int32Array(16).fill(2)),
      new Tensor("INPUT1", "INT32", [1, 16], new Int32Array(16).fill(1)),
    ]);
    stream.end();
    const items = await collect(stream);
    const byId = new Map(items.map((i) => [i.requestId, i]));
    const badItem = byId.get(bad)!;
    assert.equal(badItem.type, "error");
    assert.ok(badItem.type === "error" && badItem.error instanceof InferenceError);
    assert.match(badItem.type === "error" ? badItem.error.message : "", /DELAY has 1 elements but IN has 3/);
    assert.match((byId.get(missing) as { error: Error }).error.message, /unknown model: 'no_such_model'/);
    const ok = byId.get(good)!;
    assert.ok(ok.type === "result" && ok.final);
    assert.deepEqual(Array.from(ok.type === "result" ? (ok.result.output("OUTPUT0").data as Int32Array) : []), new Array(16).fill(3));
  });

  test("cancel() mid-stream: the server stops the model and iteration ends with code 'cancelled'", async () => {
    const cancelsBefore = responseCount("1", "cancel");
    const secondBefore = responseCount("1", "success");
    const stream = grpcClient.stream();
    stream.send("repeat_int32", repeatInputs([1, 2, 3, 4, 5, 6], [1, 1000, 1000, 1000, 1000, 1000]));
    const seen: StreamResponse[] = [];
    await expectCode(
      (async () => {
        for await (const item of stream) {
          seen.push(item);
          stream.cancel();
        }
      })(),
      "cancelled",
    );
    assert.equal(seen.length, 1);
    await expectCode(stream.closed, "cancelled");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(responseCount("1", "cancel") - cancelsBefore, 1, "the server saw the cancellation while producing response 1");
    assert.equal(responseCount("1", "success") - secondBefore, 0, "no response after the cancellation");
    assert.throws(() => stream.send("repeat_int32", repeatInputs([1], [0])), (e: InferenceError) => e.code === "failed_precondition");
  });

  test("an AbortSignal cancels the stream; breaking out of the iteration cancels it too", async () => {
    const cancelsBefore = responseCount("1", "cancel");
    const ac = new AbortController();
    const stream = grpcClient.stream({ signal: ac.signal });
    stream.send("repeat_int32", repeatInputs([1, 2, 3], [1, 1000, 1000]));
    setTimeout(() => ac.abort(), 50);
    await expectCode(collect(stream), "cancelled");

    const second = grpcClient.stream();
    second.send("repeat_int32", repeatInputs([7, 8, 9], [1, 1000, 1000]));
    for await (const item of second) {
      assert.equal(item.type, "result");
      break;
    }
    await expectCode(second.closed, "cancelled");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(responseCount("1", "cancel") - cancelsBefore, 2, "the server saw both cancellations");
  });

  test("a stream deadline ends it with deadline_exceeded", async () => {
    const stream = grpcClient.stream({ timeoutMs: 150 });
    stream.send("repeat_int32", repeatInputs([1, 2], [1, 2000]));
    await expectCode(collect(stream), "deadline_exceeded", /150 ms/);
  });

  test("responses(requestId) yields one request's results; the others stay in the iteration", async () => {
    const stream = grpcClient.stream();
    const a = stream.send("repeat_int32", repeatInputs([1, 2, 3], [5, 5, 5]), { id: "a" });
    const b = stream.send("repeat_int32", repeatInputs([10, 20], [3, 3]), { id: "b" });
    const mine = stream.responses(a);
    stream.end();
    const [own, rest] = await Promise.all([
      (async () => {
        const r: [number, number][] = [];
        for await (const result of mine) r.push(out(result));
        return r;
      })(),
      collect(stream),
    ]);
    assert.deepEqual(own, [[1, 0], [2, 1], [3, 2]]);
    assert.ok(rest.every((i) => i.requestId === b));
    assert.deepEqual(rest.map((i) => (i.type === "result" ? i.final : "error")), [false, false, true]);
  });

  test("inferDecoupled yields every response of one request; an in-band error throws", async () => {
    const results: [number, number][] = [];
    for await (const r of grpcClient.inferDecoupled("repeat_int32", repeatInputs([3, 1, 4], [1, 1, 1]))) results.push(out(r));
    assert.deepEqual(results, [[3, 0], [1, 1], [4, 2]]);
    await expectCode(
      (async () => {
        for await (const _ of grpcClient.inferDecoupled("repeat_int32", repeatInputs([1, 2], [1]))) void _;
      })(),
      "unknown",
      /DELAY has 1 elements but IN has 2/,
    );
    // Breaking out early cancels the request on the server.
    const cancelsBefore = responseCount("1", "cancel");
    for await (const r of grpcClient.inferDecoupled("repeat_int32", repeatInputs([5, 6, 7], [1, 1000, 1000]))) {
      assert.deepEqual(out(r), [5, 0]);
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(responseCount("1", "cancel") - cancelsBefore, 1);
  });

  test("HTTP clients refuse streaming with 'unimplemented'", async () => {
    assert.throws(() => httpClient.stream(), (e: InferenceError) => e.code === "unimplemented" && /needs gRPC/.test(e.message));
    await expectCode(
      (async () => {
        for await (const _ of httpClient.inferDecoupled("repeat_int32", repeatInputs([1], [0]))) void _;
      })(),
      "unimplemented",
    );
    // Unary inference of the decoupled model: the server refuses it (HTTP 501).
    await expectCode(httpClient.infer("repeat_int32", repeatInputs([1], [0])), "unimplemented", /decoupled transaction policy/);
  });

  test("send() checks its arguments and refuses after end()", () => {
    const stream = grpcClient.stream();
    assert.throws(() => stream.send("", []), (e: InferenceError) => e.code === "invalid_argument");
    assert.throws(() => stream.send("simple", [{} as Tensor]), (e: InferenceError) => e.code === "invalid_argument" && /inputs\[0\] is not a Tensor/.test(e.message));
    stream.end();
    assert.throws(() => stream.send("simple", []), (e: InferenceError) => e.code === "failed_precondition" && /end\(\) was called/.test(e.message));
    return stream.closed;
  });
});
