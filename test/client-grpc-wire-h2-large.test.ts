// Large tensors on the client's own HTTP/2 connection (grpc.implementation "iaas-h2") against the reference
// server (grpc-js on node:http2: 16 KiB frames, 64 KiB windows): plaintext answers are read straight into
// the message buffer, TLS answers through 'data' events; both must come back byte-exact, one call alone and
// two at once (whose DATA frames the server interleaves on the one connection).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startServer, type RunningServer } from "@iaas/server-native";
import { Tensor, createClient, type InferenceClient } from "@iaas/client";
import { tlsServersForSuite } from "./client-fixtures.ts";

/** An FP32 tensor whose every byte depends on its position (and the seed), NaN patterns excluded. */
function tensor(elements: number, seed: number): Tensor {
  const data = new Float32Array(elements);
  for (let i = 0; i < elements; i++) data[i] = ((i * 2654435761 + seed) >>> 8) / 7;
  return new Tensor("INPUT0", "FP32", [elements], data);
}

function sameBytes(out: Float32Array, input: Tensor): boolean {
  const a = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  const b = Buffer.from((input.data as Float32Array).buffer);
  return a.length === b.length && a.equals(b);
}

async function roundTrips(client: InferenceClient): Promise<void> {
  const one = tensor(3 * 1024 * 1024 + 7, 1); // 12 MiB + 28 B: ends inside a frame
  const out = (await client.infer("identity_fp32", [one])).output("OUTPUT0").data as Float32Array;
  assert.ok(sameBytes(out, one), "a 12 MiB answer differs from its request");
  const a = tensor(1024 * 1024, 2);
  const b = tensor(1024 * 1024 + 4099, 3);
  const [ra, rb] = await Promise.all([client.infer("identity_fp32", [a]), client.infer("identity_fp32", [b])]);
  assert.ok(sameBytes(ra.output("OUTPUT0").data as Float32Array, a), "the first of two concurrent 4 MiB answers differs");
  assert.ok(sameBytes(rb.output("OUTPUT0").data as Float32Array, b), "the second of two concurrent 4 MiB answers differs");
  // Small calls after large ones on the same connection.
  const small = tensor(16, 4);
  assert.ok(sameBytes((await client.infer("identity_fp32", [small])).output("OUTPUT0").data as Float32Array, small));
}

describe("iaas-h2 large tensors against the reference server", () => {
  let srv: RunningServer;
  before(async () => {
    srv = await startServer({ httpPort: 0, grpcPort: 0 });
  });
  after(async () => {
    await srv.close();
  });
  const tlsSuite = tlsServersForSuite();

  test("plaintext: 12 MiB alone and 2 x 4 MiB at once come back byte-exact", { timeout: 120_000 }, async () => {
    const client = createClient({ url: srv.grpcUrl, protocol: "grpc", retry: false, timeoutMs: 60_000, grpc: { implementation: "iaas-h2" } });
    try {
      await roundTrips(client);
    } finally {
      await client.close();
    }
  });

  test("TLS: the same byte-exact", { timeout: 120_000 }, async () => {
    const client = createClient({ url: tlsSuite.tls.grpcUrl, protocol: "grpc", retry: false, timeoutMs: 60_000, tls: { ca: tlsSuite.pki.ca }, grpc: { implementation: "iaas-h2" } });
    try {
      await roundTrips(client);
    } finally {
      await client.close();
    }
  });
});
