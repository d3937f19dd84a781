// Benchmark: client CPU time per request. @iaas/client runs `simple` (two INT32 [1,16] inputs) at a fixed
// concurrency against the reference server (its own process), and its CPU is read with
// process.cpuUsage(). Peers send the same request pre-encoded against the same server: wrk (HTTP/1.1,
// a Lua script posting the binary-extension body) and h2load (HTTP/2, the length-prefixed gRPC frame of
// the ModelInferRequest, one connection with that many streams, as grpc-js uses). Their CPU comes from
// /usr/bin/time. Ratio = client CPU per request / peer CPU per request; target <= 2 (issue: client speed).
//   node bench/client-cpu.mjs [--duration 5] [--concurrency 64] [--rounds 2] [--protocol http,grpc]
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createClient, Tensor } from "@iaas/client";
import {
  binaryInferBody, grpcImplementationOption, machine, modelInferFrame, round, runH2loadModelInfer, runWrkPost, startReferenceServer, stop, writeResult,
} from "./lib/harness.mjs";

const { values: opt } = parseArgs({
  options: {
    // gRPC client implementation ("http2", "iaas-h2" or "grpc-js"; default: the client's default) and a suffix for
    // the result file name, so runs of one day do not overwrite each other.
    "grpc-implementation": { type: "string" },
    run: { type: "string" },
    duration: { type: "string", default: "5" },
    concurrency: { type: "string", default: "64" },
    rounds: { type: "string", default: "2" },
    protocol: { type: "string", default: "http,grpc" },
    "no-write": { type: "boolean", default: false },
  },
});
const grpcImpl = (protocol) => grpcImplementationOption(protocol, opt["grpc-implementation"]);
const durationS = Number(opt.duration);
const concurrency = Number(opt.concurrency);
const rounds = Number(opt.rounds);
const protocols = opt.protocol.split(",");

const input0 = new Tensor("INPUT0", "INT32", [1, 16], Int32Array.from({ length: 16 }, (_, i) => i));
const input1 = new Tensor("INPUT1", "INT32", [1, 16], new Int32Array(16).fill(1));

/** Closed loop: `concurrency` callers, each awaiting its previous answer, for `seconds`. */
async function clientLoop(client, seconds) {
  let done = 0;
  let failed = 0;
  const until = performance.now() + seconds * 1000;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        try {
          const r = await client.infer("simple", [input0, input1]);
          if ((r.outputs[0].data)[0] !== 1) throw new Error("wrong answer");
          done++;
        } catch (e) {
          failed++;
          if (failed === 1) console.error(`client error: ${e.message}`);
        }
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = (cpu.user + cpu.system) / 1e6;
  return { requests: done, failed, wallS: round(wallS), rps: Math.round(done / wallS), userS: round(cpu.user / 1e6), systemS: round(cpu.system / 1e6), cpuUsPerRequest: round((cpuS / done) * 1e6, 2) };
}

/** CPU per request of a peer run (requests, wall seconds, user and system CPU seconds). */
function peerRun({ requests, wallS, userS, systemS }) {
  return { requests, wallS, rps: Math.round(requests / wallS), userS, systemS, cpuUsPerRequest: round(((userS + systemS) / requests) * 1e6, 2) };
}

function runWrk(url, work, headerLength) {
  return peerRun(runWrkPost({ url, bodyFile: join(work, "request.bin"), headerLength, connections: concurrency, durationS, workDir: work }));
}

// One connection with `concurrency` streams, as the client's gRPC transport uses.
function runH2load(grpcUrl, work) {
  return peerRun(runH2loadModelInfer({ target: grpcUrl, frameFile: join(work, "frame.bin"), connections: 1, streams: concurrency, durationS }));
}

async function inferenceCount(url, protocol) {
  const c = createClient({ url, protocol });
  try {
    const [s] = await c.modelStatistics("simple");
    return Number(s.inference_stats.success.count);
  } finally {
    await c.close();
  }
}

const work = mkdtempSync(join(tmpdir(), "iaas-client-cpu-"));
const { header, body } = binaryInferBody([input0, input1]);
writeFileSync(join(work, "request.bin"), body);
writeFileSync(
  join(work, "frame.bin"),
  await modelInferFrame({
    model_name: "simple",
    model_version: "",
    id: "",
    inputs: [input0, input1].map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
    raw_input_contents: [input0.toRaw(), input1.toRaw()],
  }),
);
const server = await startReferenceServer();
const results = {};
try {
  const { httpUrl, grpcUrl } = server.info;
  for (const protocol of protocols) {
    const url = protocol === "grpc" ? grpcUrl : httpUrl;
    const client = createClient({ url, protocol, connections: concurrency, ...grpcImpl(protocol) });
    const peerName = protocol === "grpc" ? "h2load" : "wrk";
    const runPeer = () => (protocol === "grpc" ? runH2load(grpcUrl, work) : runWrk(`${httpUrl}/v2/models/simple/infer`, work, Buffer.byteLength(header)));
    // Warm both (JIT, connections), then alternate so drift on a shared machine hits both sides.
    await clientLoop(client, 1);
    const before = await inferenceCount(httpUrl, "http");
    const peerWarm = runPeer();
    const after = await inferenceCount(httpUrl, "http");
    // h2load counts HTTP 200 as success; a gRPC error would come in the trailers: check the server's count.
    if (after - before < peerWarm.requests) throw new Error(`${peerName}: server counted ${after - before} successes for ${peerWarm.requests} requests`);
    const clientRuns = [];
    const peerRuns = [];
    for (let i = 0; i < rounds; i++) {
      clientRuns.push(await clientLoop(client, durationS));
      peerRuns.push(runPeer());
    }
    await client.close();
    const best = (runs) => runs.reduce((a, b) => (b.cpuUsPerRequest < a.cpuUsPerRequest ? b : a));
    const c = best(clientRuns);
    const p = best(peerRuns);
    results[protocol] = { client: clientRuns, peer: { tool: peerName, runs: peerRuns }, ratio: round(c.cpuUsPerRequest / p.cpuUsPerRequest) };
    console.log(`simple over ${protocol}, concurrency ${concurrency}, ${durationS} s runs (best of ${rounds}):`);
    console.log(`  @iaas/client  ${c.cpuUsPerRequest} us CPU/request (${c.rps} req/s)`);
    console.log(`  ${peerName.padEnd(12)}  ${p.cpuUsPerRequest} us CPU/request (${p.rps} req/s)`);
    console.log(`  ratio         ${results[protocol].ratio} (target <= 2)`);
  }
} finally {
  await stop(server.child);
  rmSync(work, { recursive: true, force: true });
}
const result = {
  benchmark: "client-cpu",
  date: new Date().toISOString(),
  machine: machine(),
  load: { model: "simple", concurrency, durationS, rounds, server: "reference server, own process" },
  results,
  target: "client CPU per request <= 2x the peer's",
};
if (!opt["no-write"]) console.log(`written to ${writeResult(opt.run ? `client-cpu-${opt.run}` : "client-cpu", result)}`);
