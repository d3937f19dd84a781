// Benchmark: HTTP protocol overhead of the reference server.
// wrk sends the same binary-extension infer request for identity_fp32 to (a) `iaas serve` and (b) a bare
// node:http server that returns the identical response bytes without parsing anything. The ratio
// reference/bare is the share of a bare Node HTTP server's request rate that the full KServe v2 path
// (parse, validate, schedule, native execution on the instance thread, encode) keeps.
// Target (issue 5): >= 0.70. Each server runs in its own process; wrk uses 1 thread, 64 connections.
//   node bench/protocol-overhead-http.mjs [--duration 5] [--connections 64] [--elements 16]
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { writeResult } from "./lib/harness.mjs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const { values: opt } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    connections: { type: "string", default: "64" },
    elements: { type: "string", default: "16" },
  },
});

if (spawnSync("wrk", ["--version"]).error) {
  console.error("protocol-overhead-http: wrk not found (apt-get install wrk)");
  process.exit(1);
}

/** Spawns a node script and resolves with its first stdout JSON line and the child. */
function startProcess(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d) => {
      out += d;
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve({ child, info: JSON.parse(out.slice(0, nl)) });
    });
    child.on("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code} before listening`)));
  });
}

function stop(child) {
  return new Promise((resolve) => {
    child.removeAllListeners("exit");
    child.once("exit", resolve);
    child.kill("SIGTERM");
  });
}

/** Runs wrk with a Lua script that POSTs `body`; returns requests/s and non-2xx count. */
function runWrk(url, bodyFile, headerLength) {
  const lua = join(work, "post.lua");
  writeFileSync(
    lua,
    `local f = io.open("${bodyFile}", "rb")\nwrk.method = "POST"\nwrk.body = f:read("*a")\nf:close()\n` +
      `wrk.headers["Inference-Header-Content-Length"] = "${headerLength}"\n`,
  );
  const r = spawnSync("wrk", ["-t1", `-c${opt.connections}`, `-d${opt.duration}s`, "-s", lua, url], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
  const latency = /Latency\s+([\d.]+\w+)/.exec(r.stdout)?.[1];
  return { rps, non2xx, latencyAvg: latency };
}

const work = mkdtempSync(join(tmpdir(), "iaas-bench-"));
const elements = Number(opt.elements);
const header = JSON.stringify({
  inputs: [{ name: "INPUT0", datatype: "FP32", shape: [elements], parameters: { binary_data_size: elements * 4 } }],
  outputs: [{ name: "OUTPUT0", parameters: { binary_data: true } }],
});
const data = Buffer.from(new Float32Array(elements).map((_, i) => i * 0.5).buffer);
const bodyFile = join(work, "request.bin");
writeFileSync(bodyFile, Buffer.concat([Buffer.from(header), data]));
const headerLength = Buffer.byteLength(header);

const ref = await startProcess([join(root, "packages/cli/dist/bin/iaas.js"), "serve", "--http-port", "0", "--grpc-port", "0"]);
let bare;
try {
  const inferUrl = `${ref.info.httpUrl}/v2/models/identity_fp32/infer`;
  // One request by hand: the bare peer replays exactly these response bytes.
  const res = await fetch(inferUrl, {
    method: "POST",
    body: Buffer.concat([Buffer.from(header), data]),
    headers: { "Inference-Header-Content-Length": String(headerLength) },
  });
  if (res.status !== 200) throw new Error(`reference server answered ${res.status}: ${await res.text()}`);
  const replyFile = join(work, "reply.json");
  const headers = {};
  for (const [k, v] of res.headers) if (!["date", "connection", "keep-alive", "content-length"].includes(k)) headers[k] = v;
  writeFileSync(replyFile, JSON.stringify({ status: 200, headers, bodyBase64: Buffer.from(await res.arrayBuffer()).toString("base64") }));
  bare = await startProcess([join(here, "peers/bare-http-server.mjs"), replyFile]);

  // Warm both, then measure alternately so drift on a shared machine hits both sides.
  runWrk(inferUrl, bodyFile, headerLength);
  const bareUrl = `http://127.0.0.1:${bare.info.port}/v2/models/identity_fp32/infer`;
  runWrk(bareUrl, bodyFile, headerLength);
  const refRuns = [];
  const bareRuns = [];
  for (let i = 0; i < 2; i++) {
    refRuns.push(runWrk(inferUrl, bodyFile, headerLength));
    bareRuns.push(runWrk(bareUrl, bodyFile, headerLength));
  }
  const best = (runs) => runs.reduce((a, b) => (b.rps > a.rps ? b : a));
  const refBest = best(refRuns);
  const bareBest = best(bareRuns);
  if (refRuns.some((r) => r.non2xx > 0)) throw new Error(`reference server returned non-2xx responses: ${JSON.stringify(refRuns)}`);
  const ratio = refBest.rps / bareBest.rps;

  const result = {
    benchmark: "protocol-overhead-http",
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model, cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, gpu: "none" },
    load: { tool: "wrk 1 thread", connections: Number(opt.connections), durationS: Number(opt.duration), model: "identity_fp32", elements },
    reference: refRuns,
    bareNodeHttp: bareRuns,
    ratio: Number(ratio.toFixed(3)),
    target: 0.7,
  };
  console.log(`identity_fp32 over HTTP (binary, ${elements} FP32), wrk -t1 -c${opt.connections} -d${opt.duration}s`);
  console.log(`  iaas serve       ${refBest.rps.toFixed(0)} req/s (avg latency ${refBest.latencyAvg})`);
  console.log(`  bare node:http   ${bareBest.rps.toFixed(0)} req/s (avg latency ${bareBest.latencyAvg})`);
  console.log(`  ratio            ${ratio.toFixed(3)} (target >= 0.70)`);
  const out = writeResult("protocol-overhead-http", result);
  console.log(`  written to ${out}`);
} finally {
  if (bare) await stop(bare.child);
  await stop(ref.child);
  rmSync(work, { recursive: true, force: true });
}
