// Body chunks that node:http hands the infer route are freed as soon as they are copied into a pooled body
// (frontends/http/body.ts, releaseChunk): otherwise each 64 KiB chunk stays allocated until V8's next
// collection, and at a few hundred large requests per second that external memory kept V8 running full
// mark-compacts back to back (bench/README.md, scheduling section). Checked on the real server: the chunks
// of a pooled-size request are detached once it was answered (and the answer is right), while the chunk
// that is itself the body of a small request is left alone.
import assert from "node:assert/strict";
import { IncomingMessage } from "node:http";
import { test } from "node:test";
import { releaseChunk } from "../src/frontends/http/body.ts";
import { binaryBody, http, identityConfig, serveForSuite, splitBinaryResponse } from "./helpers.ts";

/** ArrayBuffer.prototype.detached (ES2024; the project's TypeScript lib predates it). */
const detached = (b: Buffer): boolean => (b.buffer as unknown as { detached: boolean }).detached;

test("releaseChunk frees a buffer that is a whole ArrayBuffer and leaves shared ones alone", () => {
  const own = Buffer.allocUnsafeSlow(70_000).fill(7);
  releaseChunk(own);
  assert.equal(detached(own), true);
  assert.equal(own.byteLength, 0, "a detached chunk has no bytes left");
  releaseChunk(own); // a second release is a no-op, not a TypeError

  const pooled = Buffer.allocUnsafe(100).fill(1); // a slice of Node's shared pool slab
  releaseChunk(pooled);
  assert.equal(detached(pooled), false);
  assert.equal(pooled[99], 1);

  const whole = Buffer.allocUnsafeSlow(40_000).fill(2);
  const part = whole.subarray(0, 30_000);
  releaseChunk(part);
  assert.equal(detached(whole), false, "a view of part of an ArrayBuffer does not own it");
  assert.equal(whole[39_999], 2);

  // A whole ArrayBuffer that cannot be detached (WebAssembly memory): left as it is, without throwing.
  const { WebAssembly: wasmApi } = globalThis as unknown as { WebAssembly: { Memory: new (size: { initial: number }) => { buffer: ArrayBuffer } } };
  const wasm = Buffer.from(new wasmApi.Memory({ initial: 1 }).buffer);
  wasm[0] = 5;
  releaseChunk(wasm);
  assert.equal(wasm.byteLength, 65_536);
  assert.equal(wasm[0], 5);
});

const srv = serveForSuite({ ident: identityConfig("ident", "TYPE_FP32") });

/** Runs `fn` and returns the 'data' chunks of every POST request node:http delivered meanwhile. */
async function requestChunks(fn: () => Promise<void>): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  const emit = IncomingMessage.prototype.emit;
  IncomingMessage.prototype.emit = function (this: IncomingMessage, event: string | symbol, ...args: unknown[]): boolean {
    if (event === "data" && this.method === "POST") chunks.push(args[0] as Buffer);
    return emit.call(this, event, ...args);
  } as typeof emit;
  try {
    await fn();
  } finally {
    IncomingMessage.prototype.emit = emit;
  }
  return chunks;
}

async function identityRoundTrip(elements: number): Promise<void> {
  const values = Float32Array.from({ length: elements }, (_, k) => k * 3 + 1);
  const { body, headerLength } = binaryBody(
    { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [elements], parameters: { binary_data_size: elements * 4 } }], outputs: [{ name: "OUTPUT0", parameters: { binary_data: true } }] },
    [new Uint8Array(values.buffer)],
  );
  const reply = await http(srv.srv.httpUrl, "/v2/models/ident/infer", { body, headers: { "Inference-Header-Content-Length": String(headerLength) } });
  assert.equal(reply.status, 200, reply.body.toString("utf8"));
  assert.ok(Buffer.from(values.buffer).equals(splitBinaryResponse(reply).blobs.get("OUTPUT0")!), `${elements} elements came back changed`);
}

test("the chunks of an infer body are freed once copied; a small body's own chunk is kept", async () => {
  // 64 KiB of FP32 (the benchmark's 64-row request size) and 200 KiB: pooled, arriving in one or more
  // chunks; 5 MiB: above the pooled range, joined into a new buffer from many chunks.
  for (const elements of [16_384, 51_200, 1_310_720]) {
    const chunks = await requestChunks(() => identityRoundTrip(elements));
    assert.ok(chunks.length >= (elements > 100_000 ? 2 : 1), "the request body arrived as data chunks");
    for (const c of chunks) assert.equal(detached(c), true, `a ${elements * 4}-byte body left a chunk allocated`);
  }
  // 400 bytes: below the pooled range, so the single chunk is the body the inference reads; it must stay.
  const small = await requestChunks(() => identityRoundTrip(100));
  assert.ok(small.length >= 1);
  for (const c of small) assert.equal(detached(c), false, "a small body's chunk was freed while it is the body");
});
