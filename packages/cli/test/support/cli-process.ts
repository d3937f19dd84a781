// Spawning the built `iaas` (run `tsc -b` first) and an `iaas serve` child, for the CLI's end-to-end tests.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../../dist/bin/iaas.js", import.meta.url));

/** Short measurement settings: 0.3 s windows, 3 of them at most. */
export const SHORT = ["--warmup-ms", "100", "--measurement-interval", "300", "--max-trials", "3"];

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs?: number;
  /** Called with everything printed to stdout so far, after each chunk. */
  onStdout?: (soFar: string) => void;
}

export function iaas(args: string[], options: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      options.onStdout?.(stdout);
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`iaas ${args.join(" ")} timed out\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    // close, not exit: both pipes are drained by then.
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Serve {
  httpUrl: string;
  grpcUrl: string;
  /** From the listening line, when serve opened a metrics port. */
  metricsPort?: number;
  metricsUrl?: string;
  child: ChildProcess;
  /** Everything serve printed to stderr so far. */
  stderr(): string;
  /** SIGTERM (or the given signal) and wait for the exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The rejection of startServe when serve exits before listening (a usage error: code 2). */
export type ServeExit = Error & { code: number | null; stderr: string };

/** `iaas serve` on free ports with `extra` flags, resolved once it printed its listening line. */
export function startServe(extra: string[] = []): Promise<Serve> {
  const child = spawn(process.execPath, [BIN, "serve", "--http-port", "0", "--grpc-port", "0", ...extra], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const line = out.split("\n").find((l) => l.includes('"listening"'));
      if (line) {
        const event = JSON.parse(line) as { httpUrl: string; grpcUrl: string; metricsPort?: number; metricsUrl?: string };
        resolve({ ...event, child, stderr: () => err, stop });
      }
    });
    void exited.then((code) => reject(Object.assign(new Error(`iaas serve exited with ${code} before listening:\n${err}`), { code, stderr: err })));
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Parses a CSV without quoted cells (what `iaas bench --csv` writes for numbers and header names). */
export function parseCsv(text: string): string[][] {
  return text
    .trimEnd()
    .split("\n")
    .map((line) => line.split(","));
}
