// Shared set-up of the client resilience tests (retries, balancing): a small model repository, real
// reference servers on chosen or free ports, per-server statistics, and a TCP proxy that slows requests.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type RunningServer } from "@iaas/server-native";
import { InferenceError, Tensor, createClient, type Protocol } from "@iaas/client";

export const MODEL = "identity_fp32";

/** A repository holding only identity_fp32 (fast to load). */
export function makeRepository(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "iaas-resilience-"));
  mkdirSync(join(dir, MODEL, "1"), { recursive: true });
  writeFileSync(
    join(dir, MODEL, "config.pbtxt"),
    `name: "${MODEL}"\nbackend: "identity"\nmax_batch_size: 0\n` +
      `input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]\n` +
      `output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]\n` +
      `instance_group [ { kind: KIND_CPU count: 1 } ]\n`,
  );
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const input = (value = 1): Tensor => new Tensor("INPUT0", "FP32", [2], new Float32Array([value, -value]));

/** A port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export function urlOf(protocol: Protocol, port: number): string {
  return protocol === "grpc" ? `grpc://127.0.0.1:${port}` : `http://127.0.0.1:${port}`;
}

/** Starts a reference server; `port` fixes the port of `protocol` (the other one is free). */
export function serve(repository: string, protocol: Protocol = "http", port = 0): Promise<RunningServer> {
  return startServer({
    modelRepository: repository,
    httpPort: protocol === "http" ? port : 0,
    grpcPort: protocol === "grpc" ? port : 0,
  });
}

export function portOf(server: RunningServer, protocol: Protocol): number {
  return protocol === "grpc" ? server.grpcPort : server.httpPort;
}

/** inference_count of MODEL on one server, read through a client of its own. */
export async function inferenceCount(server: RunningServer): Promise<bigint> {
  const client = createClient({ url: server.httpUrl, retry: false });
  try {
    const [stats] = await client.modelStatistics(MODEL);
    return stats?.inference_count ?? 0n;
  } finally {
    await client.close();
  }
}

export async function rejection(p: Promise<unknown>): Promise<InferenceError> {
  const e = await p.then(
    () => assert.fail("expected the call to reject"),
    (err: unknown) => err,
  );
  assert.ok(e instanceof InferenceError, `expected an InferenceError, got ${String(e)}`);
  return e;
}

/** Polls `check` every 20 ms until it holds, failing after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A TCP proxy to `targetPort` that holds every chunk sent to the server for `delayMs` (answers pass at once). */
export async function slowProxy(targetPort: number, delayMs: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const up = net.connect(targetPort, "127.0.0.1");
    for (const s of [down, up]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    // Same delay for every chunk: timers fire in order, so the byte stream stays in order.
    down.on("data", (chunk) => setTimeout(() => up.write(chunk), delayMs));
    down.on("end", () => setTimeout(() => up.end(), delayMs));
    up.pipe(down);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
