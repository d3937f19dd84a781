// Benchmark: gRPC protocol overhead of the reference server.
// h2load sends the same ModelInferRequest frame for identity_fp32 (16 FP32 as raw_input_contents) to
// (a) `iaas serve` and (b) a bare grpc-js server (peers/bare-grpc-server.mjs) that answers with the
// identical ModelInferResponse bytes without decoding anything. The ratio reference/bare is the share of a
// bare grpc-js server's request rate that the full KServe v2 path (protobuf decode, validate, schedule,
// native execution on the instance thread, encode) keeps. Target (issue 5): >= 0.70.
// Each server runs in its own process; h2load uses one connection with --streams concurrent streams
// (grpc-js clients multiplex one connection), best of --rounds alternating runs.
//   node bench/protocol-overhead-grpc.mjs [--duration 5] [--streams 64] [--elements 16] [--rounds 2]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { PROTO_DIR } from "@iaas/client/protocol";
import { benchDir, grpcFrame, machine, startNode, stop, writeResult } from "./lib/harness.mjs";

const { values: opt } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    streams: { type: "string", default: "64" },
    elements: { type: "string", default: "16" },
    rounds: { type: "string", default: "2" },
    "no-write": { type: "boolean", default: false },
  },
});
const elements = Number(opt.elements);

if (spawnSync("h2load", ["--version"]).error) {
  console.error("protocol-overhead-grpc: h2load not found (apt-get install nghttp2-client)");
  process.exit(1);
}

const def = protoLoader.loadSync("grpc_service.proto", { keepCase: true, longs: String, enums: String, defaults: true, includeDirs: [PROTO_DIR] });
const service = grpc.loadPackageDefinition(def).inference.GRPCInferenceService.service;
const data = Buffer.from(new Float32Array(elements).map((_, i) => i * 0.5).buffer);
const request = { model_name: "identity_fp32", inputs: [{ name: "INPUT0", datatype: "FP32", shape: [String(elements)] }], raw_input_contents: [data] };
const message = service.ModelInfer.requestSerialize(request);
const frame = grpcFrame(message);

/** h2load against `target` (host:port); returns requests/s of calls that ended with grpc-status 0. */
function runH2load(target, work) {
  const r = spawnSync(
    "h2load",
    ["-c1", `-m${opt.streams}`, "-D", opt.duration, "-d", join(work, "frame.bin"), "-H", "content-type: application/grpc", "-H", "te: trailers",
      `http://${target}/inference.GRPCInferenceService/ModelInfer`],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`h2load failed: ${r.stderr}${r.stdout}`);
  const succeeded = Number(/requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded/.exec(r.stdout)?.[1]);
  const wallS = Number(/finished in ([\d.]+)s/.exec(r.stdout)?.[1]);
  const latency = /time for request:\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+\w+)/.exec(r.stdout)?.[1];
  return { requests: succeeded, rps: Math.round(succeeded / wallS), latencyMean: latency };
}

/** Success count of identity_fp32 on the reference server (h2load counts HTTP 200; gRPC errors come in trailers). */
function successCount(grpcUrl) {
  const client = new (grpc.loadPackageDefinition(def).inference.GRPCInferenceService)(grpcUrl, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) =>
    client.ModelStatistics({ name: "identity_fp32" }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(Number(res.model_stats[0].inference_stats.success.count));
    }),
  );
}

const work = mkdtempSync(join(tmpdir(), "iaas-bench-grpc-"));
writeFileSync(join(work, "frame.bin"), frame);
const ref = await startNode([join(benchDir, "../packages/cli/dist/bin/iaas.js"), "serve", "--http-port", "0", "--grpc-port", "0"]);
let bare;
try {
  const grpcUrl = ref.info.grpcUrl;
  // One call by hand: the bare peer replays exactly these response bytes.
  const replyBytes = await new Promise((resolve, reject) => {
    const client = new grpc.Client(grpcUrl, grpc.credentials.createInsecure());
    client.makeUnaryRequest("/inference.GRPCInferenceService/ModelInfer", (b) => b, (b) => b, message, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res);
    });
  });
  const decoded = service.ModelInfer.responseDeserialize(replyBytes);
  if (!Buffer.from(decoded.raw_output_contents[0]).equals(data)) throw new Error("reference server: OUTPUT0 differs from INPUT0");
  writeFileSync(join(work, "reply.bin"), replyBytes);
  bare = await startNode([join(benchDir, "peers/bare-grpc-server.mjs"), join(work, "reply.bin")]);
  const bareTarget = `127.0.0.1:${bare.info.port}`;

  // Warm both, then alternate so drift on a shared machine hits both sides.
  const before = await successCount(grpcUrl);
  const warm = runH2load(grpcUrl, work);
  const after = await successCount(grpcUrl);
  if (after - before < warm.requests) throw new Error(`reference server counted ${after - before} successes for ${warm.requests} h2load requests`);
  runH2load(bareTarget, work);
  const refRuns = [];
  const bareRuns = [];
  for (let i = 0; i < Number(opt.rounds); i++) {
    refRuns.push(runH2load(grpcUrl, work));
    bareRuns.push(runH2load(bareTarget, work));
  }
  const best = (runs) => runs.reduce((a, b) => (b.rps > a.rps ? b : a));
  const refBest = best(refRuns);
  const bareBest = best(bareRuns);
  const ratio = refBest.rps / bareBest.rps;
  const result = {
    benchmark: "protocol-overhead-grpc",
    date: new Date().toISOString(),
    machine: { ...machine(), gpu: "none" },
    load: { tool: "h2load 1 connection", streams: Number(opt.streams), durationS: Number(opt.duration), model: "identity_fp32", elements },
    reference: refRuns,
    bareGrpcJs: bareRuns,
    ratio: Number(ratio.toFixed(3)),
    target: 0.7,
  };
  console.log(`identity_fp32 over gRPC (raw_input_contents, ${elements} FP32), h2load -c1 -m${opt.streams} -D ${opt.duration}`);
  console.log(`  iaas serve       ${refBest.rps} req/s (mean ${refBest.latencyMean})`);
  console.log(`  bare grpc-js     ${bareBest.rps} req/s (mean ${bareBest.latencyMean})`);
  console.log(`  ratio            ${ratio.toFixed(3)} (target >= 0.70)`);
  if (!opt["no-write"]) console.log(`  written to ${writeResult("protocol-overhead-grpc", result)}`);
} finally {
  if (bare) await stop(bare.child);
  await stop(ref.child);
  rmSync(work, { recursive: true, force: true });
}
