// @iaas/client compression against the reference server, through recording proxies that keep the bytes
// as they crossed the wire: HTTP request bodies (Content-Encoding) and responses (Accept-Encoding), and
// gRPC message compression (grpc-encoding, per-message compressed flag).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { gunzipSync, inflateSync } from "node:zlib";
import { InferenceError, Tensor, createClient, type ClientOptions } from "@iaas/client";
import { startGrpcRecordingProxy, startHttpRecordingProxy, type GrpcRecordingProxy, type HttpRecordingProxy } from "./recording-proxy.ts";
import { referenceServerForFile } from "./client-fixtures.ts";

const ctx = referenceServerForFile();

// Compressible but not constant: a ramp.
const ramp = (n: number) => Float32Array.from({ length: n }, (_, i) => i % 1000);

async function inferThrough(options: ClientOptions, values: Float32Array, extra: { binaryInputs?: boolean; binaryOutputs?: boolean } = {}): Promise<Float32Array> {
  const client = createClient({ timeoutMs: 10_000, retry: false, ...options });
  try {
    const r = await client.infer("identity_fp32", [new Tensor("INPUT0", "FP32", [values.length], values)], { id: "compressed-id-7", ...extra });
    return r.output("OUTPUT0").data as Float32Array;
  } finally {
    await client.close();
  }
}

describe("HTTP", () => {
  let proxy: HttpRecordingProxy;
  before(async () => {
    proxy = await startHttpRecordingProxy(ctx.srv.httpUrl);
  });
  after(() => proxy.close());
  const last = () => proxy.exchanges.at(-1)!;

  test("compression: gzip compresses binary infer bodies; Inference-Header-Content-Length stays the JSON size", async () => {
    const values = ramp(20_000);
    assert.deepEqual(await inferThrough({ url: proxy.url, compression: "gzip" }, values), values);
    const x = last();
    assert.equal(x.requestHeaders["content-encoding"], "gzip");
    assert.equal(Number(x.requestHeaders["content-length"]), x.requestBody.byteLength);
    assert.ok(x.requestBody.byteLength < 80_000 / 2, `wire body ${x.requestBody.byteLength} bytes for 80000 bytes of tensor`);
    const plain = gunzipSync(x.requestBody);
    const n = Number(x.requestHeaders["inference-header-content-length"]);
    assert.equal(JSON.parse(plain.subarray(0, n).toString()).id, "compressed-id-7");
    assert.equal(plain.byteLength - n, 80_000);
    assert.equal(x.responseHeaders["content-encoding"], undefined, "no Accept-Encoding, no compressed answer");
  });

  test("compression leaves bodies under 1 KiB as they are", async () => {
    const values = ramp(8);
    assert.deepEqual(await inferThrough({ url: proxy.url, compression: "gzip" }, values), values);
    assert.equal(last().requestHeaders["content-encoding"], undefined);
  });

  test("compression: deflate compresses JSON bodies too", async () => {
    const values = ramp(500);
    assert.deepEqual(await inferThrough({ url: proxy.url, compression: "deflate" }, values, { binaryInputs: false, binaryOutputs: false }), values);
    const x = last();
    assert.equal(x.requestHeaders["content-encoding"], "deflate");
    assert.equal(JSON.parse(inflateSync(x.requestBody).toString()).inputs[0].data.length, 500);
  });

  test("acceptCompression: the server answers gzip, the client inflates it (binary outputs stay aligned views)", async () => {
    for (const len of [4097, 1001]) {
      const values = ramp(len);
      const out = await inferThrough({ url: proxy.url, acceptCompression: true }, values);
      assert.deepEqual(out, values);
      assert.equal(out.byteOffset % 4, 0);
      const x = last();
      assert.equal(x.requestHeaders["accept-encoding"], "gzip, deflate");
      assert.equal(x.responseHeaders["content-encoding"], "gzip");
      assert.deepEqual([x.responseBody[0], x.responseBody[1]], [0x1f, 0x8b], "gzip magic on the wire");
      assert.ok(Number(x.responseHeaders["inference-header-content-length"]) > 0);
    }
    // JSON answers compress too; answers under 1 KiB (errors, metadata) come as they are.
    const client = createClient({ url: proxy.url, acceptCompression: true, retry: false });
    try {
      const stats = await client.modelStatistics();
      assert.ok(stats.some((m) => m.name === "identity_fp32"));
      const x = last();
      assert.equal(x.responseHeaders["content-encoding"], "gzip");
      assert.ok(gunzipSync(x.responseBody).byteLength > 1024);
      await assert.rejects(client.modelMetadata("no_such_model"), (e: InferenceError) => e.code === "not_found" && /no_such_model/.test(e.message));
      assert.equal(last().responseHeaders["content-encoding"], undefined);
    } finally {
      await client.close();
    }
  });

  test("by default nothing is compressed either way", async () => {
    const values = ramp(100);
    assert.deepEqual(await inferThrough({ url: proxy.url }, values), values);
    const x = last();
    assert.equal(x.requestHeaders["content-encoding"], undefined);
    assert.equal(x.requestHeaders["accept-encoding"], undefined);
    assert.equal(x.responseHeaders["content-encoding"], undefined);
  });

  test("an unknown compression is rejected by createClient", () => {
    assert.throws(() => createClient({ url: proxy.url, compression: "br" as never }), /compression must be "gzip", "deflate" or "none"/);
  });
});

describe("gRPC", () => {
  let proxy: GrpcRecordingProxy;
  before(async () => {
    proxy = await startGrpcRecordingProxy(ctx.srv.grpcUrl);
  });
  after(() => proxy.close());
  const lastInfer = () => proxy.calls.filter((c) => c.path.endsWith("/ModelInfer")).at(-1)!;

  for (const compression of ["gzip", "deflate"] as const) {
    test(`compression: ${compression} sends compressed messages (grpc-encoding, compressed flag) and round-trips`, async () => {
      const values = ramp(50_000);
      assert.deepEqual(await inferThrough({ url: proxy.address, protocol: "grpc", compression }, values), values);
      const call = lastInfer();
      assert.equal(call.headers["grpc-encoding"], compression);
      assert.equal(call.body[0], 1, "compressed-flag byte of the message");
      assert.ok(call.body.readUInt32BE(1) < 200_000 / 2, `message of ${call.body.readUInt32BE(1)} bytes for 200000 bytes of tensor`);
    });
  }

  test("by default messages go uncompressed", async () => {
    const values = ramp(1000);
    assert.deepEqual(await inferThrough({ url: proxy.address, protocol: "grpc" }, values), values);
    const call = lastInfer();
    assert.equal(call.headers["grpc-encoding"], undefined);
    assert.equal(call.body[0], 0);
  });
});
