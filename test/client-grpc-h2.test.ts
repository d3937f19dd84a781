// The node:http2 gRPC infer path (the default grpc.implementation) against the reference server: plain,
// TLS and mutual TLS, a tensor over 100 MB both ways, the server's error statuses, TLS failures worded as
// on the grpc-js path, keepalive pings and connectTimeoutMs, and the grpc-js implementation still selectable.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startServer, type RunningServer } from "@iaas/server-native";
import { InferenceError, Tensor, createClient, type ClientOptions } from "@iaas/client";
import { tlsServersForSuite } from "./client-fixtures.ts";
import { startGrpcRecordingProxy } from "./recording-proxy.ts";
import { startSilentPeer } from "./silent-peer.ts";

const fp32 = (data: Float32Array) => new Tensor("INPUT0", "FP32", [data.length], data);

async function identity(options: ClientOptions, data: Float32Array): Promise<Float32Array> {
  const client = createClient({ protocol: "grpc", retry: false, timeoutMs: 60_000, ...options });
  try {
    return (await client.infer("identity_fp32", [fp32(data)])).output("OUTPUT0").data as Float32Array;
  } finally {
    await client.close();
  }
}

async function inferFailure(options: ClientOptions): Promise<InferenceError> {
  const client = createClient({ protocol: "grpc", retry: false, timeoutMs: 10_000, ...options });
  try {
    await client.infer("identity_fp32", [fp32(Float32Array.of(1))]);
  } catch (e) {
    assert.ok(e instanceof InferenceError, String(e));
    return e;
  } finally {
    await client.close();
  }
  assert.fail("expected the call to fail");
}

describe("plaintext reference server", () => {
  let srv: RunningServer;
  before(async () => {
    srv = await startServer({ httpPort: 0, grpcPort: 0 });
  });
  after(() => srv.close());

  test("infer round-trips on both implementations, concurrently on one client", async () => {
    for (const implementation of ["http2", "grpc-js"] as const) {
      const client = createClient({ url: srv.grpcUrl, protocol: "grpc", grpc: { implementation } });
      try {
        const results = await Promise.all(
          Array.from({ length: 32 }, (_, i) => client.infer("identity_fp32", [fp32(Float32Array.of(i, -i, 0.5))])),
        );
        results.forEach((r, i) => assert.deepEqual(Array.from(r.output("OUTPUT0").data as Float32Array), [i, -i, 0.5]));
        const sum = await client.infer("simple", [
          new Tensor("INPUT0", "INT32", [1, 16], new Int32Array(16).fill(5)),
          new Tensor("INPUT1", "INT32", [1, 16], new Int32Array(16).fill(2)),
        ]);
        assert.deepEqual(Array.from(sum.output("OUTPUT0").data as Int32Array), new Array(16).fill(7));
        assert.deepEqual(Array.from(sum.output("OUTPUT1").data as Int32Array), new Array(16).fill(3));
      } finally {
        await client.close();
      }
    }
  });

  test("a tensor over 100 MB goes through both ways intact", async () => {
    const n = 26_500_000; // 106 MB of FP32
    const data = new Float32Array(n);
    for (let i = 0; i < n; i += 4099) data[i] = i % 1_000_000;
    data[n - 1] = -1;
    const out = await identity({ url: srv.grpcUrl }, data);
    assert.equal(out.length, n);
    for (let i = 0; i < n; i += 4099) assert.equal(out[i], i % 1_000_000);
    assert.equal(out[n - 1], -1);
  });

  test("server error statuses: unknown model is not_found, a wrong input invalid_argument, with the server's words", async () => {
    const client = createClient({ url: srv.grpcUrl, protocol: "grpc", retry: false });
    try {
      const missing = await client.infer("no_such_model", [fp32(Float32Array.of(1))]).catch((e: unknown) => e as InferenceError);
      assert.ok(missing instanceof InferenceError);
      assert.equal(missing.code, "not_found");
      assert.equal(missing.grpcCode, 5);
      assert.match(missing.message, /no_such_model/);
      const wrong = await client.infer("simple", [fp32(Float32Array.of(1))]).catch((e: unknown) => e as InferenceError);
      assert.ok(wrong instanceof InferenceError);
      assert.equal(wrong.code, "invalid_argument");
    } finally {
      await client.close();
    }
  });

  test("a deadline shorter than the call: deadline_exceeded; an already-aborted signal: cancelled", async () => {
    const client = createClient({ url: srv.grpcUrl, protocol: "grpc", retry: false });
    try {
      const e = await client.infer("identity_fp32", [fp32(new Float32Array(8_000_000))], { timeoutMs: 1 }).catch((x: unknown) => x as InferenceError);
      assert.ok(e instanceof InferenceError);
      assert.equal(e.code, "deadline_exceeded");
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(client.infer("identity_fp32", [fp32(Float32Array.of(1))], { signal: ac.signal }), (x: InferenceError) => x.code === "cancelled");
      // The connection is still good afterwards.
      const r = await client.infer("identity_fp32", [fp32(Float32Array.of(4))]);
      assert.deepEqual(Array.from(r.output("OUTPUT0").data as Float32Array), [4]);
    } finally {
      await client.close();
    }
  });
});

