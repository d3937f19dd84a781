// Benchmark: the reference server's scheduling on dense_mlp (256-1024-1024-16, CPU), one row per request.
//  (a) dynamic batching vs none at concurrency 32 (target >= 2x throughput), and a max_queue_delay sweep
//      showing the latency / throughput trade;
//  (b) 2 CPU instances vs 1 without batching (target >= 1.7x on a 2-core machine).
// Every variant is the shipped dense_mlp config with another instance_group / dynamic_batching, served by
// one server process; @iaas/client (HTTP with binary tensors, or gRPC: --protocol) runs a closed loop of
// `concurrency` callers.
// Over HTTP, when wrk is installed, the instance pair also runs driven by wrk (pre-encoded body, one thread),
// a diagnostic of the server's own scaling; --no-wrk leaves it out.
// Variants alternate over `rounds` (every other round in reverse order) so drift on a shared machine hits all
// of them alike; the table keeps each variant's best round, the ratios are medians of per-round ratios.
//   node bench/scheduling.mjs [--duration 4] [--concurrency 32] [--rounds 2] [--delays 0,200,1000,4000]
//                             [--rows 1] [--instance-rows 64] [--instances-only] [--protocol http|grpc] [--no-wrk]
// --rows N: rows (FP32 [N,256]) per request of every variant. --instance-rows M: the 1- and 2-instance
// variants run again with M rows per request, and their ratio is the headline instance ratio: a second
// instance can only show its core when compute, not the per-request client and front-end CPU, dominates
// (see README; the --rows ratio is reported too). --instances-only runs just the instance variants.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createClient, Tensor } from "@iaas/client";
import { spawnSync } from "node:child_process";
import { benchDir, binaryInferBody, machine, runWrkPost, startNode, stop, writeResult } from "./lib/harness.mjs";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "4" },
    concurrency: { type: "string", default: "32" },
    rounds: { type: "string", default: "2" },
    delays: { type: "string", default: "0,200,1000,4000" },
    preferred: { type: "string", default: "8" },
    rows: { type: "string", default: "1" },
    "instance-rows": { type: "string", default: "64" },
    "instances-only": { type: "boolean", default: false },
    // The callers' protocol: "http" (binary tensors, as perf_analyzer's default) or "grpc" (raw contents).
    protocol: { type: "string", default: "http" },
    // Leave out the wrk-driven instance pair (run by default over HTTP when wrk is installed).
    "no-wrk": { type: "boolean", default: false },
    // Node/V8 flags for the server process, e.g. --server-node-arg=--max-semi-space-size=4 (repeatable).
    "server-node-arg": { type: "string", multiple: true, default: [] },
  },
});
const seconds = Number(args.duration);
const concurrency = Number(args.concurrency);
const rounds = Number(args.rounds);
const delays = args.delays.split(",").map(Number);
// The CPU dense kernel is fastest per row around 8 rows (measured: 148 us/row alone, 45 at 8, 76 at 32):
// variants with this preferred_batch_size cut batches there.
const preferred = Number(args.preferred);
const rowsOption = (name) => {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new RangeError(`--${name} must be an integer 1..64 (dense_mlp max_batch_size), got ${args[name]}`);
  return n;
};
const rows = rowsOption("rows");
const instanceRows = rowsOption("instance-rows");
const instancesOnly = args["instances-only"];
const protocol = args.protocol;
if (protocol !== "http" && protocol !== "grpc") throw new RangeError(`--protocol must be "http" or "grpc", got ${protocol}`);

const wrkPair = protocol === "http" && !args["no-wrk"] && !spawnSync("wrk", ["--version"]).error;

const shipped = join(benchDir, "..", "packages", "server-native", "models", "dense_mlp");
const baseConfig = readFileSync(join(shipped, "config.pbtxt"), "utf8");
const withGroup = (name, count, batching = "") =>
  baseConfig
    .replace('name: "dense_mlp"', `name: "${name}"`)
    .replace(/instance_group \[[\s\S]*?\]\n/, `instance_group [ { kind: KIND_CPU, count: ${count} } ]\n`) + batching;

// Instances bound to cores of their own with Triton's host policies (--host-policy coreN,cpu-cores=N):
// one instance on core 1 against two on cores 0 and 1, at --instance-rows rows (2+ cores only).
const pinnable = cpus().length >= 2;
const withPinned = (name, cores) =>
  baseConfig
    .replace('name: "dense_mlp"', `name: "${name}"`)
    .replace(/instance_group \[[\s\S]*?\]\n/, `instance_group [ ${cores.map((c) => `{ kind: KIND_CPU, count: 1, host_policy: "core${c}" }`).join(", ")} ]\n`);

