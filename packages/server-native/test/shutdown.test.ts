// close() stops taking new work but lets requests already in flight finish with their answers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startServer } from "../src/server.ts";
import { binaryBody, countArrivals, denseMlpRepository, http } from "./helpers.ts";

test("close() answers every HTTP request already in flight before it resolves", async () => {
  const repo = denseMlpRepository();
  const srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0 });
  try {
    // Count requests that reached the core, so close() comes only once all 8 are really in the server
    // (a connection still in the accept backlog would be reset, and that is not what is tested here).
    const arrivals = countArrivals(srv);
    // 8 requests of batch 64 queue behind each other on one instance: tens of ms of work in flight.
    const x = Buffer.alloc(64 * 256 * 4);
    const { body, headerLength } = binaryBody(
      { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [64, 256], parameters: { binary_data_size: x.length } }] },
      [x],
    );
    const inflight = Array.from({ length: 8 }, () =>
      http(srv.httpUrl, "/v2/models/dense_mlp/infer", { body, headers: { "Inference-Header-Content-Length": String(headerLength) } }),
    );
    while (arrivals.count < 8) await sleep(1);
    const closed = srv.close();
    const replies = await Promise.all(inflight);
    await closed;
    assert.deepEqual(replies.map((r) => r.status), Array(8).fill(200));
    await assert.rejects(http(srv.httpUrl, "/v2/health/live"), "a closed server takes no new connections");
  } finally {
    await srv.close();
    repo.remove();
  }
});
