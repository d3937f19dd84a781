// Benchmark: client memory per request in flight. 10,000 infer calls with a fresh 1 KiB FP32 tensor each are
// started against a peer that holds every request unanswered (bench/peers/holding-server.mjs, its own
// process); once the peer holds them (gRPC: all on one connection; HTTP: the pool's connections, the
// rest queued in the client), heapUsed + external are read after a full GC and compared with the same
// number of tensors alone. The difference per request is what the client itself keeps for a call in
// flight. Then everything is released and every answer checked.
// Two ways of calling (--inputs): "drop", the original measurement, where the loop makes each tensor inline
// and keeps no reference to it (whatever of the tensor the client lets go of, it frees, so a client that
// drops the request after writing it shows less than "the tensors alone", even a negative figure); and
// "keep", where the caller holds its inputs until the answers come, as the tensors-alone baseline holds
// them: the difference is then exactly what the client itself keeps per call (like with like for both
// protocols). bench/README.md, inflight-memory.mjs, argues the change. A third way, "callback" (session 5),
// is "keep" through client.inferCallback (no promise per call) instead of client.infer.
// --signal (session 7) gives every measured call one shared AbortSignal (never aborted), as a load generator
// or an event loop that can stop all its calls at once passes; combinable with --timeout-ms.
// --timeout-ms N (session 6) gives every measured call that timeoutMs (a deadline that does not pass while the
// peer holds them), so what a call with a deadline costs is measured too; without it, calls have none, as before.
//   node --expose-gc bench/inflight-memory.mjs [--requests 10000] [--elements 256] [--protocol http,grpc] [--inputs drop,keep,callback] [--timeout-ms N] [--signal]
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { setImmediate as turn } from "node:timers/promises";
import { parseArgs } from "node:util";
import { createClient, Tensor } from "@iaas/client";
import { benchDir, grpcImplementationOption, machine, stop, writeResult } from "./lib/harness.mjs";

const { values: opt } = parseArgs({
  options: {
    // gRPC client implementation ("http2", "iaas-h2" or "grpc-js"; default: the client's default) and a suffix for
    // the result file name, so runs of one day do not overwrite each other.
    "grpc-implementation": { type: "string" },
    run: { type: "string" },
    requests: { type: "string", default: "10000" },
    elements: { type: "string", default: "256" },
    connections: { type: "string", default: "64" },
    protocol: { type: "string", default: "http,grpc" },
    inputs: { type: "string", default: "drop,keep,callback" },
    "timeout-ms": { type: "string" },
    signal: { type: "boolean", default: false },
    "no-write": { type: "boolean", default: false },
  },
});
const grpcImpl = (protocol) => grpcImplementationOption(protocol, opt["grpc-implementation"]);
if (typeof globalThis.gc !== "function") {
  console.error("inflight-memory: run with node --expose-gc");
  process.exit(1);
}
const N = Number(opt.requests);
const elements = Number(opt.elements);
const connections = Number(opt.connections);
const round = (x, d = 1) => Number(x.toFixed(d));
const timeoutMs = opt["timeout-ms"] === undefined ? undefined : Number(opt["timeout-ms"]);
if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new Error(`--timeout-ms: a positive number of milliseconds, got ${opt["timeout-ms"]}`);
// The measured calls' options (one object shared by all of them, as a load generator's calls share theirs).
const stopAll = opt.signal ? new AbortController() : undefined;
const callOptions = timeoutMs === undefined && stopAll === undefined ? undefined : { ...(timeoutMs === undefined ? {} : { timeoutMs }), ...(stopAll ? { signal: stopAll.signal } : {}) };

function startPeer(announceAt) {
  const child = spawn(process.execPath, [join(benchDir, "peers/holding-server.mjs"), String(announceAt)], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  const waiters = [];
  lines.on("line", (l) => waiters.shift()?.(JSON.parse(l)));
  const next = () => new Promise((resolve) => waiters.push(resolve));
  return { child, next, release: () => child.stdin.write("release\n") };
}

async function settle() {
  for (let i = 0; i < 3; i++) await turn();
  gc();
  await turn();
  gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external };
}

const makeTensor = (i) => new Tensor("INPUT0", "FP32", [elements], new Float32Array(elements).fill(i));

/** Memory of N tensors alone (what the requests are allowed to take). */
async function tensorsOnly() {
  const base = await settle();
  const keep = Array.from({ length: N }, (_, i) => makeTensor(i));
  const m = await settle();
  const r = { heap: m.heapUsed - base.heapUsed, external: m.external - base.external };
  if (keep.length !== N) throw new Error("unreachable");
  return r;
}

