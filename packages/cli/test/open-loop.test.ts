// The open loop against the reference server (in-process, port 0): sends follow the schedule, the achieved
// rate matches the target, latency counts from the scheduled time, and the outstanding cap holds.
// A backlog built up before a window (the generator stalled) is counted as carried in, and the warm-up runs
// on until the schedule is kept, so measured rates do not include a catch-up burst.
// Tolerances are generous: the machine is shared, so only gross scheduling failures may fail these.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createClient, type InferenceClient } from "@iaas/client";
import { startServer, DEFAULT_MODEL_REPOSITORY } from "@iaas/server-native";
import { buildInputs, fetchModelInfo } from "../src/inputs/build.ts";
import { runLevel } from "../src/load/level.ts";
import { rateIntervals } from "../src/load/schedule.ts";
import { ServerStatsReader } from "../src/load/server-stats.ts";
import { decodeHistogram, initHistograms } from "../src/load/histogram.ts";
import { Window, windowStats } from "../src/load/window.ts";

type Server = Awaited<ReturnType<typeof startServer>>;
let server: Server;
let client: InferenceClient;

before(async () => {
  server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0, modelRepository: DEFAULT_MODEL_REPOSITORY });
  client = createClient({ url: server.httpUrl, protocol: "http", connections: 64 });
});
after(async () => {
  await client.close();
  await server.close();
});

/** Delegates to the real client; records when each infer call was made and the most outstanding at once. */
function recordingClient(inner: InferenceClient) {
  const sends: number[] = [];
  const counts = { current: 0, max: 0 };
  const wrapped: InferenceClient = Object.create(inner, {
    infer: {
      value: async (...args: Parameters<InferenceClient["infer"]>) => {
        sends.push(performance.now());
        counts.max = Math.max(counts.max, ++counts.current);
        try {
          return await inner.infer(...args);
        } finally {
          counts.current--;
        }
      },
    },
  });
  return { wrapped, sends, counts };
}

test("request rate 200/s constant: achieved rate near the target, every request accounted for at the server", async () => {
  const info = await fetchModelInfo(client, "simple");
  const built = buildInputs(info);
  const { wrapped, sends } = recordingClient(client);
  const [before] = await client.modelStatistics("simple");
  const level = await runLevel({
    client: wrapped,
    model: "simple",
    inputs: built.tensors,
    load: { mode: "request_rate", rate: 200, distribution: "constant" },
    warmupMs: 100,
    windowMs: 500,
    maxTrials: 3,
    serverStats: new ServerStatsReader(client, "simple"),
  });
  const [afterStats] = await client.modelStatistics("simple");

  assert.equal(level.mode, "request_rate");
  assert.equal(level.load, 200);
  assert.equal(level.requestRate, 200);
  assert.equal(level.windows.length, 3);
  const o = level.openLoop!;
  assert.ok(o, "open-loop statistics present");
  assert.ok(o.achievedRate > 160 && o.achievedRate < 240, `achieved ${o.achievedRate}/s for a 200/s target`);
  assert.ok(level.throughput > 140 && level.throughput < 260, `throughput ${level.throughput}`);
  assert.equal(o.sent, level.windows.reduce((n, w) => n + w.openLoop!.sent, 0), "merged = sum of the windows");
  assert.ok(o.late <= o.sent && o.lateShare >= 0 && o.lateShare <= 1);
  assert.equal(level.errorCount, 0);
  assert.equal(level.capDelayed, 0, "the cap is never reached at 200/s");
  // 1.6 s of load at 200/s: about 320 sends, warm-up included.
  assert.ok(sends.length > 250 && sends.length < 400, `${sends.length} sends`);
  const served = Number(afterStats!.inference_stats.success.count - before!.inference_stats.success.count);
  assert.equal(served, sends.length, "the server answered every request the loop sent");

  // Latency from the scheduled time can only be larger than from the actual send.
  const l = level.latencyUs;
  const s = o.latencyFromSendUs;
  assert.ok(l.p50 >= s.p50 && l.max >= s.max && l.avg >= s.avg - 0.1, `${JSON.stringify(l)} vs ${JSON.stringify(s)}`);
  const h = decodeHistogram(level.histograms.latencyUs);
  assert.equal(h.totalCount, level.requests, "the encoded histogram holds the merged windows");
  const hs = decodeHistogram(level.histograms.latencyFromSendUs!);
  assert.equal(hs.totalCount, level.requests);

  const srv = level.server!;
  assert.ok(srv, level.serverNote);
  assert.ok(srv.requests > 0 && srv.requestUs > 0);
  assert.ok(Math.abs(srv.clientOverheadUs - Math.max(0, s.avg - srv.requestUs)) < 0.2, "overhead = client avg from send - server request avg");
});

