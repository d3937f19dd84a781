// Every method keeps its deadline and AbortSignal through the retry and balancing layers (several
// endpoints, retries on, retryInfer on), against servers that accept and never answer.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { createClient, InferenceError, Tensor, type CallOptions, type InferenceClient } from "../src/index.ts";
import { inferenceServiceClient } from "../src/transport/grpc/service.ts";
import { silentHttpPeer } from "./support/silent-http-peer.ts";


async function silentGrpc(): Promise<{ url: string; close(): Promise<void> }> {
  const service = (inferenceServiceClient() as unknown as { service: grpc.ServiceDefinition }).service;
  const server = new grpc.Server();
  const handlers: Record<string, grpc.UntypedHandleCall> = {};
  for (const name of Object.keys(service)) handlers[name] = () => {};
  server.addService(service, handlers);
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return { url: `grpc://127.0.0.1:${port}`, close: async () => server.forceShutdown() };
}

const input = new Tensor("INPUT0", "FP32", [1], new Float32Array([1]));

const calls: [string, (c: InferenceClient, o: CallOptions) => Promise<unknown>][] = [
  ["isServerLive", (c, o) => c.isServerLive(o)],
  ["isServerReady", (c, o) => c.isServerReady(o)],
  ["isModelReady", (c, o) => c.isModelReady("m", o)],
  ["serverMetadata", (c, o) => c.serverMetadata(o)],
  ["modelMetadata", (c, o) => c.modelMetadata("m", o)],
  ["modelConfig", (c, o) => c.modelConfig("m", o)],
  ["modelStatistics", (c, o) => c.modelStatistics("m", o)],
  ["loadModel", (c, o) => c.loadModel("m", o)],
  ["unloadModel", (c, o) => c.unloadModel("m", o)],
  ["infer", (c, o) => c.infer("m", [input], o)],
];

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => assert.fail("expected a rejection"),
    (err: unknown) => err,
  );
  assert.ok(e instanceof InferenceError, String(e));
  return e.code;
}

for (const kind of ["http", "grpc"] as const) {
  test(`${kind}: deadlines and cancellation hold for every method behind retries and two endpoints`, async () => {
    const servers = await Promise.all([0, 1].map(() => (kind === "http" ? silentHttpPeer() : silentGrpc())));
    const client = createClient({
      url: servers.map((s) => s.url),
      retry: { attempts: 5, initialDelayMs: 10, retryInfer: true },
      healthCheck: { intervalMs: 60_000 },
    });
    try {
      await Promise.all(
        calls.map(async ([name, call]) => {
          const t0 = Date.now();
          assert.equal(await code(call(client, { timeoutMs: 150 })), "deadline_exceeded", name);
          const took = Date.now() - t0;
          assert.ok(took >= 140 && took < 5000, `${name}: deadline took ${took} ms`);

          const ac = new AbortController();
          setTimeout(() => ac.abort(), 50);
          assert.equal(await code(call(client, { signal: ac.signal })), "cancelled", name);
        }),
      );
      // Slow is not dead: neither endpoint was ejected, nothing is left in flight.
      assert.deepEqual(
        client.endpoints().map((e) => [e.state, e.outstanding]),
        [
          ["healthy", 0],
          ["healthy", 0],
        ],
      );
    } finally {
      await client.close();
      await Promise.all(servers.map((s) => s.close()));
    }
  });
}
