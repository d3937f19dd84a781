// Statistics and Prometheus metrics after a known mix of requests sent with @iaas/client over HTTP and
// gRPC (successes of several batch sizes, failures of both kinds of protocol): every counter must equal
// what was sent, be identical whichever protocol reads it, and /metrics must report the same numbers
// under Triton's metric names.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createClient, Tensor, type InferenceClient, type ModelStatistics } from "@iaas/client";
import { startServer, DEFAULT_MODEL_REPOSITORY, type RunningServer } from "../src/server.ts";
import { backendInfo } from "../src/native/addon.ts";
import { parseExposition, sample } from "./prometheus-helpers.ts";
import { tempRepository } from "./helpers.ts";

const repo = tempRepository({ simple: readFileSync(join(DEFAULT_MODEL_REPOSITORY, "simple", "config.pbtxt"), "utf8") });
let srv: RunningServer;
let clients: { http: InferenceClient; grpc: InferenceClient };

before(async () => {
  srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0 });
  clients = {
    http: createClient({ url: srv.httpUrl, protocol: "http", retry: false }),
    grpc: createClient({ url: srv.grpcUrl, protocol: "grpc", retry: false }),
  };
});
after(async () => {
  await clients.http.close();
  await clients.grpc.close();
  await srv.close();
  repo.remove();
});

const pair = (batch: number): Tensor[] => {
  const a = new Int32Array(16 * batch).map((_, i) => i);
  return [new Tensor("INPUT0", "INT32", [batch, 16], a), new Tensor("INPUT1", "INT32", [batch, 16], a)];
};

// Sent below: HTTP batches 1, 2, 3 and gRPC batches 2, 2 succeed; 2 HTTP and 1 gRPC requests fail.
const SUCCESS_BATCHES = { http: [1, 2, 3], grpc: [2, 2] };
const FAILURES = { http: 2, grpc: 1 };

test("statistics count every request and are identical over HTTP and gRPC", async () => {
  const started = BigInt(Date.now());
  for (const protocol of ["http", "grpc"] as const) {
    const c = clients[protocol];
    for (const b of SUCCESS_BATCHES[protocol]) {
      const r = await c.infer("simple", pair(b));
      assert.deepEqual(r.output("OUTPUT0").shape, [b, 16]);
    }
    // A wrong shape and an unknown requested output: both reach the model and fail validation there.
    await assert.rejects(c.infer("simple", [new Tensor("INPUT0", "INT32", [1, 3], Int32Array.of(1, 2, 3)), new Tensor("INPUT1", "INT32", [1, 3], Int32Array.of(1, 2, 3))]));
    if (FAILURES[protocol] > 1) await assert.rejects(c.infer("simple", pair(1), { outputs: ["NOPE"] }), /NOPE/);
  }
  const finished = BigInt(Date.now());

  const viaHttp = await clients.http.modelStatistics("simple");
  const viaGrpc = await clients.grpc.modelStatistics("simple");
  assert.deepEqual(viaHttp, viaGrpc, "the same statistics over both protocols");
  assert.equal(viaHttp.length, 1);
  const s: ModelStatistics = viaHttp[0]!;
  const batches = [...SUCCESS_BATCHES.http, ...SUCCESS_BATCHES.grpc];
  const ok = BigInt(batches.length);
  const failed = BigInt(FAILURES.http + FAILURES.grpc);
  assert.equal(s.name, "simple");
  assert.equal(s.version, "1");
  assert.equal(s.execution_count, ok);
  assert.equal(s.inference_count, BigInt(batches.reduce((x, y) => x + y, 0)));
  assert.ok(s.last_inference >= started && s.last_inference <= finished, `last_inference ${s.last_inference} within the run`);
  const st = s.inference_stats;
  assert.equal(st.success.count, ok);
  assert.equal(st.fail.count, failed);
  assert.ok(st.fail.ns > 0n);
  for (const k of ["queue", "compute_input", "compute_infer", "compute_output"] as const) assert.equal(st[k].count, ok, k);
  assert.ok(st.compute_infer.ns > 0n && st.success.ns >= st.queue.ns + st.compute_infer.ns);
  assert.equal(st.cache_hit.count, 0n);
  assert.equal(st.cache_miss.count, 0n);
  const perSize = new Map<number, number>();
  for (const b of batches) perSize.set(b, (perSize.get(b) ?? 0) + 1);
  assert.deepEqual(
    s.batch_stats.map((b) => [Number(b.batch_size), Number(b.compute_infer.count), Number(b.compute_input.count), Number(b.compute_output.count)]),
    [...perSize.entries()].sort(([a], [b]) => a - b).map(([size, n]) => [size, n, n, n]),
  );
  assert.equal(s.response_stats["0"]!.success.count, ok);
  assert.equal(s.response_stats["0"]!.fail.count, failed);
});

