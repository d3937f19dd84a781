// A real Prometheus (Debian package `prometheus`) scrapes the metrics port every 200 ms; its query API must
// then report nv_inference_request_success{model="simple"} equal to the requests sent. Skipped, with the
// reason, when no prometheus binary is installed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, Tensor } from "@iaas/client";
import { startServer, DEFAULT_MODEL_REPOSITORY } from "../src/server.ts";
import { tempRepository } from "./helpers.ts";

const PROMETHEUS = process.env.PROMETHEUS_BIN ?? "prometheus";
const found = spawnSync(PROMETHEUS, ["--version"], { encoding: "utf8" });
const missing = found.error !== undefined || found.status !== 0 ? `no '${PROMETHEUS}' binary (apt-get install prometheus)` : undefined;

/** A port that was free a moment ago (Prometheus cannot listen on port 0 and report it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("Prometheus scrapes /metrics and its query API sees the requests sent", { skip: missing, timeout: 90_000 }, async () => {
  const repo = tempRepository({ simple: readFileSync(join(DEFAULT_MODEL_REPOSITORY, "simple", "config.pbtxt"), "utf8") });
  const dir = mkdtempSync(join(tmpdir(), "iaas-prometheus-"));
  const srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0 });
  const client = createClient({ url: srv.httpUrl, protocol: "http", retry: false });
  let prometheus: ReturnType<typeof spawn> | undefined;
  let log = "";
  try {
    const sent = 7;
    const a = new Int32Array(16).fill(3);
    for (let i = 0; i < sent; i++) await client.infer("simple", [new Tensor("INPUT0", "INT32", [1, 16], a), new Tensor("INPUT1", "INT32", [1, 16], a)]);

    const config = join(dir, "prometheus.yml");
    writeFileSync(
      config,
      `global:\n  scrape_interval: 200ms\n  scrape_timeout: 200ms\nscrape_configs:\n  - job_name: iaas\n    static_configs:\n      - targets: ["127.0.0.1:${srv.metricsPort}"]\n`,
    );
    const port = await freePort();
    prometheus = spawn(
      PROMETHEUS,
      [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    prometheus.stderr!.setEncoding("utf8").on("data", (d: string) => (log = (log + d).slice(-4000)));
    const api = `http://127.0.0.1:${port}`;
    await until("Prometheus to be ready", 30_000, async () => ((await fetch(`${api}/-/ready`)).ok ? true : undefined));
    const query = encodeURIComponent('nv_inference_request_success{model="simple"}');
    const result = await until("a scrape of nv_inference_request_success", 30_000, async () => {
      const body = (await (await fetch(`${api}/api/v1/query?query=${query}`)).json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      assert.equal(body.status, "success");
      return body.data.result.length > 0 ? body.data.result : undefined;
    });
    assert.equal(result.length, 1);
    assert.equal(result[0]!.metric.version, "1");
    assert.equal(result[0]!.metric.job, "iaas");
    assert.equal(Number(result[0]!.value[1]), sent);
    // The target is healthy: its scrapes parse (a format error would mark it down with the parser's message).
    // Polled, as one scrape may time out on a loaded machine.
    await until("the target to report up", 30_000, async () => {
      const targets = (await (await fetch(`${api}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string; lastError: string }[] } };
      const t = targets.data.activeTargets;
      assert.equal(t.length, 1);
      assert.doesNotMatch(t[0]!.lastError, /parse|unexpected|invalid/i, "no exposition format error");
      return t[0]!.health === "up" ? true : undefined;
    });
  } catch (err) {
    throw Object.assign(err as Error, { message: `${(err as Error).message}\nprometheus log:\n${log}` });
  } finally {
    if (prometheus?.pid !== undefined && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus!.once("exit", r));
      process.kill(prometheus.pid, "SIGTERM");
      await exited;
    }
    await client.close();
    await srv.close();
    repo.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});
