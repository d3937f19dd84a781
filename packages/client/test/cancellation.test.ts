// Deadlines, cancellation and connection failures, against servers that accept and never answer
// (the reference server answers too fast to time out). Both transports.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createClient, InferenceError, Tensor, type InferenceClient } from "../src/index.ts";
import { LOADER_OPTIONS } from "../src/transport/grpc/service.ts";
import { silentHttpPeer } from "./support/silent-http-peer.ts";


async function silentGrpcServer(): Promise<{ url: string; close(): Promise<void> }> {
  const definition = protoLoader.loadSync("grpc_service.proto", LOADER_OPTIONS);
  const service = (grpc.loadPackageDefinition(definition) as any).inference.GRPCInferenceService.service;
  const server = new grpc.Server();
  const never = () => {};
  const handlers: Record<string, grpc.UntypedHandleCall> = {};
  for (const name of Object.keys(service)) handlers[name] = never;
  server.addService(service, handlers);
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return { url: `grpc://127.0.0.1:${port}`, close: async () => server.forceShutdown() };
}

const input = new Tensor("INPUT0", "FP32", [1], new Float32Array([1]));

async function expectCode(p: Promise<unknown>, code: string, message?: RegExp): Promise<InferenceError> {
  const e = await p.then(
    () => assert.fail(`expected a rejection with ${code}`),
    (err: unknown) => err,
  );
  assert.ok(e instanceof InferenceError, `expected InferenceError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  if (message) assert.match(e.message, message);
  return e;
}

for (const kind of ["http", "grpc"] as const) {
  test(`${kind}: per-call timeout rejects with deadline_exceeded, client default applies too`, async () => {
    const server = kind === "http" ? await silentHttpPeer() : await silentGrpcServer();
    const client = createClient({ url: server.url });
    const slow = createClient({ url: server.url, timeoutMs: 100 });
    try {
      const t0 = Date.now();
      await expectCode(client.infer("m", [input], { timeoutMs: 150 }), "deadline_exceeded", /150 ms/);
      const took = Date.now() - t0;
      assert.ok(took >= 140 && took < 3000, `took ${took} ms`);
      await expectCode(slow.serverMetadata(), "deadline_exceeded", /100 ms/);
      await expectCode(slow.isServerLive({ timeoutMs: 50 }), "deadline_exceeded", /50 ms/);
    } finally {
      await client.close();
      await slow.close();
      await server.close();
    }
  });

  test(`${kind}: AbortSignal cancels in flight and before start`, async () => {
    const server = kind === "http" ? await silentHttpPeer() : await silentGrpcServer();
    const client = createClient({ url: server.url, timeoutMs: 10_000 });
    try {
      const ac = new AbortController();
      const pending = client.infer("m", [input], { signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      await expectCode(pending, "cancelled", /infer\(m\) was cancelled/);
      await expectCode(client.modelMetadata("m", { signal: AbortSignal.abort() }), "cancelled");
    } finally {
      await client.close();
      await server.close();
    }
  });
}

test("connection refused is unavailable on both transports; a closed client rejects", async () => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((r) => probe.close(() => r()));
  const clients: InferenceClient[] = [
    createClient({ url: `http://127.0.0.1:${port}` }),
    createClient({ url: `127.0.0.1:${port}`, protocol: "grpc", timeoutMs: 5000 }),
  ];
  try {
    for (const c of clients) await expectCode(c.serverMetadata(), "unavailable");
  } finally {
    for (const c of clients) await c.close();
  }
  await expectCode(clients[0]!.isServerLive(), "failed_precondition", /closed/);
});

test("protocol is inferred from the URL scheme", async () => {
  const cases: [string, string, string][] = [
    ["http://127.0.0.1:8000", "http", "http://127.0.0.1:8000"],
    ["https://example.com/prefix/", "http", "https://example.com/prefix"],
    ["grpc://127.0.0.1:8001", "grpc", "127.0.0.1:8001"],
    ["127.0.0.1:8000", "http", "http://127.0.0.1:8000"],
  ];
  for (const [url, protocol, normalised] of cases) {
    const c = createClient({ url });
    assert.equal(c.protocol, protocol, url);
    assert.equal(c.url, normalised);
    await c.close();
  }
  const g = createClient({ url: "localhost:8001", protocol: "grpc" });
  assert.equal(g.url, "localhost:8001");
  await g.close();
  assert.throws(() => createClient({ url: "" }), (e: unknown) => e instanceof InferenceError && e.code === "invalid_argument");
});
