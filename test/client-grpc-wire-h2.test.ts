// The client's own HTTP/2 gRPC connection (grpc.implementation "iaas-h2") against the reference server:
// `simple`, 64 calls at once, a tensor over 100 MB both ways, deadline, abort, the server's error statuses,
// TLS and mutual TLS (with the failures worded as on the other paths), a server killed while calls are in
// flight, and the other RPCs still working on the same client.
import assert from "node:assert/strict";
import type net from "node:net";
import tls from "node:tls";
import { spawn } from "node:child_process";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { startServer, type RunningServer } from "@iaas/server-native";
import { InferenceError, Tensor, createClient, type ClientOptions, type InferenceClient } from "@iaas/client";
import { tlsServersForSuite } from "./client-fixtures.ts";
import { startGrpcRecordingProxy } from "./recording-proxy.ts";
import { startSilentPeer } from "./silent-peer.ts";

const WIRE = { implementation: "iaas-h2" } as const;
const fp32 = (data: Float32Array) => new Tensor("INPUT0", "FP32", [data.length], data);

function wireClient(options: ClientOptions): InferenceClient {
  return createClient({ protocol: "grpc", retry: false, timeoutMs: 60_000, grpc: WIRE, ...options });
}

async function failureOf(p: Promise<unknown>): Promise<InferenceError> {
  const e = await p.then(
    () => assert.fail("expected the call to fail"),
    (x: unknown) => x,
  );
  assert.ok(e instanceof InferenceError, String(e));
  return e;
}

describe("iaas-h2 against the plaintext reference server", () => {
  let srv: RunningServer;
  let client: InferenceClient;
  before(async () => {
    srv = await startServer({ httpPort: 0, grpcPort: 0 });
    client = wireClient({ url: srv.grpcUrl });
  });
  after(async () => {
    await client.close();
    await srv.close();
  });

  test("simple adds and subtracts; 64 calls at once all come back right; metadata RPCs share the client", async () => {
    const sum = await client.infer("simple", [
      new Tensor("INPUT0", "INT32", [1, 16], new Int32Array(16).fill(5)),
      new Tensor("INPUT1", "INT32", [1, 16], new Int32Array(16).fill(2)),
    ]);
    assert.deepEqual(Array.from(sum.output("OUTPUT0").data as Int32Array), new Array(16).fill(7));
    assert.deepEqual(Array.from(sum.output("OUTPUT1").data as Int32Array), new Array(16).fill(3));
    const results = await Promise.all(
      Array.from({ length: 64 }, (_, i) =>
        client.infer("simple", [
          new Tensor("INPUT0", "INT32", [1, 16], new Int32Array(16).fill(i)),
          new Tensor("INPUT1", "INT32", [1, 16], new Int32Array(16).fill(1)),
        ]),
      ),
    );
    results.forEach((r, i) => assert.equal((r.output("OUTPUT0").data as Int32Array)[15], i + 1));
    assert.equal(await client.isModelReady("simple"), true);
    const [stats] = await client.modelStatistics("simple");
    assert.ok(Number(stats!.inference_stats.success.count) >= 65);
  });

  test("a tensor over 100 MB goes through both ways intact", async () => {
    const n = 26_500_000; // 106 MB of FP32
    const data = new Float32Array(n);
    for (let i = 0; i < n; i += 4099) data[i] = i % 1_000_000;
    data[n - 1] = -1;
    const out = (await client.infer("identity_fp32", [fp32(data)])).output("OUTPUT0").data as Float32Array;
    assert.equal(out.length, n);
    for (let i = 0; i < n; i += 4099) assert.equal(out[i], i % 1_000_000);
    assert.equal(out[n - 1], -1);
  });

  test("server error statuses keep the server's code and words", async () => {
    const missing = await failureOf(client.infer("no_such_model", [fp32(Float32Array.of(1))]));
    assert.equal(missing.code, "not_found");
    assert.equal(missing.grpcCode, 5);
    assert.match(missing.message, /no_such_model/);
    const wrong = await failureOf(client.infer("identity_fp32", [new Tensor("NOT_AN_INPUT", "FP32", [1], Float32Array.of(1))]));
    assert.equal(wrong.code, "invalid_argument");
    assert.match(wrong.message, /NOT_AN_INPUT/);
  });

  test("deadline_exceeded for a deadline shorter than the call, cancelled on abort; the connection stays good", async () => {
    const late = await failureOf(client.infer("identity_fp32", [fp32(new Float32Array(8_000_000))], { timeoutMs: 1 }));
    assert.equal(late.code, "deadline_exceeded");
    const ac = new AbortController();
    const pending = client.infer("identity_fp32", [fp32(new Float32Array(8_000_000))], { signal: ac.signal });
    setTimeout(() => ac.abort(), 1);
    assert.equal((await failureOf(pending)).code, "cancelled");
    const before = new AbortController();
    before.abort();
    assert.equal((await failureOf(client.infer("identity_fp32", [fp32(Float32Array.of(1))], { signal: before.signal }))).code, "cancelled");
    const r = await client.infer("identity_fp32", [fp32(Float32Array.of(4))]);
    assert.deepEqual(Array.from(r.output("OUTPUT0").data as Float32Array), [4]);
  });

  test("request compression falls back to node:http2 for infer (this path does not compress)", async () => {
    const c = wireClient({ url: srv.grpcUrl, compression: "gzip" });
    try {
      const r = await c.infer("identity_fp32", [fp32(new Float32Array(5000).fill(2))]);
      assert.equal((r.output("OUTPUT0").data as Float32Array)[4999], 2);
    } finally {
      await c.close();
    }
  });
});

