// A 110 MB FP32 tensor through identity_fp32 over gRPC and over HTTP with binary tensor data: above
// grpc-js's 4 MiB default receive limit and Triton's 64 MiB HTTP default, so both message-size limits
// (client 2^31-1, server 2^31-1; HTTP server maxBodyBytes raised here) and the byte path are exercised.
import assert from "node:assert/strict";
import { test } from "node:test";
import { startServer } from "@iaas/server-native";
import { Tensor, createClient } from "@iaas/client";

const BYTES = 110 * 1000 * 1000;

test("a 110 MB tensor round-trips byte for byte over gRPC and HTTP binary", async () => {
  const server = await startServer({ httpPort: 0, grpcPort: 0, maxBodyBytes: 256 * 1024 * 1024 });
  try {
    const values = new Float32Array(BYTES / 4);
    // Distinct values everywhere (not a constant fill), so misplaced or truncated bytes are caught.
    for (let i = 0; i < values.length; i++) values[i] = i;
    const sent = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    const input = new Tensor("INPUT0", "FP32", [values.length], values);
    for (const [url, protocol] of [[server.grpcUrl, "grpc"], [server.httpUrl, "http"]] as const) {
      const client = createClient({ url, protocol, timeoutMs: 120_000, retry: false });
      try {
        const out = (await client.infer("identity_fp32", [input])).output("OUTPUT0");
        assert.deepEqual(out.shape, [values.length], protocol);
        const data = out.data as Float32Array;
        assert.equal(data.byteLength, BYTES, protocol);
        assert.ok(Buffer.from(data.buffer, data.byteOffset, data.byteLength).equals(sent), `${protocol}: bytes differ`);
      } finally {
        await client.close();
      }
    }
  } finally {
    await server.close();
  }
});
