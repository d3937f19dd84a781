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