describe("iaas-h2 headers, metadata and connection options", () => {
  test("what goes on the wire: gRPC headers, metadata, grpc-timeout, identity encoding; keepalive PINGs", async () => {
    const srv = await startServer({ httpPort: 0, grpcPort: 0 });
    const proxy = await startGrpcRecordingProxy(srv.grpcUrl);
    const client = wireClient({ url: proxy.address, headers: { "x-client": "c1" }, grpc: { ...WIRE, keepaliveTimeMs: 50, keepalivePermitWithoutCalls: true } });
    try {
      await client.infer("identity_fp32", [fp32(Float32Array.of(1))], { headers: { "X-Call-Tag": "t-7" }, timeoutMs: 5000 });
      const h = proxy.calls.at(-1)!.headers;
      assert.equal(h[":path"], "/inference.GRPCInferenceService/ModelInfer");
      assert.equal(h[":method"], "POST");
      assert.equal(h["content-type"], "application/grpc");
      assert.equal(h["te"], "trailers");
      assert.equal(h["grpc-accept-encoding"], "identity");
      assert.equal(h["x-client"], "c1");
      assert.equal(h["x-call-tag"], "t-7");
      assert.match(String(h["grpc-timeout"]), /^\d+m$/);
      assert.ok(Number(String(h["grpc-timeout"]).slice(0, -1)) <= 5000);
      const before = proxy.pings;
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(proxy.pings > before, `pings: ${before} -> ${proxy.pings}`);
      // Metadata that grpc-js would refuse is refused here too, before anything is sent.
      const bad = await failureOf(client.infer("identity_fp32", [fp32(Float32Array.of(1))], { headers: { "bad key": "x" } }));
      assert.equal(bad.code, "invalid_argument");
    } finally {
      await client.close();
      await proxy.close();
      await srv.close();
    }
  });

  test("connectTimeoutMs: a peer that never speaks HTTP/2 fails infer as unavailable within the bound", async () => {
    const silent = await startSilentPeer();
    const address = silent.address;
    const client = wireClient({ url: address, connectTimeoutMs: 300 });
    try {
      const e = await failureOf(client.infer("identity_fp32", [fp32(Float32Array.of(1))]));
      assert.equal(e.code, "unavailable");
      assert.match(e.message, /within 300 ms \(connectTimeoutMs\)/);
    } finally {
      await client.close();
      await silent.close();
    }
  });
});

