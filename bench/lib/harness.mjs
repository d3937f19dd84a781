// Shared by the client benchmarks: child processes that announce themselves with one JSON line, the
// CPU time of an external tool, machine facts, and writing results/<name>-<date>.json.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Spawns `node args...` and resolves with its first stdout JSON line and the child. */
export function startNode(args, { execArgv = [] } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...execArgv, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    let done = false;
    child.stdout.setEncoding("utf8").on("data", (d) => {
      if (done) return;
      out += d;
      const nl = out.indexOf("\n");
      if (nl >= 0) {
        done = true;
        resolve({ child, info: JSON.parse(out.slice(0, nl)) });
      }
    });
    child.on("exit", (code) => {
      if (!done) reject(new Error(`${args.join(" ")} exited with ${code} before announcing itself`));
    });
  });
}

/** The reference server (bench/peers/reference-server.mjs) in its own process. */
export function startReferenceServer(maxBodyBytes) {
  const args = [join(benchDir, "peers/reference-server.mjs")];
  if (maxBodyBytes !== undefined) args.push(String(maxBodyBytes));
  return startNode(args);
}

export function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/**
 * Runs `command args` under /usr/bin/time and returns its stdout plus user and system CPU seconds.
 * (Its CPU is the tool's own; GNU time reports the waited-for child's rusage.)
 */
export function runTimed(command, args) {
  const r = spawnSync("/usr/bin/time", ["-f", "__cpu__ %U %S", command, ...args], { encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
  if (r.error) throw r.error;
  const m = /__cpu__ ([\d.]+) ([\d.]+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${command} failed (${r.status}): ${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr.replace(/__cpu__.*\n?/, ""), userS: Number(m[1]), systemS: Number(m[2]) };
}

export function machine() {
  return {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** Writes results/<name>[-<IAAS_BENCH_RUN>]-<date>.json and returns its path (the run label keeps several runs of one day). */
export function writeResult(name, result) {
  mkdirSync(join(benchDir, "results"), { recursive: true });
  const run = process.env.IAAS_BENCH_RUN ? `-${process.env.IAAS_BENCH_RUN}` : "";
  const out = join(benchDir, "results", `${name}${run}-${result.date.slice(0, 10)}.json`);
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  return out;
}

/** `x` rounded to `digits` decimals, as a number (for result JSON). */
export const round = (x, digits = 3) => Number(x.toFixed(digits));

/** Client options that pick the gRPC implementation (--grpc-implementation) for gRPC runs; none otherwise. */
export function grpcImplementationOption(protocol, implementation) {
  return protocol === "grpc" && implementation ? { grpc: { implementation } } : {};
}

/** The HTTP infer request @iaas/client sends for `tensors` (binary tensor extension, binary outputs): its JSON header and the whole body. */
export function binaryInferBody(tensors) {
  const header = JSON.stringify({
    inputs: tensors.map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, parameters: { binary_data_size: t.byteSize } })),
    parameters: { binary_data_output: true },
  });
  return { header, body: Buffer.concat([Buffer.from(header), ...tensors.map((t) => Buffer.from(t.toRaw()))]) };
}

/** `message` as one gRPC length-prefixed message: flag byte 0, 4-byte big-endian length, the bytes. */
export function grpcFrame(message) {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/**
 * The gRPC frame of a ModelInferRequest (proto-loader field names). grpc-js is loaded on first use, so
 * benchmarks that never call this (the memory ones) do not carry it.
 */
export async function modelInferFrame(request) {
  const [grpc, protoLoader, { PROTO_DIR }] = await Promise.all([import("@grpc/grpc-js"), import("@grpc/proto-loader"), import("@iaas/client/protocol")]);
  const def = protoLoader.loadSync("grpc_service.proto", { keepCase: true, longs: String, enums: String, includeDirs: [PROTO_DIR] });
  const service = grpc.loadPackageDefinition(def).inference.GRPCInferenceService.service;
  return grpcFrame(service.ModelInfer.requestSerialize(request));
}

/**
 * wrk (one thread) POSTing the binary-extension infer body in `bodyFile` to `url` for `durationS` over
 * `connections` connections, under /usr/bin/time. Throws when any answer was not 2xx.
 */
export function runWrkPost({ url, bodyFile, headerLength, connections, durationS, workDir }) {
  const lua = join(workDir, "post.lua");
  writeFileSync(
    lua,
    `local f = io.open("${bodyFile}", "rb")\nwrk.method = "POST"\nwrk.body = f:read("*a")\nf:close()\n` +
      `wrk.headers["Content-Type"] = "application/octet-stream"\nwrk.headers["Inference-Header-Content-Length"] = "${headerLength}"\n`,
  );
  const r = runTimed("wrk", ["-t1", `-c${connections}`, `-d${durationS}s`, "-s", lua, url]);
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1]);
  const wallS = Number(/requests in ([\d.]+)s/.exec(r.stdout)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
  if (non2xx > 0) throw new Error(`wrk: ${non2xx} non-2xx answers\n${r.stdout}`);
  return { requests, wallS, userS: r.userS, systemS: r.systemS };
}

/**
 * h2load sending the gRPC frame in `frameFile` as unary ModelInfer calls to `target` (host:port) for
 * `durationS`, `streams` concurrent streams on each of `connections` connections, under /usr/bin/time.
 * `requests` counts HTTP 200 answers: a gRPC error arrives in the trailers, so callers check the server's
 * success count.
 */
export function runH2loadModelInfer({ target, frameFile, connections, streams, durationS }) {
  const r = runTimed("h2load", [`-c${connections}`, `-m${streams}`, "-D", String(durationS), "-d", frameFile,
    "-H", "content-type: application/grpc", "-H", "te: trailers", `http://${target}/inference.GRPCInferenceService/ModelInfer`]);
  const requests = Number(/requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded/.exec(r.stdout)?.[1]);
  const wallS = Number(/finished in ([\d.]+)s/.exec(r.stdout)?.[1]);
  return { requests, wallS, userS: r.userS, systemS: r.systemS, stdout: r.stdout };
}
