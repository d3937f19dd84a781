// Benchmark: one 64 MiB FP32 tensor through identity_fp32 (reference server in its own process), over HTTP
// (binary tensor extension) and gRPC (raw contents). For each call: wall time and the client's CPU time
// (encode + send + receive + decode; process.cpuUsage, user and system apart) relative to one plain copy
// of 64 MiB into fresh memory (Buffer.from). The copies each path makes are counted from the code (see
// COPIES below and bench/README.md). Target: at most ~2 extra copies beyond sending and receiving.
//   node --expose-gc bench/large-tensor.mjs [--mib 64] [--calls 5] [--protocol http,grpc]
import { parseArgs } from "node:util";
import { createClient, Tensor } from "@iaas/client";
import { grpcImplementationOption, machine, round, startReferenceServer, stop, writeResult } from "./lib/harness.mjs";

const { values: opt } = parseArgs({
  options: {
    // gRPC client implementation ("http2", "iaas-h2" or "grpc-js"; default: the client's default) and a suffix for
    // the result file name, so runs of one day do not overwrite each other.
    "grpc-implementation": { type: "string" },
    run: { type: "string" },
    mib: { type: "string", default: "64" },
    calls: { type: "string", default: "5" },
    protocol: { type: "string", default: "http,grpc" },
    "no-write": { type: "boolean", default: false },
  },
});
const grpcImpl = (protocol) => grpcImplementationOption(protocol, opt["grpc-implementation"]);
if (typeof globalThis.gc !== "function") {
  console.error("large-tensor: run with node --expose-gc");
  process.exit(1);
}
const bytes = Number(opt.mib) * 2 ** 20;
const calls = Number(opt.calls);

const data = new Float32Array(bytes / 4);
for (let i = 0; i < data.length; i++) data[i] = i % 1000;
const input = new Tensor("INPUT0", "FP32", [data.length], data);

/** Best time of a plain copy into fresh memory (what any decode into a new buffer at least costs). */
function copyBaseline() {
  const src = Buffer.from(data.buffer);
  let freshMs = Infinity;
  let warmMs = Infinity;
  const dst = Buffer.allocUnsafe(src.length);
  for (let i = 0; i < 5; i++) {
    gc();
    let t = performance.now();
    const copy = Buffer.from(src);
    freshMs = Math.min(freshMs, performance.now() - t);
    if (copy[1] !== src[1]) throw new Error("copy differs");
    t = performance.now();
    dst.set(src);
    warmMs = Math.min(warmMs, performance.now() - t);
  }
  return { freshMs: round(freshMs), warmMs: round(warmMs) };
}

/** Copies of the tensor bytes in the client's own code, by reading it (kernel socket copies not counted). */
const COPIES = {
  http: {
    send: 0,
    receive: 1,
    detail: "send: the tensor's bytes are written as their own chunk after the JSON header (no copy); receive: socket chunks are copied once into one body buffer sized from Content-Length and placed so the binary section is 8-byte aligned; OUTPUT0 is a Float32Array view of it",
  },
  grpc: opt["grpc-implementation"] === "grpc-js" ? {
    send: 2,
    receive: "1 or 2",
    detail: "send: the hand-written ModelInferRequest codec copies raw_input_contents once into the message, grpc-js copies the message once more to prepend the 5-byte frame header; receive: grpc-js joins the DATA frames into one message buffer (1), raw_output_contents is a view of it, and Tensor.fromRaw copies it once more when its offset in the message is not 4-byte aligned for FP32",
  } : {
    send: 0,
    // The own connection reads a large answer's DATA straight into the message buffer (plaintext, as here).
    receive: opt["grpc-implementation"] === undefined || opt["grpc-implementation"] === "iaas-h2" ? 0 : 1,
    detail: opt["grpc-implementation"] === undefined || opt["grpc-implementation"] === "iaas-h2"
      ? "own HTTP/2 connection (grpc.implementation iaas-h2, the default): send: the 5-byte prefix, the small ModelInferRequest fields and each large raw_input_contents entry go out as views in DATA frames cut to the server's frame size and flow-control windows (the tensor is never copied); receive: the first read's DATA piece is copied into one message buffer sized from the length prefix and placed so that raw_output_contents starts 8-byte aligned, the rest of every DATA frame is read by the socket straight into that buffer (no copy in client code); OUTPUT0 is a Float32Array view of it"
      : "node:http2 path (grpc.implementation http2): send: the 5-byte prefix, the small ModelInferRequest fields and each large raw_input_contents entry are written as separate chunks (the tensor is never copied); receive: DATA frames are copied once into one message buffer sized from the length prefix and placed so that raw_output_contents starts 8-byte aligned; OUTPUT0 is a Float32Array view of it",
  },
};

async function measure(client) {
  gc();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await client.infer("identity_fp32", [input]);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const out = result.output("OUTPUT0").data;
  for (const i of [0, 1, 12345, out.length - 1]) if (out[i] !== data[i]) throw new Error(`output differs at ${i}`);
  if (out.length !== data.length) throw new Error("output length differs");
  return {
    wallMs: round(wallMs),
    cpuMs: round((cpu.user + cpu.system) / 1000),
    userMs: round(cpu.user / 1000),
    systemMs: round(cpu.system / 1000),
  };
}

const baseline = copyBaseline();
console.log(`${opt.mib} MiB copy: ${baseline.freshMs} ms into fresh memory, ${baseline.warmMs} ms into reused memory`);
const server = await startReferenceServer(bytes * 2 + 2 ** 20);
const results = {};
try {
  for (const protocol of opt.protocol.split(",")) {
    const client = createClient({ url: protocol === "grpc" ? server.info.grpcUrl : server.info.httpUrl, protocol, timeoutMs: 60_000, ...grpcImpl(protocol) });
    await measure(client); // warm-up: connection, JIT
    const runs = [];
    for (let i = 0; i < calls; i++) runs.push(await measure(client));
    await client.close();
    const best = runs.reduce((a, b) => (b.cpuMs < a.cpuMs ? b : a));
    const median = (k) => [...runs].map((r) => r[k]).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
    results[protocol] = {
      runs,
      medianWallMs: median("wallMs"),
      medianCpuMs: median("cpuMs"),
      medianUserMs: median("userMs"),
      medianSystemMs: median("systemMs"),
      cpuInCopies: round(median("cpuMs") / baseline.freshMs, 2),
      userCpuInCopies: round(median("userMs") / baseline.freshMs, 2),
      wallInCopies: round(median("wallMs") / baseline.freshMs, 2),
      copiesInClientCode: COPIES[protocol],
    };
    const r = results[protocol];
    console.log(`${protocol}: median wall ${r.medianWallMs} ms, client CPU ${r.medianCpuMs} ms (user ${r.medianUserMs}, system ${r.medianSystemMs})`);
    console.log(`  client CPU = ${r.cpuInCopies} copies (user ${r.userCpuInCopies}), wall = ${r.wallInCopies} copies; ` +
      `copies in client code: send ${COPIES[protocol].send}, receive ${COPIES[protocol].receive}`);
  }
} finally {
  await stop(server.child);
}
const result = {
  benchmark: "large-tensor",
  date: new Date().toISOString(),
  machine: machine(),
  load: { model: "identity_fp32", tensorBytes: bytes, calls, server: "reference server, own process (its time is in wall, not in client CPU)" },
  copyBaseline: baseline,
  results,
  target: "client CPU for encode + send + receive + decode <= ~2 extra copies of the tensor beyond send and receive",
};
if (!opt["no-write"]) console.log(`written to ${writeResult(opt.run ? `large-tensor-${opt.run}` : "large-tensor", result)}`);