test("poisson sends follow the seeded exponential schedule", async () => {
  const info = await fetchModelInfo(client, "simple");
  const built = buildInputs(info);
  const { wrapped, sends } = recordingClient(client);
  const level = await runLevel({
    client: wrapped,
    model: "simple",
    inputs: built.tensors,
    load: { mode: "request_rate", rate: 200, distribution: "poisson", seed: 11 },
    warmupMs: 0,
    windowMs: 400,
    maxTrials: 3,
  });
  assert.equal(level.distribution, "poisson");
  // Send i is due at start + (sum of the first i gaps) and never leaves early, so start is at most
  // min(send_i - due_i); lateness is measured from there. (The first send itself is not a good anchor: the
  // first call through the client pays for compiling its code path, up to ~1.5 ms here.)
  const gaps = rateIntervals(200, "poisson", 11);
  let due = 0;
  const offsets = sends.map((t) => {
    const d = t - due;
    due += gaps();
    return d;
  });
  const start = Math.min(...offsets);
  const lateness = offsets.map((d) => d - start).sort((a, b) => a - b);
  // Following another schedule (constant gaps, another seed) would drift like a random walk of 5 ms steps:
  // a median around 50 ms over 240 sends. The in-process server shares this event loop, so under load the
  // sends themselves run a few ms late: 5 ms still tells the two apart.
  const median = lateness[Math.floor(lateness.length / 2)]!;
  assert.ok(sends.length > 150, `${sends.length} sends`);
  assert.ok(median < 5, `median lateness ${median.toFixed(3)} ms against the seeded schedule`);
  // Exponential gaps vary as much as their mean; constant ones barely vary.
  const actualGaps = sends.slice(1).map((t, i) => t - sends[i]!);
  const mean = actualGaps.reduce((a, b) => a + b, 0) / actualGaps.length;
  const sd = Math.sqrt(actualGaps.reduce((a, b) => a + (b - mean) ** 2, 0) / actualGaps.length);
  assert.ok(sd / mean > 0.6, `coefficient of variation of the gaps ${(sd / mean).toFixed(2)}`);
});

test("over capacity with max outstanding 1: the cap holds, waits are counted, and latency from schedule grows", async () => {
  const info = await fetchModelInfo(client, "dense_mlp");
  const built = buildInputs(info);
  const { wrapped, counts } = recordingClient(client);
  const level = await runLevel({
    client: wrapped,
    model: "dense_mlp",
    inputs: built.tensors,
    load: { mode: "request_rate", rate: 5000, distribution: "constant" },
    maxOutstanding: 1,
    warmupMs: 0,
    windowMs: 300,
    maxTrials: 3,
  });
  assert.equal(counts.max, 1, "never more than the cap outstanding");
  assert.equal(level.maxInFlight, 1);
  assert.equal(level.maxOutstanding, 1);
  assert.ok(level.capDelayed! > 0, "requests waited for a free slot");
  const o = level.openLoop!;
  assert.ok(o.achievedRate < 5000 * 0.9, `achieved ${o.achievedRate}/s cannot reach 5000/s one at a time`);
  assert.ok(o.lateShare > 0.5, `late share ${o.lateShare}`);
  // Coordinated omission: from the send each request looks fast; from its schedule the backlog shows.
  assert.ok(level.latencyUs.p50 > 5 * o.latencyFromSendUs.p50, `p50 from schedule ${level.latencyUs.p50} us vs from send ${o.latencyFromSendUs.p50} us`);
});

test("window: sends scheduled before it opened are carried in; achieved rate counts completions, sent rate sends", async () => {
  await initHistograms();
  const w = new Window(1000, true);
  w.recordSend(250, 750); // scheduled before the window: a catch-up send
  w.recordSend(0.2, 1000.5);
  w.recordSend(0.1, 1500);
  w.recordOpenSuccess(2, 1);
  w.recordError(new Error("x"));
  w.lagAtEndMs = 3.5;
  w.close(1500);
  const s = windowStats(w, w.durationMs, 1, "avg").openLoop!;
  assert.equal(s.sent, 3);
  assert.equal(s.carriedIn, 1);
  assert.equal(s.late, 1);
  assert.equal(s.sentRate, 6, "3 sends in 0.5 s");
  assert.equal(s.achievedRate, 4, "2 completions (a success and a failure) in 0.5 s");
  assert.equal(s.lagAtEndMs, 3.5);
  const merged = new Window(0, true);
  merged.addCounts(w);
  merged.addCounts({ ...w, errors: [], errorMessages: [], carriedIn: 2, lagAtEndMs: 1 });
  assert.equal(merged.carriedIn, 3);
  assert.equal(merged.lagAtEndMs, 3.5, "the furthest-behind part");
  w.destroy();
  merged.destroy();
});

test("a stall late in the warm-up: measuring waits until the schedule is kept, so the rate does not count the catch-up", async () => {
  const built = buildInputs(await fetchModelInfo(client, "simple"));
  const rate = 1000;
  let calls = 0;
  // The 150th call (150 ms into a 200 ms warm-up) blocks the event loop for 700 ms: ~700 requests fall due
  // at once and the warm-up ends while most of them still wait (catch-up batches are 128 per turn).
  const stalling: InferenceClient = Object.create(client, {
    infer: {
      value: (...args: Parameters<InferenceClient["infer"]>) => {
        if (++calls === 150) {
          const until = performance.now() + 700;
          while (performance.now() < until);
        }
        return client.infer(...args);
      },
    },
  });
  const level = await runLevel({
    client: stalling,
    model: "simple",
    inputs: built.tensors,
    load: { mode: "request_rate", rate, distribution: "constant" },
    warmupMs: 200,
    windowMs: 300,
    maxTrials: 3,
  });
  assert.ok(calls > 150, "the stall happened");
  assert.ok(level.catchUpMs! > 0, `warm-up extended while behind (catch-up ${level.catchUpMs} ms, lag at start ${level.lagAtStartMs} ms)`);
  const first = level.windows[0]!.openLoop!;
  // Without the extension the first window would carry in hundreds of requests scheduled in the warm-up.
  assert.ok(first.carriedIn < 0.1 * first.sent, `first window carried in ${first.carriedIn} of ${first.sent} sends`);
  const o = level.openLoop!;
  assert.ok(o.sentRate < rate * 1.1, `sent ${o.sentRate}/s for a ${rate}/s target (a drained backlog would show ~1.5x)`);
  assert.ok(o.achievedRate < rate * 1.1, `achieved ${o.achievedRate}/s`);
  assert.ok(o.sentRate > rate * 0.5, `sent ${o.sentRate}/s`);
  assert.equal(level.errorCount, 0);
});
