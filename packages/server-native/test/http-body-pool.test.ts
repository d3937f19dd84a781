// Infer request bodies of 16 KiB..4 MiB are joined into reused buffers (frontends/http/body-pool.ts) and
// given back once the inference settled: the pool's bookkeeping, and the real server answering many
// overlapping requests of pooled sizes, each with its own bytes (a buffer given back too early would be
// overwritten by a later request while an earlier one still waits for its instance).
import assert from "node:assert/strict";
import { test } from "node:test";
import { BodyPool, MAX_POOL_FREE_BYTES, MAX_POOLED_BODY_BYTES, MIN_POOLED_BODY_BYTES } from "../src/frontends/request-buffers/body-pool.ts";
import { binaryBody, http, identityConfig, serveForSuite, splitBinaryResponse } from "./helpers.ts";

test("BodyPool: exact-size views of power-of-two slabs, reused after give, small and huge bodies not pooled", () => {
  const pool = new BodyPool();
  const a = pool.take(20_000);
  assert.equal(a.byteLength, 20_000);
  assert.equal(a.buffer.byteLength, 32 * 1024, "rounded up to the next power of two from MIN_POOLED_BODY_BYTES");
  assert.equal(a.byteOffset, 0, "a slab of its own, not a slice of Node's shared pool");
  const b = pool.take(20_000);
  assert.notEqual(b.buffer, a.buffer, "two bodies in flight never share a slab");
  pool.give(a);
  assert.equal(pool.freeByteCount, 32 * 1024);
  const c = pool.take(17_000);
  assert.equal(c.buffer, a.buffer, "a given-back slab is reused");
  assert.equal(pool.freeByteCount, 0);

  // A second give of the same body, or a buffer the pool did not lend, must not enter the free list: the
  // same slab would then go to two requests at once.
  pool.give(b);
  pool.give(b);
  assert.equal(pool.freeByteCount, 32 * 1024);
  pool.give(Buffer.allocUnsafeSlow(32 * 1024));
  assert.equal(pool.freeByteCount, 32 * 1024);
  const d = pool.take(30_000);
  const e = pool.take(30_000);
  assert.equal(d.buffer, b.buffer);
  assert.notEqual(e.buffer, b.buffer);

  const small = pool.take(MIN_POOLED_BODY_BYTES - 1);
  const huge = pool.take(MAX_POOLED_BODY_BYTES + 1);
  assert.equal(small.byteLength, MIN_POOLED_BODY_BYTES - 1);
  assert.equal(huge.byteLength, MAX_POOLED_BODY_BYTES + 1);
  pool.give(small);
  pool.give(huge);
  assert.equal(pool.freeByteCount, 0, "bodies outside the pooled range are never kept");
});

test("BodyPool keeps at most MAX_POOL_FREE_BYTES of free slabs", () => {
  const pool = new BodyPool();
  const bodies = Array.from({ length: MAX_POOL_FREE_BYTES / MAX_POOLED_BODY_BYTES + 2 }, () => pool.take(MAX_POOLED_BODY_BYTES));
  for (const b of bodies) pool.give(b);
  assert.equal(pool.freeByteCount, MAX_POOL_FREE_BYTES);
});

const srv = serveForSuite({ ident: identityConfig("ident", "TYPE_FP32") });

/** One FP32 identity request whose values are unique to `tag`; resolves with whether the answer matched. */
async function roundTrip(tag: number, elements: number): Promise<void> {
  const values = Float32Array.from({ length: elements }, (_, k) => tag * 1_000_000 + k);
  const { body, headerLength } = binaryBody(
    { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [elements], parameters: { binary_data_size: elements * 4 } }], outputs: [{ name: "OUTPUT0", parameters: { binary_data: true } }] },
    [new Uint8Array(values.buffer)],
  );
  const reply = await http(srv.srv.httpUrl, "/v2/models/ident/infer", { body, headers: { "Inference-Header-Content-Length": String(headerLength) } });
  assert.equal(reply.status, 200, reply.body.toString("utf8"));
  const out = splitBinaryResponse(reply).blobs.get("OUTPUT0")!;
  assert.ok(Buffer.from(values.buffer).equals(out), `request ${tag} (${elements * 4} bytes) came back with other bytes`);
}

test("overlapping infer requests with pooled bodies (one chunk and several) each get their own bytes back", async () => {
  // 20 KiB (one socket read), 100 KiB and 300 KiB (several reads, joined): all in the pooled range.
  const sizes = [5_000, 25_000, 75_000];
  for (let round = 0; round < 3; round++) {
    await Promise.all(Array.from({ length: 24 }, (_, i) => roundTrip(round * 100 + i, sizes[i % sizes.length]!)));
  }
});

test("a body of a failed request goes back to the pool and the next request is unaffected", async () => {
  const elements = 10_000;
  const values = new Float32Array(elements);
  const { body, headerLength } = binaryBody(
    // Claims one element more than the shape holds: refused after the body was read into a pooled buffer.
    { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [elements - 1], parameters: { binary_data_size: elements * 4 } }] },
    [new Uint8Array(values.buffer)],
  );
  const bad = await http(srv.srv.httpUrl, "/v2/models/ident/infer", { body, headers: { "Inference-Header-Content-Length": String(headerLength) } });
  assert.equal(bad.status, 400);
  assert.match(bad.json().error, /byte size mismatch|Expected/);
  await Promise.all(Array.from({ length: 8 }, (_, i) => roundTrip(900 + i, elements)));
});
