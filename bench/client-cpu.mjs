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
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createClient, Tensor } from "@iaas/client";
import { PROTO_DIR } from "@iaas/client/protocol";
import { machine, runTimed, startReferenceServer, stop, writeResult } from "./lib/harness.mjs";

const { values: opt } = parseArgs({
  options: {
    // gRPC client implementation ("http2" or "grpc-js"; default: the client's default) and a suffix for
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
const grpcImpl = (protocol) => (protocol === "grpc" && opt["grpc-implementation"] ? { grpc: { implementation: opt["grpc-implementation"] } } : {});
const durationS = Number(opt.duration);
const concurrency = Number(opt.concurrency);
const rounds = Number(opt.rounds);
const protocols = opt.protocol.split(",");

const input0 = new Tensor("INPUT0", "INT32", [1, 16], Int32Array.from({ length: 16 }, (_, i) => i));
const input1 = new Tensor("INPUT1", "INT32", [1, 16], new Int32Array(16).fill(1));

/** The HTTP body @iaas/client sends for this request (binary inputs, binary_data_output). */
function httpBody() {
  const header = JSON.stringify({
    inputs: [input0, input1].map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, parameters: { binary_data_size: t.byteSize } })),
    parameters: { binary_data_output: true },
  });
  return { header, body: Buffer.concat([Buffer.from(header), Buffer.from(input0.toRaw()), Buffer.from(input1.toRaw())]) };
}

/** The gRPC frame (flag byte, 4-byte big-endian length, message) of the same ModelInferRequest. */
function grpcFrame() {
  const def = protoLoader.loadSync("grpc_service.proto", { keepCase: true, longs: String, enums: String, includeDirs: [PROTO_DIR] });
  const service = grpc.loadPackageDefinition(def).inference.GRPCInferenceService.service;
  const message = service.ModelInfer.requestSerialize({
    model_name: "simple",
    model_version: "",
    id: "",
    inputs: [input0, input1].map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
    raw_input_contents: [input0.toRaw(), input1.toRaw()],
  });
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

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

function runWrk(url, work, header) {
  const lua = join(work, "post.lua");
  writeFileSync(
    lua,
    `local f = io.open("${join(work, "request.bin")}", "rb")\nwrk.method = "POST"\nwrk.body = f:read("*a")\nf:close()\n` +
      `wrk.headers["Content-Type"] = "application/octet-stream"\nwrk.headers["Inference-Header-Content-Length"] = "${Buffer.byteLength(header)}"\n`,
  );
  const r = runTimed("wrk", ["-t1", `-c${concurrency}`, `-d${durationS}s`, "-s", lua, url]);
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1]);
  const wallS = Number(/requests in ([\d.]+)s/.exec(r.stdout)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
  if (non2xx > 0) throw new Error(`wrk: ${non2xx} non-2xx answers`);
  return { requests, wallS, rps: Math.round(requests / wallS), userS: r.userS, systemS: r.systemS, cpuUsPerRequest: round(((r.userS + r.systemS) / requests) * 1e6, 2) };
}

function runH2load(grpcUrl, work) {
  const r = runTimed("h2load", [
    "-c1",
    `-m${concurrency}`,
    "-D",
    String(durationS),
    "-d",
    join(work, "frame.bin"),
    "-H",
    "content-type: application/grpc",
    "-H",
    "te: trailers",
    `http://${grpcUrl}/inference.GRPCInferenceService/ModelInfer`,
  ]);
  const succeeded = Number(/requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded/.exec(r.stdout)?.[1]);
  const wallS = Number(/finished in ([\d.]+)s/.exec(r.stdout)?.[1]);
  return { requests: succeeded, wallS, rps: Math.round(succeeded / wallS), userS: r.userS, systemS: r.systemS, cpuUsPerRequest: round(((r.userS + r.systemS) / succeeded) * 1e6, 2) };
}

const round = (x, d = 3) => Number(x.toFixed(d));

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
const { header, body } = httpBody();
writeFileSync(join(work, "request.bin"), body);
writeFileSync(join(work, "frame.bin"), grpcFrame());
const server = await startReferenceServer();
const results = {};
try {
  const { httpUrl, grpcUrl } = server.info;
  for (const protocol of protocols) {
    const url = protocol === "grpc" ? grpcUrl : httpUrl;
    const client = createClient({ url, protocol, connections: concurrency, ...grpcImpl(protocol) });
    const peerName = protocol === "grpc" ? "h2load" : "wrk";
    const runPeer = () => (protocol === "grpc" ? runH2load(grpcUrl, work) : runWrk(`${httpUrl}/v2/models/simple/infer`, work, header));
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
