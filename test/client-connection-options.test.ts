// @iaas/client connection settings: connectTimeoutMs on both protocols (against peers that accept TCP
// and never finish the handshake), undici Pool options (connections, keep-alive, header timeout, raw
// pass-through) and grpc-js keepalive / channel options, observed through recording proxies in front of
// the reference server.
import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { InferenceError, Tensor, createClient } from "@iaas/client";
import { startGrpcRecordingProxy, startHttpRecordingProxy } from "./recording-proxy.ts";
import { referenceServerForFile, withClient } from "./client-fixtures.ts";

/** Accepts TCP connections and never sends a byte: no TLS or HTTP/2 handshake ever completes. */
async function silentPeer(): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("data", () => {});
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const ctx = referenceServerForFile();

const small = () => [new Tensor("INPUT0", "FP32", [3], Float32Array.of(1, 2, 3))];

describe("connectTimeoutMs", () => {
  test("gRPC: a handshake that never completes fails as unavailable naming the address and the option", async () => {
    const peer = await silentPeer();
    try {
      await withClient({ url: peer.address, protocol: "grpc", connectTimeoutMs: 300 }, async (c) => {
        await assert.rejects(c.serverMetadata(), (e: InferenceError) => {
          assert.equal(e.code, "unavailable");
          assert.match(e.message, new RegExp(`could not connect to ${peer.address} within 300 ms \\(connectTimeoutMs\\)`));
          return true;
        });
        // A shorter call deadline wins over the connect timeout, and says so.
        await assert.rejects(c.serverMetadata({ timeoutMs: 50 }), (e: InferenceError) => e.code === "deadline_exceeded" && /50 ms/.test(e.message));
        // An abort while waiting for the connection cancels the call.
        const ac = new AbortController();
        setTimeout(() => ac.abort(), 20);
        await assert.rejects(c.serverMetadata({ signal: ac.signal }), (e: InferenceError) => e.code === "cancelled");
      });
    } finally {
      await peer.close();
    }
  });

  test("HTTPS: a TLS handshake that never completes fails as unavailable naming the address", async () => {
    const peer = await silentPeer();
    try {
      await withClient({ url: `https://${peer.address}`, connectTimeoutMs: 300 }, async (c) => {
        await assert.rejects(c.serverMetadata(), (e: InferenceError) => {
          assert.equal(e.code, "unavailable");
          assert.match(e.message, new RegExp(`${peer.address.replace(/\./g, "\\.")}.*300 ?ms`));
          return true;
        });
      });
    } finally {
      await peer.close();
    }
  });

  test("with a live server the option costs nothing visible: calls succeed on both protocols", async () => {
    for (const [url, protocol] of [[ctx.srv.httpUrl, "http"], [ctx.srv.grpcUrl, "grpc"]] as const) {
      await withClient({ url, protocol, connectTimeoutMs: 2000 }, async (c) => {
        assert.equal(await c.isServerReady(), true);
        assert.deepEqual(Array.from((await c.infer("identity_fp32", small())).output("OUTPUT0").data as Float32Array), [1, 2, 3]);
      });
    }
  });
});

describe("HTTP pool options", () => {
  test("connections caps the sockets; keep-alive limits close idle ones", async () => {
    const proxy = await startHttpRecordingProxy(ctx.srv.httpUrl);
    try {
      await withClient({ url: proxy.url, connections: 2 }, async (c) => {
        await Promise.all(Array.from({ length: 12 }, () => c.infer("identity_fp32", small())));
      });
      assert.ok(proxy.connections >= 1 && proxy.connections <= 2, `${proxy.connections} connections`);

      const before = proxy.connections;
      await withClient({ url: proxy.url, connections: 1, http: { keepAliveTimeoutMs: 100, keepAliveMaxTimeoutMs: 100 } }, async (c) => {
        await c.serverMetadata();
        await c.serverMetadata();
        assert.equal(proxy.connections - before, 1, "back-to-back calls share the connection");
        await sleep(600);
        await c.serverMetadata();
        assert.equal(proxy.connections - before, 2, "the idle connection was closed after its keep-alive time");
      });
    } finally {
      await proxy.close();
    }
  });

  test("headersTimeoutMs bounds the wait for an answer; raw Pool options pass through", async () => {
    const peer = await silentPeer();
    try {
      await withClient({ url: `http://${peer.address}`, http: { headersTimeoutMs: 200 } }, async (c) => {
        await assert.rejects(c.serverMetadata(), (e: InferenceError) => e.code === "deadline_exceeded");
      });
    } finally {
      await peer.close();
    }
    await withClient({ url: ctx.srv.httpUrl, http: { pool: { maxResponseSize: 64 } } }, async (c) => {
      await assert.rejects(c.modelConfig("identity_fp32"), (e: InferenceError) => e.code === "resource_exhausted");
    });
  });
});

describe("gRPC channel options", () => {
  test("keepalive pings go out at the configured interval; raw channel options pass through", async () => {
    const proxy = await startGrpcRecordingProxy(ctx.srv.grpcUrl);
    try {
      await withClient(
        {
          url: proxy.address,
          protocol: "grpc",
          grpc: { keepaliveTimeMs: 100, keepaliveTimeoutMs: 1000, keepalivePermitWithoutCalls: true, channelOptions: { "grpc.primary_user_agent": "iaas-conn-test/1.0" } },
        },
        async (c) => {
          await c.serverMetadata();
          await sleep(700);
          assert.ok(proxy.pings >= 2, `${proxy.pings} pings in 700 ms with a 100 ms keepalive`);
          assert.match(String(proxy.calls.at(-1)!.headers["user-agent"]), /^iaas-conn-test\/1\.0/);
        },
      );
      const quiet = proxy.pings;
      await withClient({ url: proxy.address, protocol: "grpc" }, async (c) => {
        await c.serverMetadata();
        await sleep(300);
      });
      assert.ok(proxy.pings - quiet <= 1, "no keepalive pings by default");
    } finally {
      await proxy.close();
    }
  });
});

test("invalid connection options are rejected by createClient", () => {
  assert.throws(() => createClient({ url: "http://127.0.0.1:1", connectTimeoutMs: 0 }), /connectTimeoutMs must be a positive number/);
  assert.throws(() => createClient({ url: "127.0.0.1:1", protocol: "grpc", connectTimeoutMs: -1 }), /connectTimeoutMs must be a positive number/);
  assert.throws(() => createClient({ url: "http://127.0.0.1:1", http: { pipelining: -1 } }), /http\.pipelining must be an integer/);
  assert.throws(() => createClient({ url: "http://127.0.0.1:1", http: { headersTimeoutMs: Number.NaN } }), /http\.headersTimeoutMs/);
  assert.throws(() => createClient({ url: "127.0.0.1:1", protocol: "grpc", grpc: { keepaliveTimeMs: 0 } }), /grpc\.keepaliveTimeMs/);
});