describe("TLS reference servers", () => {
  const tlsSuite = tlsServersForSuite();

  test("TLS and mutual TLS round-trip (tls.ca, servername, client certificate)", async () => {
    const data = Float32Array.of(1.25, -3, 8);
    assert.deepEqual(Array.from(await identity({ url: tlsSuite.tls.grpcUrl, tls: { ca: tlsSuite.pki.ca } }, data)), [1.25, -3, 8]);
    assert.deepEqual(Array.from(await identity({ url: tlsSuite.tls.grpcUrl, tls: { ca: tlsSuite.pki.ca, servername: "localhost" } }, data)), [1.25, -3, 8]);
    const tls = { ca: tlsSuite.pki.ca, cert: tlsSuite.pki.clientCert, key: tlsSuite.pki.clientKey };
    assert.deepEqual(Array.from(await identity({ url: tlsSuite.mtls.grpcUrl, tls }, data)), [1.25, -3, 8]);
  });

  test("TLS failures of infer are unavailable errors naming the address and the fix", async () => {
    const untrusted = await inferFailure({ url: tlsSuite.tls.grpcUrl, tls: { ca: tlsSuite.pki.otherCa } });
    assert.equal(untrusted.code, "unavailable");
    assert.match(untrusted.message, /certificate is not trusted/);
    assert.match(untrusted.message, /set tls\.ca/);
    assert.ok(untrusted.message.includes(tlsSuite.tls.grpcUrl), untrusted.message);
    const plaintext = await inferFailure({ url: `grpc://${tlsSuite.tls.grpcUrl.replace("grpcs://", "")}` });
    assert.equal(plaintext.code, "unavailable");
    assert.match(plaintext.message, /grpcs:\/\//);
    const noCert = await inferFailure({ url: tlsSuite.mtls.grpcUrl, tls: { ca: tlsSuite.pki.ca } });
    assert.equal(noCert.code, "unavailable");
    assert.match(noCert.message, /tls\.cert and tls\.key/);
  });
});

describe("connection options on the http2 path", () => {
  test("keepalive pings go out while calls are in flight and idle when permitted", async () => {
    const srv = await startServer({ httpPort: 0, grpcPort: 0 });
    const proxy = await startGrpcRecordingProxy(srv.grpcUrl);
    const client = createClient({
      url: proxy.address,
      protocol: "grpc",
      grpc: { implementation: "http2", keepaliveTimeMs: 50, keepaliveTimeoutMs: 2000, keepalivePermitWithoutCalls: true },
    });
    try {
      await client.infer("identity_fp32", [fp32(Float32Array.of(1))]);
      const before = proxy.pings;
      await new Promise((r) => setTimeout(r, 400));
      assert.ok(proxy.pings > before, `pings: ${before} -> ${proxy.pings}`);
      // The connection is still usable after the pings.
      const r = await client.infer("identity_fp32", [fp32(Float32Array.of(2))]);
      assert.deepEqual(Array.from(r.output("OUTPUT0").data as Float32Array), [2]);
      assert.match(String(proxy.calls.at(-1)!.headers["user-agent"]), /iaas-client-h2/);
    } finally {
      await client.close();
      await proxy.close();
      await srv.close();
    }
  });

  test("connectTimeoutMs: a peer that never speaks HTTP/2 fails infer as unavailable; a shorter deadline or an abort wins", async () => {
    const silent = await startSilentPeer();
    const address = silent.address;
    const client = createClient({ url: address, protocol: "grpc", retry: false, connectTimeoutMs: 300 });
    try {
      const e = await client.infer("identity_fp32", [fp32(Float32Array.of(1))]).catch((x: unknown) => x as InferenceError);
      assert.ok(e instanceof InferenceError);
      assert.equal(e.code, "unavailable");
      assert.match(e.message, new RegExp(`could not connect to ${address.replace(/\./g, "\\.")} within 300 ms \\(connectTimeoutMs\\)`));
      await assert.rejects(client.infer("identity_fp32", [fp32(Float32Array.of(1))], { timeoutMs: 50 }), (x: InferenceError) => x.code === "deadline_exceeded");
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 20);
      await assert.rejects(client.infer("identity_fp32", [fp32(Float32Array.of(1))], { signal: ac.signal }), (x: InferenceError) => x.code === "cancelled");
    } finally {
      await client.close();
      await silent.close();
    }
  });
});