test("GET /metrics reports the same counters under Triton's names, with HELP and TYPE", async () => {
  assert.ok(srv.metricsPort !== undefined && srv.metricsPort > 0, "metrics on a free port when httpPort is 0");
  assert.equal(srv.metricsUrl, `http://127.0.0.1:${srv.metricsPort}/metrics`);
  const res = await fetch(srv.metricsUrl!);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const families = parseExposition(text);
  const [s] = await clients.grpc.modelStatistics("simple");
  const st = s!.inference_stats;
  const m = { model: "simple", version: "1" };
  const batches = [...SUCCESS_BATCHES.http, ...SUCCESS_BATCHES.grpc];
  assert.equal(sample(families, "nv_inference_request_success", m), batches.length);
  assert.equal(sample(families, "nv_inference_request_failure", { ...m, reason: "OTHER" }), FAILURES.http + FAILURES.grpc);
  for (const reason of ["REJECTED", "CANCELED", "BACKEND"]) assert.equal(sample(families, "nv_inference_request_failure", { ...m, reason }), 0, reason);
  assert.equal(sample(families, "nv_inference_count", m), batches.reduce((x, y) => x + y, 0));
  assert.equal(sample(families, "nv_inference_exec_count", m), batches.length);
  assert.equal(sample(families, "nv_inference_request_duration_us", m), Number(st.success.ns / 1000n));
  assert.equal(sample(families, "nv_inference_queue_duration_us", m), Number(st.queue.ns / 1000n));
  assert.equal(sample(families, "nv_inference_compute_input_duration_us", m), Number(st.compute_input.ns / 1000n));
  assert.equal(sample(families, "nv_inference_compute_infer_duration_us", m), Number(st.compute_infer.ns / 1000n));
  assert.equal(sample(families, "nv_inference_compute_output_duration_us", m), Number(st.compute_output.ns / 1000n));
  assert.equal(sample(families, "nv_inference_pending_request_count", m), 0);
  for (const name of ["nv_inference_request_success", "nv_inference_request_failure", "nv_inference_count", "nv_inference_exec_count"]) {
    assert.equal(families.get(name)?.type, "counter", name);
    assert.ok((families.get(name)?.help ?? "").length > 0, `${name} has HELP`);
  }
  assert.equal(families.get("nv_inference_pending_request_count")?.type, "gauge");
  const cpu = sample(families, "nv_cpu_utilization", {});
  assert.ok(cpu >= 0 && cpu <= 1, `nv_cpu_utilization ${cpu}`);
  assert.ok(sample(families, "nv_cpu_memory_total_bytes", {}) > sample(families, "nv_cpu_memory_used_bytes", {}));
  const gpus = backendInfo().available.includes("cuda");
  if (!gpus) assert.ok(![...families.keys()].some((k) => k.startsWith("nv_gpu_")), "no GPU metrics without a GPU");
  else {
    // With a GPU (and nvidia-smi, as on any CUDA machine) each family has one sample per GPU the addon sees.
    const devices = backendInfo().gpus.length;
    for (const name of ["nv_gpu_utilization", "nv_gpu_memory_total_bytes", "nv_gpu_memory_used_bytes"]) {
      const f = families.get(name);
      assert.equal(f?.type, "gauge", name);
      assert.equal(f!.samples.length, devices, `${name}: one sample per GPU`);
      for (const smp of f!.samples) assert.match(smp.labels.gpu_uuid ?? "", /^GPU-/, `${name} is labelled with the GPU's uuid`);
    }
    assert.ok(families.get("nv_gpu_memory_total_bytes")!.samples.every((smp) => smp.value > 0), "GPU memory totals are positive");
  }

  assert.equal((await fetch(srv.metricsUrl!.replace("/metrics", "/other"))).status, 404);
  assert.equal((await fetch(srv.metricsUrl!, { method: "POST" })).status, 405);
});

test("pending requests: the gauge counts requests handed to the scheduler until they finish", async () => {
  const stats = srv.server.versionStats()[0]!;
  const data = Buffer.alloc(64);
  const request = () => ({ model: "simple", inputs: ["INPUT0", "INPUT1"].map((name) => ({ name, datatype: "INT32", shape: [1, 16], data })) });
  // The core hands a request to the scheduler before its first await: both are pending right away.
  const running = [srv.server.infer(request()), srv.server.infer(request())];
  assert.equal(stats.pending, 2);
  const text = await (await fetch(srv.metricsUrl!)).text();
  await Promise.all(running);
  assert.equal(stats.pending, 0);
  // The scrape may have run before or after they finished; either way the gauge is a count, not a total.
  const seen = sample(parseExposition(text), "nv_inference_pending_request_count", { model: "simple", version: "1" });
  assert.ok(seen === 0 || seen === 1 || seen === 2, `pending ${seen}`);
});

test("metrics: false serves no metrics port", async () => {
  const off = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, metrics: false });
  try {
    assert.equal(off.metricsPort, undefined);
    assert.equal(off.metricsUrl, undefined);
  } finally {
    await off.close();
  }
  await assert.rejects(startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, metricsPort: 70000 }), /metricsPort must be an integer port 0\.\.65535, got 70000/);
});
