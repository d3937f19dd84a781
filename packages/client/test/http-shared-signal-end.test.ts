// HTTP fast path: calls whose only per-call option is a signal share the end object of the previous such
// call with the same signal and model (transport.ts #sharedSignalEnd; `iaas bench` passes one stop signal
// to every call). Sharing must not mix models up in answers or cancellation messages, must still refuse a
// call on a signal that has fired, and must leave calls on other signals alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { createClient, InferenceError, Tensor } from "../src/index.ts";
import { silentHttpPeer } from "./support/silent-http-peer.ts";

const input = new Tensor("INPUT0", "FP32", [1], new Float32Array([1]));

/** Answers every infer with a JSON answer naming the model of the path, value = the model's length. */
async function answeringServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const model = /\/v2\/models\/([^/]+)\/infer/.exec(req.url ?? "")?.[1] ?? "?";
      const body = JSON.stringify({ model_name: model, outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [1], data: [model.length] }] });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}


async function rejection(p: Promise<unknown>): Promise<InferenceError> {
  const e = await p.then(
    () => assert.fail("expected a rejection"),
    (err: unknown) => err,
  );
  assert.ok(e instanceof InferenceError, `expected InferenceError, got ${String(e)}`);
  return e;
}

test("http: calls sharing one signal across models get their own answers", async () => {
  const server = await answeringServer();
  const client = createClient({ url: server.url, protocol: "http", retry: false });
  try {
    const shared = new AbortController();
    const models = ["a", "bb", "ccc"];
    const calls = Array.from({ length: 60 }, (_, i) => models[i % 3]!).map((m) => client.infer(m, [input], { signal: shared.signal }).then((r) => [m, r] as const));
    for (const [m, r] of await Promise.all(calls)) {
      assert.equal(r.modelName, m);
      assert.deepEqual(Array.from(r.output("OUTPUT0").data as Float32Array), [m.length]);
    }
    // A signal per call, and calls without one, in between.
    for (let i = 0; i < 10; i++) {
      const own = new AbortController();
      assert.equal((await client.infer("dddd", [input], { signal: own.signal })).modelName, "dddd");
      assert.equal((await client.infer("a", [input], { signal: shared.signal })).modelName, "a");
      assert.equal((await client.infer("ee", [input])).modelName, "ee");
    }
  } finally {
    await client.close();
    await server.close();
  }
});

test("http: an abort of a shared signal cancels its calls, each named by its own model; later calls on it are refused", async () => {
  const server = await silentHttpPeer();
  const client = createClient({ url: server.url, protocol: "http", retry: false });
  try {
    const shared = new AbortController();
    const other = new AbortController();
    const onShared = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? "alpha" : "beta")).map((m) => [m, client.infer(m, [input], { signal: shared.signal })] as const);
    const onOther = client.infer("alpha", [input], { signal: other.signal });
    await new Promise((r) => setTimeout(r, 50));
    shared.abort();
    for (const [m, p] of onShared) {
      const e = await rejection(p);
      assert.equal(e.code, "cancelled", e.message);
      assert.match(e.message, new RegExp(`infer\\(${m}\\)`));
    }
    // The same signal, model and end as the last call: refused at once, not sent.
    for (const m of ["beta", "beta", "alpha"]) {
      const e = await rejection(client.infer(m, [input], { signal: shared.signal }));
      assert.equal(e.code, "cancelled", e.message);
      assert.match(e.message, new RegExp(`infer\\(${m}\\)`));
    }
    // The call on the other signal is still waiting; its own abort ends it.
    const state = await Promise.race([onOther.then(() => "settled", () => "settled"), new Promise((r) => setTimeout(() => r("pending"), 50))]);
    assert.equal(state, "pending");
    other.abort();
    assert.equal((await rejection(onOther)).code, "cancelled");
  } finally {
    await client.close();
    await server.close();
  }
});