const variants = [
  { name: "plain_1", what: "1 CPU instance, no dynamic batching", config: withGroup("plain_1", 1) },
  { name: "plain_2", what: "2 CPU instances, no dynamic batching", config: withGroup("plain_2", 2) },
  ...(instanceRows === rows
    ? []
    : [
        { name: `plain_1_rows${instanceRows}`, model: "plain_1", rows: instanceRows, what: `1 CPU instance, no dynamic batching, ${instanceRows} rows per request` },
        { name: `plain_2_rows${instanceRows}`, model: "plain_2", rows: instanceRows, what: `2 CPU instances, no dynamic batching, ${instanceRows} rows per request` },
      ]),
  ...(pinnable
    ? [
        { name: "pinned_1", rows: instanceRows, what: `1 CPU instance bound to core 1 (host policy), ${instanceRows} rows per request`, config: withPinned("pinned_1", [1]) },
        { name: "pinned_2", rows: instanceRows, what: `2 CPU instances bound to cores 0 and 1 (host policies), ${instanceRows} rows per request`, config: withPinned("pinned_2", [0, 1]) },
      ]
    : []),
  // The same pair at --instance-rows rows driven by wrk (one thread, `concurrency` connections, the body
  // pre-encoded) instead of @iaas/client: the server's scaling when the load generator's CPU per request,
  // charged to the same two cores, is a C tool's (diagnostic beside the headline; HTTP only, needs wrk).
  ...(wrkPair
    ? [
        { name: `wrk_1_rows${instanceRows}`, model: "plain_1", rows: instanceRows, loader: "wrk", what: `1 CPU instance, no dynamic batching, ${instanceRows} rows per request, load from wrk` },
        { name: `wrk_2_rows${instanceRows}`, model: "plain_2", rows: instanceRows, loader: "wrk", what: `2 CPU instances, no dynamic batching, ${instanceRows} rows per request, load from wrk` },
      ]
    : []),
  ...(instancesOnly ? [] : delays).map((d) => ({
    name: `batched_${d}us`,
    what: `1 CPU instance, dynamic_batching max_queue_delay_microseconds ${d}`,
    config: withGroup(`batched_${d}us`, 1, `dynamic_batching { max_queue_delay_microseconds: ${d} }\n`),
  })),
  ...(instancesOnly ? [] : delays).map((d) => ({
    name: `batched_pref${preferred}_${d}us`,
    what: `1 CPU instance, dynamic_batching preferred_batch_size [${preferred}], max_queue_delay_microseconds ${d}`,
    config: withGroup(`batched_pref${preferred}_${d}us`, 1, `dynamic_batching { preferred_batch_size: [ ${preferred} ] max_queue_delay_microseconds: ${d} }\n`),
  })),
];

const repo = mkdtempSync(join(tmpdir(), "iaas-bench-scheduling-"));
for (const v of variants) {
  v.model ??= v.name;
  v.rows ??= rows;
  if (v.config === undefined) continue; // another request size on a model defined above
  mkdirSync(join(repo, v.name, "1"), { recursive: true });
  writeFileSync(join(repo, v.name, "config.pbtxt"), v.config);
  copyFileSync(join(shipped, "labels.txt"), join(repo, v.name, "labels.txt"));
}

const inputFor = (n) => new Tensor("INPUT0", "FP32", [n, 256], Float32Array.from({ length: n * 256 }, (_, i) => Math.sin(i)));
const inputs = new Map([...new Set(variants.map((v) => v.rows))].map((n) => [n, inputFor(n)]));

/** wrk's closed loop (one thread, `concurrency` connections) on one model; its own CPU from /usr/bin/time. */
function runWrk(model, rows, secs) {
  const { header, body } = binaryInferBody([inputs.get(rows)]);
  const bodyFile = join(repo, `body-${rows}.bin`);
  writeFileSync(bodyFile, body);
  const r = runWrkPost({ url: `${server.info.httpUrl}/v2/models/${model}/infer`, bodyFile, headerLength: Buffer.byteLength(header), connections: concurrency, durationS: secs, workDir: repo });
  return { requests: r.requests, failed: 0, rps: r.requests / r.wallS, p50Ms: NaN, p99Ms: NaN, loaderCpuS: r.userS + r.systemS };
}

