// Diagnostic for the protocol-overhead benchmarks: CPU time per request of each server process under the
// same load the ratio benchmarks use (wrk -t1 -c64 HTTP, h2load -c1 -m64 gRPC, identity_fp32, 16 FP32),
// split into the JS main thread and the whole process (main thread + instance threads + libuv pool).
// CPU per request is far less disturbed by other work on a shared machine than request rates, so it is
// how changes to the server's per-request cost are judged. Read from /proc/<pid>/task/<pid>/stat and
// /proc/<pid>/stat (Linux only) before and after each run; servers run alternately, --rounds times.
//   node bench/server-cpu.mjs [--protocol http,grpc] [--duration 3] [--rounds 2] [--servers iaas,bare]
//     [--serve-arg ARG ...] (passed on to `iaas serve`, e.g. --serve-arg=--model-repository=DIR)
//     [--elements 16] [--node-arg ARG ...] (node/V8 flags for the `iaas serve` process, e.g. --node-arg=--max-semi-space-size=16)
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { benchDir, modelInferFrame, runH2loadModelInfer, runWrkPost, startNode, stop } from "./lib/harness.mjs";

const { values: opt } = parseArgs({
  options: {
    protocol: { type: "string", default: "http,grpc" },
    duration: { type: "string", default: "3" },
    rounds: { type: "string", default: "2" },
    servers: { type: "string", default: "iaas,bare" },
    "serve-arg": { type: "string", multiple: true, default: [] },
    "node-arg": { type: "string", multiple: true, default: [] },
    // FP32 elements per request (default 16, as the ratio benchmarks; 16384 is a 64 KiB tensor).
    elements: { type: "string", default: "16" },
  },
});
const durationS = Number(opt.duration);
const protocols = opt.protocol.split(",");
const servers = opt.servers.split(",");
const TICKS_PER_S = 100; // USER_HZ on Linux

/** utime + stime in seconds from a /proc stat line (fields 14 and 15; comm may hold spaces). */
function statCpuS(file) {
  const text = readFileSync(file, "utf8");
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}
const cpuOf = (pid) => ({ main: statCpuS(`/proc/${pid}/task/${pid}/stat`), all: statCpuS(`/proc/${pid}/stat`) });

const work = mkdtempSync(join(tmpdir(), "iaas-server-cpu-"));
const elements = Number(opt.elements);
if (!Number.isInteger(elements) || elements < 1) throw new RangeError(`--elements must be a positive integer, got ${opt.elements}`);
const data = Buffer.from(new Float32Array(elements).map((_, i) => i * 0.5).buffer);
// The protocol-overhead-http request: binary input, binary output requested per output.
const header = JSON.stringify({
  inputs: [{ name: "INPUT0", datatype: "FP32", shape: [elements], parameters: { binary_data_size: elements * 4 } }],
  outputs: [{ name: "OUTPUT0", parameters: { binary_data: true } }],
});
const bodyFile = join(work, "request.bin");
writeFileSync(bodyFile, Buffer.concat([Buffer.from(header), data]));
const frameFile = join(work, "frame.bin");
const grpcRequest = { model_name: "identity_fp32", inputs: [{ name: "INPUT0", datatype: "FP32", shape: [String(elements)] }], raw_input_contents: [data] };
writeFileSync(frameFile, await modelInferFrame(grpcRequest));

const started = [];
try {
  const iaas = await startNode([join(benchDir, "../packages/cli/dist/bin/iaas.js"), "serve", "--http-port", "0", "--grpc-port", "0", ...opt["serve-arg"]], { execArgv: opt["node-arg"] });
  started.push(iaas.child);
  const httpUrl = iaas.info.httpUrl;
  const grpcTarget = iaas.info.grpcUrl.replace(/^[a-z]+:\/\//, "");
  const targets = { iaas: { pid: iaas.child.pid, http: httpUrl, grpc: grpcTarget } };
  if (servers.includes("bare")) {
    // The peers replay the reference server's own answers, as in the ratio benchmarks.
    const res = await fetch(`${httpUrl}/v2/models/identity_fp32/infer`, {
      method: "POST",
      body: readFileSync(bodyFile),
      headers: { "Inference-Header-Content-Length": String(Buffer.byteLength(header)) },
    });
    const headers = {};
    for (const [k, v] of res.headers) if (!["date", "connection", "keep-alive", "content-length"].includes(k)) headers[k] = v;
    writeFileSync(join(work, "reply.json"), JSON.stringify({ status: res.status, headers, bodyBase64: Buffer.from(await res.arrayBuffer()).toString("base64") }));
    const bareHttp = await startNode([join(benchDir, "peers/bare-http-server.mjs"), join(work, "reply.json")]);
    started.push(bareHttp.child);
    const grpc = await import("@grpc/grpc-js");
    const reply = await new Promise((resolve, reject) => {
      const client = new grpc.Client(grpcTarget, grpc.credentials.createInsecure());
      client.makeUnaryRequest("/inference.GRPCInferenceService/ModelInfer", (b) => b, (b) => b, readFileSync(frameFile).subarray(5), (err, r) => {
        client.close();
        if (err) reject(err);
        else resolve(r);
      });
    });
    writeFileSync(join(work, "reply.bin"), reply);
    const bareGrpc = await startNode([join(benchDir, "peers/bare-grpc-server.mjs"), join(work, "reply.bin")]);
    started.push(bareGrpc.child);
    targets.bareHttp = { pid: bareHttp.child.pid, http: `http://127.0.0.1:${bareHttp.info.port}` };
    targets.bareGrpc = { pid: bareGrpc.child.pid, grpc: `127.0.0.1:${bareGrpc.info.port}` };
  }

  const runOne = (protocol, name, target, seconds) => {
    const before = cpuOf(target.pid);
    const r =
      protocol === "http"
        ? runWrkPost({ url: `${target.http}/v2/models/identity_fp32/infer`, bodyFile, headerLength: Buffer.byteLength(header), connections: 64, durationS: seconds, workDir: work })
        : runH2loadModelInfer({ target: target.grpc, frameFile, connections: 1, streams: 64, durationS: seconds });
    const after = cpuOf(target.pid);
    const us = (s) => Number(((s * 1e6) / r.requests).toFixed(1));
    return { protocol, server: name, rps: Math.round(r.requests / r.wallS), mainUsPerRequest: us(after.main - before.main), processUsPerRequest: us(after.all - before.all) };
  };
  const plan = [];
  for (const protocol of protocols) {
    if (servers.includes("iaas")) plan.push([protocol, "iaas", targets.iaas]);
    if (servers.includes("bare")) plan.push([protocol, `bare ${protocol}`, protocol === "http" ? targets.bareHttp : targets.bareGrpc]);
  }
  for (const [protocol, name, target] of plan) runOne(protocol, name, target, 1); // warm-up
  for (let round = 0; round < Number(opt.rounds); round++) {
    for (const [protocol, name, target] of plan) console.log(JSON.stringify(runOne(protocol, name, target, durationS)));
  }
} finally {
  for (const child of started) await stop(child);
  rmSync(work, { recursive: true, force: true });
}