async function inFlight(protocol, keepInputs, viaCallback) {
  // HTTP: only the pool's connections reach the peer, the other calls wait in the client's queue.
  const peer = startPeer(protocol === "http" ? Math.min(N, connections) : N);
  const { httpPort, grpcPort } = await peer.next();
  const url = protocol === "grpc" ? `127.0.0.1:${grpcPort}` : `http://127.0.0.1:${httpPort}`;
  const client = createClient({ url, protocol, connections, ...grpcImpl(protocol) });
  try {
    // One call first so connections and lazy state exist before the baseline.
    const warm = client.infer("held", [makeTensor(0)]);
    peer.release();
    await warm;
    await stop(peer.child);
    const peer2 = startPeer(protocol === "http" ? Math.min(N, connections) : N);
    const ports = await peer2.next();
    await client.close();
    const client2 = createClient({
      url: protocol === "grpc" ? `127.0.0.1:${ports.grpcPort}` : `http://127.0.0.1:${ports.httpPort}`,
      protocol,
      connections,
      ...grpcImpl(protocol),
    });
    try {
      const base = await settle();
      const t0 = performance.now();
      const calls = new Array(N);
      // "keep": the caller's references to its inputs, as tensorsOnly() holds them.
      const inputs = keepInputs ? new Array(N) : undefined;
      // "callback": one callback for all calls (the call's index as its context); answers land in `calls`.
      let called = 0;
      let allCalled;
      const allBack = new Promise((resolve) => (allCalled = resolve));
      const onAnswer = (error, result, i) => {
        calls[i] = error ?? result;
        if (++called === N) allCalled();
      };
      for (let i = 0; i < N; i++) {
        const t = makeTensor(i);
        if (inputs !== undefined) inputs[i] = t;
        if (viaCallback) client2.inferCallback("held", [t], onAnswer, callOptions, i);
        else calls[i] = client2.infer("held", [t], callOptions);
      }
      const held = await peer2.next();
      const startedMs = performance.now() - t0;
      const m = await settle();
      peer2.release();
      if (viaCallback) await allBack;
      const results = viaCallback ? calls : await Promise.all(calls);
      for (const r of results) if (r instanceof Error) throw r;
      if (inputs !== undefined && inputs.length !== N) throw new Error("unreachable");
      const totalMs = performance.now() - t0;
      for (const r of results) if (r.output("OUTPUT0").data[0] !== 1) throw new Error("wrong answer");
      await stop(peer2.child);
      return { heap: m.heapUsed - base.heapUsed, external: m.external - base.external, heldAtPeer: held.held, startedMs: round(startedMs), totalMs: round(totalMs) };
    } finally {
      await client2.close();
      await stop(peer2.child);
    }
  } finally {
    await stop(peer.child);
  }
}

const tensors = await tensorsOnly();
console.log(`${N} tensors of ${elements} FP32: ${round(tensors.heap / N)} B heap + ${round(tensors.external / N)} B external each`);
const results = {};
const modes = opt.inputs.split(",");
for (const m of modes) if (m !== "drop" && m !== "keep" && m !== "callback") throw new Error(`--inputs: "drop", "keep" and/or "callback", got ${m}`);
const perRequest = (r) => {
  const heapPer = (r.heap - tensors.heap) / N;
  const externalPer = (r.external - tensors.external) / N;
  return { perRequestHeapBytes: round(heapPer), perRequestExternalBytes: round(externalPer), perRequestBytes: round(heapPer + externalPer) };
};
for (const protocol of opt.protocol.split(",")) {
  for (const mode of modes) {
    const r = await inFlight(protocol, mode !== "drop", mode === "callback");
    const p = perRequest(r);
    // The original measurement keeps its keys (comparable with earlier files); "keep" and "callback" are objects of their own.
    if (mode === "drop") results[protocol] = { ...results[protocol], ...r, ...p };
    else if (mode === "keep") results[protocol] = { ...results[protocol], callerKeepsInputs: { ...r, ...p } };
    else results[protocol] = { ...results[protocol], inferCallbackCallerKeepsInputs: { ...r, ...p } };
    console.log(
      `${protocol}${timeoutMs === undefined ? "" : ` (timeoutMs ${timeoutMs})`}${stopAll ? " (shared signal)" : ""}, ${mode === "callback" ? "inferCallback, caller keeps" : `caller ${mode === "keep" ? "keeps" : "drops"}`} its inputs: ${N} in flight (${r.heldAtPeer} at the peer): beyond their tensors ` +
        `${p.perRequestHeapBytes} B heap + ${p.perRequestExternalBytes} B external = ${p.perRequestBytes} B a request (tensor data ${elements * 4} B)`,
    );
  }
}
const result = {
  benchmark: "inflight-memory",
  date: new Date().toISOString(),
  machine: machine(),
  load: { requests: N, tensor: `FP32 [${elements}]`, httpConnections: connections, inputs: modes, timeoutMs, sharedSignal: opt.signal, peer: "bench/peers/holding-server.mjs (holds every request until released)" },
  tensorsAlone: { heapBytesEach: round(tensors.heap / N), externalBytesEach: round(tensors.external / N) },
  results,
};
if (!opt["no-write"]) console.log(`written to ${writeResult(opt.run ? `inflight-memory-${opt.run}` : "inflight-memory", result)}`);
