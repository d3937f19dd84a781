// Graceful shutdown of a spawned `iaas serve`: SIGTERM (and SIGINT) while HTTP requests, gRPC calls and
// a gRPC stream are in flight on a slow-ish model; every one of them must be answered, the process must
// exit 0, and both ports must be closed afterwards.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createClient, Tensor } from "@iaas/client";
import { DEFAULT_MODEL_REPOSITORY } from "@iaas/server-native";

const BIN = fileURLToPath(new URL("../dist/bin/iaas.js", import.meta.url));
const BATCH = 64;

let repo: string;
before(() => {
  // dense_mlp (256 -> 1024 -> 1024 -> 16) at batch 64: a few ms of work per request on one instance, so
  // requests queue behind each other and are really in flight when the signal arrives.
  repo = mkdtempSync(join(tmpdir(), "iaas-shutdown-"));
  mkdirSync(join(repo, "dense_mlp", "1"), { recursive: true });
  // KIND_CPU: the test does not depend on a GPU being present or absent.
  const config = readFileSync(join(DEFAULT_MODEL_REPOSITORY, "dense_mlp", "config.pbtxt"), "utf8").replace("KIND_AUTO", "KIND_CPU");
  writeFileSync(join(repo, "dense_mlp", "config.pbtxt"), config);
  copyFileSync(join(DEFAULT_MODEL_REPOSITORY, "dense_mlp", "labels.txt"), join(repo, "dense_mlp", "labels.txt"));
});
after(() => rmSync(repo, { recursive: true, force: true }));

interface Served {
  child: ChildProcess;
  httpUrl: string;
  grpcUrl: string;
  httpPort: number;
  grpcPort: number;
  stderr(): string;
  exit: Promise<number | null>;
}

function serve(): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve", "--model-repository", repo, "--http-port", "0", "--grpc-port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    const exit = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const line = out.split("\n").find((l) => l.startsWith("{") && out.includes("\n"));
      if (!line) return;
      const e = JSON.parse(line) as { httpUrl: string; grpcUrl: string; httpPort: number; grpcPort: number };
      resolve({ child, ...e, stderr: () => err, exit });
    });
    child.once("exit", (code) => reject(new Error(`iaas serve exited with ${code} before listening: ${err}`)));
  });
}

const portOpen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });

const input = () => new Tensor("INPUT0", "FP32", [BATCH, 256], new Float32Array(BATCH * 256).map((_, i) => (i % 97) / 97));

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`${signal}: HTTP requests, gRPC calls and a gRPC stream in flight all finish, exit code 0, ports closed`, { timeout: 60_000 }, async () => {
    const s = await serve();
    const httpClient = createClient({ url: s.httpUrl, protocol: "http" });
    const grpcClient = createClient({ url: s.grpcUrl, protocol: "grpc" });
    try {
      // Warm both clients' connections, then log every request as it reaches the server core.
      await Promise.all([httpClient.infer("dense_mlp", [input()]), grpcClient.infer("dense_mlp", [input()])]);
      const logging = await fetch(`${s.httpUrl}/v2/logging`, { method: "POST", body: JSON.stringify({ log_verbose_level: 2 }) });
      assert.equal(logging.status, 200);
      const N = 6;
      const http = Array.from({ length: N }, () => httpClient.infer("dense_mlp", [input()]));
      const grpc = Array.from({ length: N }, () => grpcClient.infer("dense_mlp", [input()]));
      const stream = grpcClient.stream();
      const ids = [0, 1, 2].map((i) => stream.send("dense_mlp", [input()], { id: `s${i}` }));
      const streamed = (async () => {
        const got: string[] = [];
        for await (const r of stream) {
          assert.equal(r.type, "result", r.type === "error" ? r.error.message : "");
          if (r.type === "result") got.push(r.result.id ?? "");
        }
        return got;
      })();
      stream.end();

      // Signal only once every request has reached the core (counted from the verbose log lines).
      const total = 2 * N + ids.length;
      const inferLines = () => s.stderr().split("\n").filter((l) => l.includes("infer: model 'dense_mlp'")).length;
      for (let t = 0; inferLines() < total; t++) {
        if (t > 2000) assert.fail(`only ${inferLines()} of ${total} requests reached the server: ${s.stderr()}`);
        await sleep(5);
      }
      const signalledAt = Date.now();
      s.child.kill(signal);

      const results = await Promise.allSettled([...http, ...grpc]);
      const failed = results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason));
      assert.deepEqual(failed, [], "every request in flight is answered");
      for (const r of results) {
        const out = (r as PromiseFulfilledResult<Awaited<(typeof http)[0]>>).value.output("OUTPUT0");
        assert.deepEqual(out.shape, [BATCH, 16]);
      }
      assert.deepEqual((await streamed).sort(), ["s0", "s1", "s2"]);
      assert.equal(await s.exit, 0, s.stderr());
      // Connections the clients keep open (pooled, idle) must not hold the exit until --exit-timeout-secs (30 s).
      assert.ok(Date.now() - signalledAt < 20_000, `exit took ${Date.now() - signalledAt} ms`);
      assert.match(s.stderr(), new RegExp(`iaas serve: ${signal}: stopping`));
      assert.equal(await portOpen(s.httpPort), false, "HTTP port closed");
      assert.equal(await portOpen(s.grpcPort), false, "gRPC port closed");
    } finally {
      await Promise.allSettled([httpClient.close(), grpcClient.close()]);
      if (s.child.exitCode === null) s.child.kill("SIGKILL");
    }
  });
}

test("SIGTERM with only idle keep-alive connections exits at once (they do not hold the shutdown)", { timeout: 30_000 }, async () => {
  const s = await serve();
  const client = createClient({ url: s.httpUrl, protocol: "http" });
  try {
    await client.infer("dense_mlp", [input()]);
    const t0 = Date.now();
    s.child.kill("SIGTERM");
    assert.equal(await s.exit, 0, s.stderr());
    // The 30 s exit timeout is for requests in flight, not for idle clients.
    assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
  } finally {
    await client.close();
    if (s.child.exitCode === null) s.child.kill("SIGKILL");
  }
});