/** Closed loop on one model: requests/s and latency percentiles (ms). */
async function run(client, model, rows, secs) {
  const x = inputs.get(rows);
  const latencies = [];
  let failed = 0;
  const until = performance.now() + secs * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const start = performance.now();
        try {
          const r = await client.infer(model, [x]);
          if (r.outputs[0].shape[0] !== rows || r.outputs[0].shape[1] !== 16) throw new Error("wrong output shape");
          latencies.push(performance.now() - start);
        } catch (e) {
          if (failed++ === 0) console.error(`${model}: ${e.message}`);
        }
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return { requests: latencies.length, failed, rps: latencies.length / wall, p50Ms: pct(50), p99Ms: pct(99) };
}

async function batchSizes(client, model) {
  const [s] = await client.modelStatistics(model);
  const inferences = Number(s.inference_count);
  const executions = Number(s.execution_count);
  // Time the instances spent in the kernel: per execution it shows whether two instances slow each other
  // down; per second of wall time, how many instance threads were computing at once. compute_infer is
  // accumulated per request (each request of a batch gets the whole execution's time, Triton's rule).
  const computeNs = Number(s.inference_stats.compute_infer.ns);
  const requests = Number(s.inference_stats.success.count);
  return { inferences, executions, requests, computeNs, meanBatch: executions > 0 ? inferences / executions : 0 };
}

const round = (v, d = 2) => Number(v.toFixed(d));

/**
 * CPU seconds used so far by the server's threads named after `model` (its instance threads, named by the
 * instance), from /proc (Linux; null elsewhere). Against compute_infer wall time it tells whether two
 * instances were slowed by waiting for a core (CPU < wall) or by each other in the caches (CPU per execution up).
 */
function processCpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** CPU seconds of the server's JS (main) thread so far, from /proc (Linux; null elsewhere). */
function mainThreadCpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

