// client.stream() against hand-written ModelStreamInfer peers that behave like other servers do
// (no triton_final_response parameter, errors without an infer_response, a stream that fails with a
// status, responses that do not decode), plus what the peer observes: metadata, auth headers and the
// client's cancellation. Streaming against the reference server: test/client-streaming.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { InferenceError, Tensor, createClient, type StreamResponse } from "../src/index.ts";
import { LOADER_OPTIONS } from "../src/transport/grpc/service.ts";

type Handler = (call: grpc.ServerDuplexStream<any, any>) => void;

async function peer(handler: Handler): Promise<{ url: string; close(): void }> {
  const definition = protoLoader.loadSync("grpc_service.proto", LOADER_OPTIONS);
  const service = (grpc.loadPackageDefinition(definition) as any).inference.GRPCInferenceService.service;
  const server = new grpc.Server();
  server.addService(service, { ModelStreamInfer: handler });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return { url: `grpc://127.0.0.1:${port}`, close: () => server.forceShutdown() };
}

/** An answer as KServe-style servers send it: typed contents, no triton_final_response. */
const answer = (id: string, v: number) => ({
  infer_response: { model_name: "m", id, outputs: [{ name: "OUT", datatype: "INT32", shape: ["1"], contents: { int_contents: [v] } }] },
});

const input = [new Tensor("IN", "INT32", [1], Int32Array.of(1))];

async function collect(stream: AsyncIterable<StreamResponse>): Promise<StreamResponse[]> {
  const out: StreamResponse[] = [];
  for await (const item of stream) out.push(item);
  return out;
}

test("responses without triton_final_response are final; errors without infer_response have no request id", async () => {
  const p = await peer((call) => {
    let n = 0;
    call.on("data", (req: { id: string }) => {
      n++;
      call.write(n === 2 ? { error_message: "model exploded" } : answer(req.id, n * 10));
    });
    call.on("end", () => call.end());
  });
  const client = createClient({ url: p.url });
  try {
    const stream = client.stream();
    const a = stream.send("m", input);
    stream.send("m", input, { id: "second" });
    const c = stream.send("m", input);
    const ownA = stream.responses(a);
    stream.end();
    const got: number[] = [];
    for await (const r of ownA) got.push((r.output("OUT").data as Int32Array)[0]!);
    assert.deepEqual(got, [10]);
    const rest = await collect(stream);
    assert.equal(rest.length, 2);
    assert.equal(rest[0]!.type, "error");
    assert.equal(rest[0]!.requestId, "");
    assert.ok(rest[0]!.type === "error" && rest[0]!.error instanceof InferenceError && rest[0]!.error.message === "model exploded");
    assert.ok(rest[1]!.type === "result" && rest[1]!.requestId === c && rest[1]!.final === true);
    await stream.closed;
  } finally {
    await client.close();
    p.close();
  }
});

test("a stream the server fails ends the iteration, pending responses() and closed with that status", async () => {
  const p = await peer((call) => {
    call.on("data", (req: { id: string }) => {
      call.write(answer(req.id, 1));
      call.emit("error", { code: grpc.status.UNAVAILABLE, details: "draining" });
    });
  });
  const client = createClient({ url: p.url });
  try {
    const stream = client.stream();
    const id = stream.send("m", input);
    const items: StreamResponse[] = [];
    await assert.rejects(
      (async () => {
        for await (const item of stream) items.push(item);
      })(),
      (e: InferenceError) => e.code === "unavailable" && /draining/.test(e.message),
    );
    assert.equal(items.length, 1, "the response sent before the failure is delivered first");
    await assert.rejects(stream.closed, (e: InferenceError) => e.code === "unavailable");
    await assert.rejects(
      (async () => {
        for await (const _ of stream.responses("later")) void _;
      })(),
      (e: InferenceError) => e.code === "aborted",
    );
    assert.equal(items[0]!.requestId, id);
  } finally {
    await client.close();
    p.close();
  }
});

test("the peer receives headers and auth metadata, and sees the client's cancellation", async () => {
  let metadata: grpc.Metadata | undefined;
  let cancelled!: () => void;
  const sawCancel = new Promise<void>((r) => (cancelled = r));
  const p = await peer((call) => {
    metadata = call.metadata;
    call.on("cancelled", () => cancelled());
    call.on("data", (req: { id: string }) => call.write(answer(req.id, 1)));
  });
  const client = createClient({ url: p.url, auth: async () => ({ authorization: "Bearer t0k3n" }) });
  try {
    const stream = client.stream({ headers: { "x-trace": "abc" } });
    stream.send("m", input);
    for await (const item of stream) {
      assert.equal(item.type, "result");
      stream.cancel("enough");
    }
  } catch (e) {
    assert.ok(e instanceof InferenceError && e.code === "cancelled", String(e));
  } finally {
    await sawCancel;
    await client.close();
    p.close();
  }
  assert.deepEqual(metadata!.get("x-trace"), ["abc"]);
  assert.deepEqual(metadata!.get("authorization"), ["Bearer t0k3n"]);
});

test("a response that does not decode fails the stream with 'internal' and cancels it", async () => {
  let cancelled!: () => void;
  const sawCancel = new Promise<void>((r) => (cancelled = r));
  const p = await peer((call) => {
    call.on("cancelled", () => cancelled());
    call.on("data", (req: { id: string }) =>
      call.write({ infer_response: { id: req.id, outputs: [{ name: "OUT", datatype: "INT33", shape: ["1"] }], raw_output_contents: [Buffer.alloc(4)] } }),
    );
  });
  const client = createClient({ url: p.url });
  try {
    const stream = client.stream();
    stream.send("m", input);
    await assert.rejects(collect(stream), (e: InferenceError) => e.code === "internal" && /unknown datatype "INT33"/.test(e.message));
    await sawCancel;
  } finally {
    await client.close();
    p.close();
  }
});
