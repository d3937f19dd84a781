// The lean call paths of infer (no async frame per layer, shared header lists on node:http2, the answer
// decoded by the call itself): what they skip must not change what goes out or what the layers record.
// - Calls without metadata or deadline share one raw header list: calls with metadata or a deadline
//   around them must neither leak into it nor lose theirs.
// - The balancing layer without an async frame still counts a call as outstanding until it settles,
//   ejects its endpoint on a connection failure and restores it on an answer (one endpoint too).
// - client.infer without an async frame still rejects (never throws) on bad arguments.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { createClient, InferenceError, Tensor } from "../src/index.ts";
import { inferenceServiceClient } from "../src/transport/grpc/service.ts";
import { createBalancedTransport } from "../src/transport/balanced.ts";
import type { InferRequest, InferResponse, Transport } from "../src/transport/transport.ts";
import { forwardAll } from "../src/transport/forwarding.ts";

interface Seen {
  metadata: Record<string, unknown>;
  host: string;
  deadline: number;
}

type Request = { model_name: string; raw_input_contents: Buffer[] };

/** A grpc-js peer that records each call's metadata, :authority and deadline, and holds calls while `hold` is set. */
async function recordingPeer() {
  const service = (inferenceServiceClient() as unknown as { service: grpc.ServiceDefinition }).service;
  const server = new grpc.Server();
  const seen: Seen[] = [];
  const held: (() => void)[] = [];
  const peer = { url: "", port: 0, seen, held, hold: false, close: async () => server.forceShutdown() };
  server.addService(service, {
    ModelInfer: (call: grpc.ServerUnaryCall<Request, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const deadline = call.getDeadline();
      seen.push({ metadata: call.metadata.getMap(), host: call.getHost(), deadline: deadline instanceof Date ? deadline.getTime() : Number(deadline) });
      const raw = call.request.raw_input_contents[0] ?? Buffer.alloc(0);
      const answer = () => cb(null, { model_name: call.request.model_name, outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [raw.length / 4] }], raw_output_contents: [raw] });
      if (peer.hold) held.push(answer);
      else answer();
    },
  });
  peer.port = await new Promise<number>((res, rej) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  peer.url = `grpc://127.0.0.1:${peer.port}`;
  return peer;
}