function instanceCpuSeconds(pid, model) {
  try {
    const tick = 100; // USER_HZ on Linux
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      if (!comm.startsWith(model.slice(0, 15))) continue;
      const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8").split(") ")[1].split(" ");
      total += (Number(fields[11]) + Number(fields[12])) / tick;
    }
    return total;
  } catch {
    return null;
  }
}
const server = await startNode([join(benchDir, "peers", "scheduling-server.mjs"), repo, ...(pinnable ? ["core0,cpu-cores=0", "core1,cpu-cores=1"] : [])], {
  execArgv: args["server-node-arg"],
});
const best = new Map();
const load = [];
/** Per round: every variant's requests/s, for ratios within one round (machine drift cancels better). */
const perRound = [];
try {
  const client =
    protocol === "http" ? createClient({ url: server.info.httpUrl, protocol: "http", connections: concurrency }) : createClient({ url: server.info.grpcUrl, protocol: "grpc" });
  for (const v of variants) await (v.loader === "wrk" ? runWrk(v.model, v.rows, 1) : run(client, v.model, v.rows, 0.5)); // warm-up: JIT, connections, caches
  for (let r = 0; r < rounds; r++) {
    const thisRound = {};
    perRound.push(thisRound);
    // Every other round runs the variants in reverse order (ABBA), so a drift of the host's speed over a
    // round slows the variants of a pair by the same amount on average instead of always the later one.
    for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
      load.push(loadavg()[0]);
      const before = await batchSizes(client, v.model);
      const cpuBefore = instanceCpuSeconds(server.info.pid, v.model);
      const serverBefore = processCpuSeconds(server.info.pid);
      const mainBefore = mainThreadCpuSeconds(server.info.pid);
      const clientBefore = process.cpuUsage();
      const res = v.loader === "wrk" ? runWrk(v.model, v.rows, seconds) : await run(client, v.model, v.rows, seconds);
      // The load generator's CPU: this process's, or wrk's (a child, timed by /usr/bin/time).
      const clientCpu = res.loaderCpuS === undefined ? process.cpuUsage(clientBefore) : { user: res.loaderCpuS * 1e6, system: 0 };
      const after = await batchSizes(client, v.model);
      const cpuAfter = instanceCpuSeconds(server.info.pid, v.model);
      const serverAfter = processCpuSeconds(server.info.pid);
      const mainAfter = mainThreadCpuSeconds(server.info.pid);
      const executions = after.executions - before.executions;
      res.meanBatch = executions > 0 ? (after.inferences - before.inferences) / executions : 0;
      const served = after.requests - before.requests;
      const executionNs = served > 0 ? (after.computeNs - before.computeNs) / served : 0;
      res.computeUsPerExecution = executionNs / 1000;
      res.busyInstances = (executionNs * executions) / 1e9 / seconds;
      res.rowsPerSecond = res.rps * v.rows;
      // Front end per request: the client's CPU plus the server's CPU outside the instance threads.
      res.clientCpuUsPerRequest = res.requests > 0 ? (clientCpu.user + clientCpu.system) / res.requests : null;
      res.serverFrontEndCpuUsPerRequest =
        serverBefore !== null && serverAfter !== null && cpuBefore !== null && res.requests > 0
          ? ((serverAfter - serverBefore - (cpuAfter - cpuBefore)) * 1e6) / res.requests
          : null;
      // Of the server's part, its JS thread (HTTP, scheduling, hand-offs); the rest is V8's and libuv's threads.
      res.serverMainThreadCpuUsPerRequest = mainBefore !== null && mainAfter !== null && res.requests > 0 ? ((mainAfter - mainBefore) * 1e6) / res.requests : null;
      res.frontEndCpuUsPerRequest = res.serverFrontEndCpuUsPerRequest === null ? null : res.clientCpuUsPerRequest + res.serverFrontEndCpuUsPerRequest;
      res.instanceCpuUsPerExecution = cpuBefore !== null && cpuAfter !== null && executions > 0 ? ((cpuAfter - cpuBefore) * 1e6) / executions : null;
      console.error(
        `round ${r + 1} ${v.name}: ${res.rps.toFixed(0)} req/s (${res.rowsPerSecond.toFixed(0)} rows/s), p50 ${res.p50Ms.toFixed(2)} ms, p99 ${res.p99Ms.toFixed(2)} ms, mean batch ${res.meanBatch.toFixed(1)}, compute ${res.computeUsPerExecution.toFixed(0)} us/execution (instance thread CPU ${res.instanceCpuUsPerExecution?.toFixed(0) ?? "?"} us; front end ${res.frontEndCpuUsPerRequest?.toFixed(0) ?? "?"} us CPU/request = client ${res.clientCpuUsPerRequest?.toFixed(0) ?? "?"} + server ${res.serverFrontEndCpuUsPerRequest?.toFixed(0) ?? "?"}, of it JS thread ${res.serverMainThreadCpuUsPerRequest?.toFixed(0) ?? "?"}), ${res.busyInstances.toFixed(2)} instances busy`,
      );
      thisRound[v.name] = res.rps;
      if (!best.has(v.name) || best.get(v.name).rps < res.rps) best.set(v.name, res);
    }
  }
  await client.close();
} finally {
  await stop(server.child);
  rmSync(repo, { recursive: true, force: true });
}