describe("iaas-h2 with TLS", () => {
  const tlsSuite = tlsServersForSuite();

  async function identity(options: ClientOptions): Promise<number[]> {
    const c = wireClient(options);
    try {
      return Array.from((await c.infer("identity_fp32", [fp32(Float32Array.of(1.25, -3))])).output("OUTPUT0").data as Float32Array);
    } finally {
      await c.close();
    }
  }

  test("TLS (ALPN h2, tls.ca, servername) and mutual TLS round-trip", async () => {
    assert.deepEqual(await identity({ url: tlsSuite.tls.grpcUrl, tls: { ca: tlsSuite.pki.ca } }), [1.25, -3]);
    assert.deepEqual(await identity({ url: tlsSuite.tls.grpcUrl, tls: { ca: tlsSuite.pki.ca, servername: "localhost" } }), [1.25, -3]);
    assert.deepEqual(await identity({ url: tlsSuite.mtls.grpcUrl, tls: { ca: tlsSuite.pki.ca, cert: tlsSuite.pki.clientCert, key: tlsSuite.pki.clientKey } }), [1.25, -3]);
  });

  test("TLS failures are unavailable errors naming the address and the fix", async () => {
    const untrusted = wireClient({ url: tlsSuite.tls.grpcUrl, tls: { ca: tlsSuite.pki.otherCa } });
    try {
      const e = await failureOf(untrusted.infer("identity_fp32", [fp32(Float32Array.of(1))]));
      assert.equal(e.code, "unavailable");
      assert.match(e.message, /certificate is not trusted/);
      assert.ok(e.message.includes(tlsSuite.tls.grpcUrl), e.message);
    } finally {
      await untrusted.close();
    }
    // The HTTP port speaks TLS but not HTTP/2: the ALPN exchange refuses h2 (a server alert, or our check).
    const http1 = wireClient({ url: `grpcs://${new URL(tlsSuite.tls.httpUrl).host}`, tls: { ca: tlsSuite.pki.ca } });
    try {
      const e = await failureOf(http1.infer("identity_fp32", [fp32(Float32Array.of(1))]));
      assert.equal(e.code, "unavailable");
      assert.match(e.message, /no application protocol|did not agree to HTTP\/2 over TLS/);
    } finally {
      await http1.close();
    }
    // A TLS server that names no application protocol at all: the client's own ALPN check refuses it.
    const bare = tls.createServer({ cert: tlsSuite.pki.serverCert, key: tlsSuite.pki.serverKey }, (s) => s.on("error", () => {}));
    await new Promise<void>((r) => bare.listen(0, "127.0.0.1", r));
    const noAlpn = wireClient({ url: `grpcs://127.0.0.1:${(bare.address() as net.AddressInfo).port}`, tls: { ca: tlsSuite.pki.ca } });
    try {
      const e = await failureOf(noAlpn.infer("identity_fp32", [fp32(Float32Array.of(1))]));
      assert.equal(e.code, "unavailable");
      assert.match(e.message, /did not agree to HTTP\/2 over TLS/);
    } finally {
      await noAlpn.close();
      await new Promise<void>((r) => bare.close(() => r()));
    }
    const plaintext = wireClient({ url: `grpc://${tlsSuite.tls.grpcUrl.replace("grpcs://", "")}` });
    try {
      const e = await failureOf(plaintext.infer("identity_fp32", [fp32(Float32Array.of(1))]));
      assert.equal(e.code, "unavailable");
    } finally {
      await plaintext.close();
    }
  });
});

describe("iaas-h2 when the server dies", () => {
  test("a server killed while 64 calls are in flight fails them as unavailable", { timeout: 60_000 }, async () => {
    // The reference server in its own process, so that it can be killed outright (no graceful close).
    const code = `import { startServer } from "@iaas/server-native";
const srv = await startServer({ httpPort: 0, grpcPort: 0 });
console.log(JSON.stringify({ grpcUrl: srv.grpcUrl }));`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", code], { cwd: dirname(fileURLToPath(import.meta.url)), stdio: ["ignore", "pipe", "inherit"] });
    try {
      const grpcUrl = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const line = out.split("\n").find((l) => l.startsWith("{"));
          if (line) resolve((JSON.parse(line) as { grpcUrl: string }).grpcUrl);
        });
        child.once("exit", (c) => reject(new Error(`server exited with ${c} before it started`)));
      });
      const client = wireClient({ url: grpcUrl });
      try {
        await client.infer("identity_fp32", [fp32(Float32Array.of(1))]);
        const errors: InferenceError[] = [];
        let ok = 0;
        const loops = Array.from({ length: 64 }, async () => {
          for (;;) {
            try {
              await client.infer("identity_fp32", [fp32(new Float32Array(1000))]);
              ok++;
            } catch (e) {
              errors.push(e as InferenceError);
              return;
            }
          }
        });
        await new Promise((r) => setTimeout(r, 200));
        child.kill("SIGKILL");
        await Promise.all(loops);
        assert.ok(ok > 0, "calls went through before the kill");
        assert.equal(errors.length, 64);
        for (const e of errors) {
          assert.ok(e instanceof InferenceError, String(e));
          assert.equal(e.code, "unavailable", e.message);
        }
      } finally {
        await client.close();
      }
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
