// The closed loop reads the clock once a request (a success's completion time is the next send time): the
// latencies it records must still be each request's own, also for a success that follows a failure.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient, InferenceError, Tensor, type InferenceClient } from "@iaas/client";
import { startServer, DEFAULT_MODEL_REPOSITORY } from "@iaas/server-native";
import { ClosedLoop } from "../src/load/closed-loop.ts";
import { initHistograms } from "../src/load/histogram.ts";

type Server = Awaited<ReturnType<typeof startServer>>;
let server: Server;

before(async () => {
  await initHistograms();
  server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0, modelRepository: DEFAULT_MODEL_REPOSITORY });
});
after(async () => {
  await server.close();
});

const FAIL_AFTER_MS = 40;

/**
 * Every third call fails after FAIL_AFTER_MS; the others go to the real client, and their own durations
 * (measured around the real call) are kept to compare with what the loop records.
 */
function timingClient(client: InferenceClient) {
  const seen = { successes: 0, failures: 0, successMs: [] as number[] };
  let calls = 0;
  const wrapped: InferenceClient = Object.create(client, {
    infer: {
      value: async (...args: Parameters<InferenceClient["infer"]>) => {
        if (calls++ % 3 === 0) {
          await sleep(FAIL_AFTER_MS);
          seen.failures++;
          throw new InferenceError("unavailable", "failed on purpose by the test client");
        }
        const t0 = performance.now();
        const result = await client.infer(...args);
        seen.successMs.push(performance.now() - t0);
        seen.successes++;
        return result;
      },
    },
  });
  return { wrapped, seen };
}

test("closed loop: recorded latencies are each success's own, also after a failure", async () => {
  const client = createClient({ url: server.httpUrl, protocol: "http" });
  try {
    const { wrapped, seen } = timingClient(client);
    const inputs = [new Tensor("INPUT0", "FP32", [16], new Float32Array(16))];
    const loop = new ClosedLoop({ client: wrapped, model: "identity_fp32", inputs, concurrency: 4 });
    loop.start();
    await sleep(400);
    const w = await loop.stop();
    try {
      assert.ok(seen.successes > 10 && seen.failures > 5, `too few requests: ${seen.successes} ok, ${seen.failures} failed`);
      assert.equal(w.successes, seen.successes);
      assert.equal(w.failures, seen.failures);
      assert.equal(w.hist.totalCount, seen.successes);
      const ownMeanUs = (seen.successMs.reduce((a, b) => a + b, 0) / seen.successMs.length) * 1000;
      // A send time carried over a failure would add its FAIL_AFTER_MS to about a third of the successes
      // (+13 ms on the mean); a stale one would grow without bound. Between the two clocks there are only
      // promise reactions.
      assert.ok(Math.abs(w.hist.mean - ownMeanUs) < 5000, `loop mean ${w.hist.mean} us, the calls' own mean ${ownMeanUs.toFixed(0)} us`);
      assert.ok(w.hist.maxValue < Math.max(...seen.successMs) * 1000 + 5000, `loop max ${w.hist.maxValue} us, the calls' own max ${Math.max(...seen.successMs).toFixed(1)} ms`);
    } finally {
      w.destroy();
    }
  } finally {
    await client.close();
  }
});