const fp32 = (values: number[]) => new Tensor("INPUT0", "FP32", [values.length], Float32Array.from(values));

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("node:http2 shared header lists", () => {
  let peer: Awaited<ReturnType<typeof recordingPeer>>;
  before(async () => {
    peer = await recordingPeer();
  });
  after(() => peer.close());

  test("calls with and without metadata or deadline alternate: each carries exactly its own", async () => {
    const client = createClient({ url: peer.url, protocol: "grpc", retry: false });
    try {
      peer.seen.length = 0;
      const plain = () => client.infer("m", [fp32([1])]);
      await plain();
      await client.infer("m", [fp32([2])], { headers: { "x-call": "one" } });
      await plain();
      await client.infer("m", [fp32([3])], { timeoutMs: 60_000 });
      await Promise.all([plain(), client.infer("m", [fp32([4])], { headers: { "x-call": "two" }, timeoutMs: 30_000 }), plain()]);
      const byCall = peer.seen.map((s) => [s.metadata["x-call"], Number.isFinite(s.deadline)]);
      assert.deepEqual(byCall.slice(0, 4), [
        [undefined, false],
        ["one", false],
        [undefined, false],
        [undefined, true],
      ]);
      // The three concurrent calls: exactly one has metadata, and it is the one with a deadline.
      const last = byCall.slice(4).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      assert.deepEqual(last, [
        ["two", true],
        [undefined, false],
        [undefined, false],
      ]);
      for (const s of peer.seen) {
        assert.equal(s.host, `127.0.0.1:${peer.port}`);
        assert.match(String(s.metadata["user-agent"]), /^iaas-client-h2 /);
      }
    } finally {
      await client.close();
    }
  });

  test("a client's constant headers go with every call, none without them", async () => {
    const withHeaders = createClient({ url: peer.url, protocol: "grpc", retry: false, headers: { "x-tenant": "t1" } });
    const without = createClient({ url: peer.url, protocol: "grpc", retry: false });
    try {
      peer.seen.length = 0;
      await withHeaders.infer("m", [fp32([1])]);
      await without.infer("m", [fp32([1])]);
      await withHeaders.infer("m", [fp32([1])]);
      assert.deepEqual(
        peer.seen.map((s) => s.metadata["x-tenant"]),
        ["t1", undefined, "t1"],
      );
    } finally {
      await withHeaders.close();
      await without.close();
    }
  });

  test("one endpoint: a call is outstanding until it settles; a refused connection ejects, an answer restores", async () => {
    const port = await closedPort();
    // Two transports behind one balanced endpoint: the first refuses (nothing listens), the second answers.
    const dead = createClient({ url: `127.0.0.1:${port}`, protocol: "grpc", retry: false });
    const live = createClient({ url: peer.url, protocol: "grpc", retry: false });
    let target = dead;
    const adapter: Transport = {
      ...forwardAll({} as Transport),
      protocol: "grpc",
      url: "switching",
      infer: (req: InferRequest) => target.infer(req.model, [...req.inputs]).then((r) => ({ model_name: r.modelName, outputs: [] }) as unknown as InferResponse),
      close: async () => {},
    } as Transport;
    const balanced = createBalancedTransport([{ transport: adapter }], { healthCheck: false });
    const req = { model: "m", inputs: [fp32([1])], binaryInputs: true, binaryOutputs: true } as unknown as InferRequest;
    try {
      const refused = await balanced.infer(req, {}).then(
        () => assert.fail("expected a refusal"),
        (e: unknown) => e,
      );
      assert.ok(refused instanceof InferenceError);
      assert.equal(refused.code, "unavailable");
      let [status] = balanced.endpoints!();
      assert.equal(status!.state, "ejected");
      assert.equal(status!.failures, 1);
      assert.equal(status!.outstanding, 0);

      target = live;
      peer.hold = true;
      const pending = balanced.infer(req, {});
      await new Promise<void>((r) => {
        const wait = () => (peer.held.length > 0 ? r() : setTimeout(wait, 5));
        wait();
      });
      [status] = balanced.endpoints!();
      assert.equal(status!.outstanding, 1, "a call in flight is outstanding");
      peer.hold = false;
      for (const answer of peer.held.splice(0)) answer();
      await pending;
      [status] = balanced.endpoints!();
      assert.deepEqual([status!.state, status!.outstanding, status!.requests, status!.ejections], ["healthy", 0, 2, 1]);

      // A synchronous throw below the layer still counts as settled and rejects.
      const throwing = createBalancedTransport(
        [
          {
            transport: {
              ...adapter,
              infer: () => {
                throw new InferenceError("internal", "thrown synchronously");
              },
            } as Transport,
          },
        ],
        { healthCheck: false },
      );
      await assert.rejects(throwing.infer(req, {}), /thrown synchronously/);
      assert.equal(throwing.endpoints!()[0]!.outstanding, 0);
      await throwing.close();
    } finally {
      await balanced.close();
      await dead.close();
      await live.close();
    }
  });

  test("a signal that is not an AbortSignal rejects the call as invalid_argument; the client still works", async () => {
    const client = createClient({ url: peer.url, protocol: "grpc", retry: false });
    try {
      const bad = { aborted: false } as unknown as AbortSignal;
      await assert.rejects(client.infer("m", [fp32([1])], { signal: bad }), (e: unknown) => e instanceof InferenceError && e.code === "invalid_argument" && /not an AbortSignal/.test(e.message));
      const r = await client.infer("m", [fp32([2.5])], { signal: new AbortController().signal });
      assert.equal((r.output("OUTPUT0").data as Float32Array)[0], 2.5);
    } finally {
      await client.close();
    }
  });

  test("client.infer rejects (does not throw) on bad arguments and on a closed client", async () => {
    const client = createClient({ url: peer.url, protocol: "grpc", retry: false });
    const bad = client.infer("", [fp32([1])]);
    assert.ok(bad instanceof Promise);
    await assert.rejects(bad, /model name must be a non-empty string/);
    await assert.rejects(client.infer("m", [{} as Tensor]), /inputs\[0\] is not a Tensor/);
    await client.close();
    await assert.rejects(client.infer("m", [fp32([1])]), /the client is closed/);
  });
});
