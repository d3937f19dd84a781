// Benchmark: request rate of `iaas bench` (the CLI, closed loop) against wrk (HTTP/1.1) and h2load (gRPC over
// HTTP/2) on the reference server's identity_fp32 (FP32 [16]) at the same concurrency and connection count:
// wrk -c64 -t1 vs `iaas bench -c 64` (64 HTTP connections); h2load -c1 -m64 vs `iaas bench -i grpc -c 64`
// (one HTTP/2 connection per client: with --workers N, N connections, and h2load gets -cN). The peers send
// pre-encoded requests and do not decode answers; iaas bench decodes every answer and records its latency.
// Ratio = iaas bench throughput / peer request rate; target >= 0.9 (issue 4). Rounds alternate the two.
//   node bench/bench-rate-vs-peers.mjs [--duration 4] [--concurrency 64] [--rounds 2] [--workers 1,2] [--protocol http,grpc]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Tensor } from "@iaas/client";
import {
  benchDir, binaryInferBody, machine, modelInferFrame, round, runH2loadModelInfer, runWrkPost, startReferenceServer, stop, writeResult,
} from "./lib/harness.mjs";

const { values: opt } = parseArgs({
  options: {
    duration: { type: "string", default: "4" },
    concurrency: { type: "string", default: "64" },
    rounds: { type: "string", default: "2" },
    workers: { type: "string", default: "1,2" },
    protocol: { type: "string", default: "http,grpc" },
    "no-write": { type: "boolean", default: false },
  },
});
const durationS = Number(opt.duration);
const concurrency = Number(opt.concurrency);
const rounds = Number(opt.rounds);
const workerCounts = opt.workers.split(",").map(Number);
const protocols = opt.protocol.split(",");
const MODEL = "identity_fp32";
const input = new Tensor("INPUT0", "FP32", [16], Float32Array.from({ length: 16 }, (_, i) => i));
const IAAS = join(benchDir, "../packages/cli/dist/bin/iaas.js");

function wrk(url, work, headerLength) {
  const r = runWrkPost({ url, bodyFile: join(work, "request.bin"), headerLength, connections: concurrency, durationS, workDir: work });
  return { rps: Math.round(r.requests / r.wallS), connections: concurrency };
}

function h2load(grpcUrl, work, connections) {
  const r = runH2loadModelInfer({ target: grpcUrl, frameFile: join(work, "frame.bin"), connections, streams: Math.ceil(concurrency / connections), durationS });
  return { rps: Math.round(r.requests / r.wallS), connections };
}

function iaasBench(url, protocol, workers, work) {
  const out = join(work, "bench.json");
  const windowMs = Math.round((durationS * 1000) / 3);
  const r = spawnSync(process.execPath, [IAAS, "bench", "-u", url, "-i", protocol, "-m", MODEL, "--shape", "INPUT0:16", "-c", String(concurrency),
    "--workers", String(workers), "--warmup-ms", "500", "-p", String(windowMs), "--max-trials", "3", "--stability-percentage", "1000", "--no-server-stats", "--json", out],
    { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`iaas bench failed (${r.status}): ${r.stderr}`);
  const level = JSON.parse(readFileSync(out, "utf8")).levels[0];
  if (level.errorCount > 0) throw new Error(`iaas bench: ${level.errorCount} errors: ${JSON.stringify(level.errorMessages)}`);
  return { rps: Math.round(level.throughput), p99Us: level.latencyUs.p99, clientUtilization: level.clientUtilization, workerUtilization: level.workerUtilization, clientCpu: level.clientCpu };
}

const work = mkdtempSync(join(tmpdir(), "iaas-bench-rate-"));
const { header, body } = binaryInferBody([input]);
writeFileSync(join(work, "request.bin"), body);
writeFileSync(
  join(work, "frame.bin"),
  await modelInferFrame({ model_name: MODEL, inputs: [{ name: input.name, datatype: input.datatype, shape: input.shape }], raw_input_contents: [input.toRaw()] }),
);
const server = await startReferenceServer();
const results = {};
try {
  const { httpUrl, grpcUrl } = server.info;
  for (const protocol of protocols) {
    for (const workers of workerCounts) {
      const connections = protocol === "grpc" ? workers : concurrency;
      const peer = () => (protocol === "grpc" ? h2load(grpcUrl, work, connections) : wrk(`${httpUrl}/v2/models/${MODEL}/infer`, work, Buffer.byteLength(header)));
      const mine = () => iaasBench(protocol === "grpc" ? grpcUrl : httpUrl, protocol, workers, work);
      peer();
      const iaasRuns = [];
      const peerRuns = [];
      for (let i = 0; i < rounds; i++) {
        iaasRuns.push(mine());
        peerRuns.push(peer());
      }
      const best = (runs) => runs.reduce((a, b) => (b.rps > a.rps ? b : a));
      const a = best(iaasRuns);
      const p = best(peerRuns);
      const key = `${protocol}, workers ${workers}`;
      results[key] = { connections, iaas: iaasRuns, peer: { tool: protocol === "grpc" ? "h2load" : "wrk", runs: peerRuns }, ratio: round(a.rps / p.rps) };
      console.log(`${MODEL} over ${protocol}, concurrency ${concurrency}, ${connections} connection(s), --workers ${workers} (best of ${rounds}):`);
      console.log(`  iaas bench  ${a.rps} infer/s (p99 ${a.p99Us} us, load thread ELU ${a.clientUtilization})`);
      console.log(`  ${(protocol === "grpc" ? "h2load" : "wrk").padEnd(10)}  ${p.rps} req/s`);
      console.log(`  ratio       ${results[key].ratio} (target >= 0.9)`);
    }
  }
} finally {
  await stop(server.child);
  rmSync(work, { recursive: true, force: true });
}
const result = {
  benchmark: "bench-rate-vs-peers",
  date: new Date().toISOString(),
  machine: machine(),
  load: { model: MODEL, tensor: "FP32 [16]", concurrency, durationS, rounds, server: "reference server, own process" },
  results,
  target: "iaas bench throughput >= 0.9 x the peer's request rate",
};
if (!opt["no-write"]) console.log(`written to ${writeResult("bench-rate-vs-peers", result)}`);