const table = variants.map((v) => {
  const b = best.get(v.name);
  return { variant: v.name, what: v.what, rowsPerRequest: v.rows, rps: round(b.rps, 1), rowsPerSecond: round(b.rowsPerSecond, 1), computeUsPerExecution: round(b.computeUsPerExecution, 1), instanceCpuUsPerExecution: b.instanceCpuUsPerExecution === null ? null : round(b.instanceCpuUsPerExecution, 1), busyInstances: round(b.busyInstances), frontEndCpuUsPerRequest: b.frontEndCpuUsPerRequest === null ? null : round(b.frontEndCpuUsPerRequest, 1),
    clientCpuUsPerRequest: b.clientCpuUsPerRequest === null ? null : round(b.clientCpuUsPerRequest, 1),
    serverFrontEndCpuUsPerRequest: b.serverFrontEndCpuUsPerRequest === null ? null : round(b.serverFrontEndCpuUsPerRequest, 1),
    serverMainThreadCpuUsPerRequest: b.serverMainThreadCpuUsPerRequest === null ? null : round(b.serverMainThreadCpuUsPerRequest, 1), p50Ms: round(b.p50Ms), p99Ms: round(b.p99Ms), meanBatch: round(b.meanBatch, 1), failed: b.failed };
});
const rps = (name) => best.get(name).rps;
const batchedBest = instancesOnly ? NaN : Math.max(...variants.filter((v) => v.name.startsWith("batched")).map((v) => rps(v.name)));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const batchedNames = variants.filter((v) => v.name.startsWith("batched")).map((v) => v.name);
const roundRatios = perRound.map((r) => ({
  dynamicBatchingVsNone: instancesOnly ? NaN : Math.max(...batchedNames.map((n) => r[n])) / r.plain_1,
  twoInstancesVsOne: r[`plain_2_rows${instanceRows}`] !== undefined ? r[`plain_2_rows${instanceRows}`] / r[`plain_1_rows${instanceRows}`] : r.plain_2 / r.plain_1,
  twoInstancesVsOneAtRows: r.plain_2 / r.plain_1,
  twoInstancesVsOnePinned: pinnable ? r.pinned_2 / r.pinned_1 : NaN,
  twoInstancesVsOneWrk: wrkPair ? r[`wrk_2_rows${instanceRows}`] / r[`wrk_1_rows${instanceRows}`] : NaN,
}));
const result = {
  benchmark: "scheduling",
  date: new Date().toISOString(),
  machine: { ...machine(), loadAverage1mDuringRuns: { min: round(Math.min(...load)), max: round(Math.max(...load)) } },
  settings: { model: `dense_mlp 256-1024-1024-16, FP32 [${rows},256] per request`, protocol: protocol === "http" ? "HTTP binary" : "gRPC raw contents", concurrency, seconds, rounds, rows, instanceRows, instancesOnly, delaysUs: instancesOnly ? [] : delays, preferred, serverNodeArgs: args["server-node-arg"], wrkPair, hostPolicies: pinnable ? ["core0,cpu-cores=0", "core1,cpu-cores=1"] : [] },
  rows: table,
  // Headline: median over rounds of the ratio within each round; bestOfRounds divides best rates, which
  // favours whichever variant happened to run in a quiet moment.
  ratios: {
    ...(instancesOnly ? {} : { dynamicBatchingVsNone: {
      value: round(median(roundRatios.map((r) => r.dynamicBatchingVsNone))),
      perRound: roundRatios.map((r) => round(r.dynamicBatchingVsNone)),
      bestOfRounds: round(batchedBest / rps("plain_1")),
      target: 2,
    } }),
    // Headline at --instance-rows rows per request; the --rows ratio (1 row by default) is kept below it.
    twoInstancesVsOne: {
      rowsPerRequest: instanceRows,
      value: round(median(roundRatios.map((r) => r.twoInstancesVsOne))),
      perRound: roundRatios.map((r) => round(r.twoInstancesVsOne)),
      bestOfRounds: round(instanceRows === rows ? rps("plain_2") / rps("plain_1") : rps(`plain_2_rows${instanceRows}`) / rps(`plain_1_rows${instanceRows}`)),
      target: 1.7,
    },
    ...(instanceRows === rows
      ? {}
      : {
          twoInstancesVsOneAtRows: {
            rowsPerRequest: rows,
            value: round(median(roundRatios.map((r) => r.twoInstancesVsOneAtRows))),
            perRound: roundRatios.map((r) => round(r.twoInstancesVsOneAtRows)),
            bestOfRounds: round(rps("plain_2") / rps("plain_1")),
          },
        }),
    // Diagnostic, not the target: the same pair with each instance on a core of its own (host policies); the
    // front end and the client share the cores with them as before. Read it with the rates: on the 2-core VM
    // one bound instance runs each execution slower than an unbound one (bench/README.md, session 5).
    ...(pinnable && {
      twoInstancesVsOnePinned: {
        rowsPerRequest: instanceRows,
        value: round(median(roundRatios.map((r) => r.twoInstancesVsOnePinned))),
        perRound: roundRatios.map((r) => round(r.twoInstancesVsOnePinned)),
        bestOfRounds: round(rps("pinned_2") / rps("pinned_1")),
      },
    }),
    // Diagnostic, not the target: the pair driven by wrk, whose CPU per request is a fraction of the
    // client's; the difference from the headline is what the load generator's share of the cores costs.
    ...(wrkPair && {
      twoInstancesVsOneWrk: {
        rowsPerRequest: instanceRows,
        value: round(median(roundRatios.map((r) => r.twoInstancesVsOneWrk))),
        perRound: roundRatios.map((r) => round(r.twoInstancesVsOneWrk)),
        bestOfRounds: round(rps(`wrk_2_rows${instanceRows}`) / rps(`wrk_1_rows${instanceRows}`)),
      },
    }),
  },
  perRoundRps: perRound.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v, 1)]))),
};
const out = writeResult(
  (rows === 1 && !instancesOnly ? "scheduling" : `scheduling-rows${rows}-${instanceRows}${instancesOnly ? "-instances" : ""}`) + (protocol === "grpc" ? "-grpc" : ""),
  result,
);
console.log(JSON.stringify(result.ratios));
console.error(`wrote ${out}`);
