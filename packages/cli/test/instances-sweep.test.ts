// `iaas bench --instances` spawned against the reference server (in-process, port 0): the model is reloaded
// with each instance_group count (seen live through modelConfig during the sweep), measured, and put back.
// A server without the repository, configuration and statistics extensions (the reference server behind a
// proxy that answers those routes 404, as KServe's own Python server would) gets a note and one sweep.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createClient, type InferenceClient } from "@iaas/client";
import { startServer, DEFAULT_MODEL_REPOSITORY } from "@iaas/server-native";
import { iaas, parseCsv, SHORT, tempDir } from "./support/cli-process.ts";

type Server = Awaited<ReturnType<typeof startServer>>;
let server: Server;
let client: InferenceClient;
const dir = tempDir("iaas-instances-test-");
/** Six levels in the grid test: shorter windows than SHORT. */
const FAST = ["--warmup-ms", "50", "--measurement-interval", "200", "--max-trials", "3"];

before(async () => {
  server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0, modelRepository: DEFAULT_MODEL_REPOSITORY });
  client = createClient({ url: server.httpUrl, protocol: "http" });
});
after(async () => {
  await client.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function instanceCount(model: string): Promise<number> {
  const config = await client.modelConfig(model);
  const groups = config["instance_group"] as { count: number }[];
  return groups[0]!.count;
}

test("--instances 1..3:1 over http: each count is loaded and measured, then the original config is back", async () => {
  assert.equal(await instanceCount("dense_mlp"), 1, "starts at the repository's count");
  const before = await client.modelConfig("dense_mlp");
  const json = join(dir, "instances-http.json");
  const csv = join(dir, "instances-http.csv");

  // Watch the live config while the sweep runs.
  const seen = new Set<number>();
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      seen.add(await instanceCount("dense_mlp"));
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  const r = await iaas(["bench", "-u", server.httpUrl, "-m", "dense_mlp", "--instances", "1..3:1", "-c", "1..2", ...FAST, "--json", json, "--csv", csv]);
  watching = false;
  await watcher;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(seen.has(2) && seen.has(3), `counts seen live during the sweep: ${[...seen].join(",")}`);

  const report = JSON.parse(readFileSync(json, "utf8"));
  assert.deepEqual(report.settings.instances, [1, 2, 3]);
  assert.deepEqual(
    report.levels.map((l: { instances: number; load: number }) => [l.instances, l.load]),
    [
      [1, 1],
      [1, 2],
      [2, 1],
      [2, 2],
      [3, 1],
      [3, 2],
    ],
    "a grid of instances x load, in that order",
  );
  assert.deepEqual(report.instanceSweep, { requested: [1, 2, 3], supported: true, original: 1, restored: true });
  for (const level of report.levels) assert.ok(level.requests > 0 && level.server.requests > 0, "server statistics restart with each reload and are read per level");

  // The original configuration is loaded back: everything the server reports is as before.
  assert.equal(await instanceCount("dense_mlp"), 1);
  assert.deepEqual(await client.modelConfig("dense_mlp"), before);

  const rows = parseCsv(readFileSync(csv, "utf8"));
  assert.equal(rows[0]![rows[0]!.length - 1], "Instances", "an instance sweep adds a trailing Instances column");
  assert.deepEqual(rows.slice(1).map((row) => [row[0], row[13]]), [
    ["1", "1"],
    ["2", "1"],
    ["1", "2"],
    ["2", "2"],
    ["1", "3"],
    ["2", "3"],
  ]);
  const header = r.stdout.split("\n")[1]!;
  assert.match(header, /^\s*Instances\s+Concurrency\s+Infer\/s/);
});

test("--instances over gRPC: the config read back over gRPC (every proto field) is accepted as an override", async () => {
  const before = await client.modelConfig("dense_mlp");
  const json = join(dir, "instances-grpc.json");
  const r = await iaas(["bench", "-u", server.grpcUrl, "-i", "grpc", "-m", "dense_mlp", "--instances", "2..3", "-c", "1", ...SHORT, "--json", json]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(readFileSync(json, "utf8"));
  assert.deepEqual(report.levels.map((l: { instances: number }) => l.instances), [2, 3]);
  assert.equal(report.instanceSweep.restored, true);
  assert.deepEqual(await client.modelConfig("dense_mlp"), before);
});

interface ProxyRule {
  /** Answers the request itself (status and error message) instead of forwarding it. */
  (method: string, path: string, body: string): { status: number; error: string } | undefined;
}

/** An HTTP proxy in front of the reference server that answers some requests itself, per `rule`. */
async function startProxy(target: string, rule: ProxyRule): Promise<{ url: string; close: () => Promise<void>; answered: string[] }> {
  const upstream = new URL(target);
  const answered: string[] = [];
  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const path = req.url ?? "/";
      const own = rule(req.method ?? "GET", path, body.toString("utf8"));
      if (own) {
        answered.push(`${req.method} ${path}`);
        res.writeHead(own.status, { "content-type": "application/json" }).end(JSON.stringify({ error: own.error }));
        return;
      }
      const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      forward.on("error", (err) => res.destroy(err));
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const port = (proxy.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    answered,
    close: () =>
      new Promise((resolve) => {
        proxy.closeAllConnections();
        proxy.close(() => resolve());
      }),
  };
}

/** Like a KServe v2 server without Triton's extensions: statistics, configuration and repository routes are 404. */
const withoutExtensions: ProxyRule = (_method, path) =>
  /\/stats$|\/config$|^\/v2\/repository\//.test(path) ? { status: 404, error: `no route for ${path}` } : undefined;

/** A server that refuses to load more than 2 instances (a policy, as a memory limit would). */
const atMostTwoInstances: ProxyRule = (method, path, body) => {
  if (method !== "POST" || !path.endsWith("/load")) return undefined;
  const config = JSON.parse(JSON.parse(body).parameters.config) as { instance_group: { count: number }[] };
  const count = config.instance_group[0]!.count;
  return count > 2 ? { status: 400, error: `at most 2 instances allowed, asked for ${count}` } : undefined;
};

/** Configuration and statistics served, but no model repository extension (models loaded at start only). */
const withoutRepository: ProxyRule = (_method, path) => (path.startsWith("/v2/repository/") ? { status: 404, error: `no route for ${path}` } : undefined);

test("configuration readable but no repository extension: a note, one sweep at the current count", async () => {
  const proxy = await startProxy(server.httpUrl, withoutRepository);
  try {
    const json = join(dir, "no-repository.json");
    const r = await iaas(["bench", "-u", proxy.url, "-m", "simple", "--instances", "2..3", "-c", "1", ...SHORT, "--json", json]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /note: the server cannot reload model "simple" \(.*\): no model repository extension or explicit model control; sweeping at its current instance count/);
    const report = JSON.parse(readFileSync(json, "utf8"));
    assert.deepEqual(report.levels.map((l: { instances: number }) => l.instances), [1], "measured once, at the count the config names");
    assert.equal(report.instanceSweep.supported, false);
    assert.equal(report.instanceSweep.original, 1);
    assert.equal(report.instanceSweep.restored, null);
    assert.ok(report.levels[0].server.requests > 0, "statistics still read");
  } finally {
    await proxy.close();
  }
});

test("a count the server refuses: exit 1 with its message, earlier levels kept, the original config restored", async () => {
  const proxy = await startProxy(server.httpUrl, atMostTwoInstances);
  try {
    const json = join(dir, "refused.json");
    const r = await iaas(["bench", "-u", proxy.url, "-m", "dense_mlp", "--instances", "2..3", "-c", "1", ...SHORT, "--json", json]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /cannot load model "dense_mlp" with 3 instance\(s\): .*at most 2 instances allowed, asked for 3 \[invalid_argument\]/);
    const report = JSON.parse(readFileSync(json, "utf8"));
    assert.deepEqual(report.levels.map((l: { instances: number }) => l.instances), [2], "the level at 2 instances is kept");
    assert.equal(report.instanceSweep.restored, true);
    assert.equal(await instanceCount("dense_mlp"), 1, "the original count is back");
  } finally {
    await proxy.close();
  }
});

test("a server without repository, configuration and statistics extensions: notes, one sweep, empty server columns", async () => {
  const proxy = await startProxy(server.httpUrl, withoutExtensions);
  try {
    const json = join(dir, "plain.json");
    const csv = join(dir, "plain.csv");
    const r = await iaas(["bench", "-u", proxy.url, "-m", "simple", "--instances", "1..2", "-c", "1", ...SHORT, "--json", json, "--csv", csv]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /note: cannot read model "simple"'s configuration .*\[(not_found|unimplemented)\].*sweeping at its current instance count/);
    assert.match(r.stderr, /note: server statistics unavailable \(the server has no statistics extension/);
    assert.ok(proxy.answered.some((b) => b.endsWith("/stats")) && proxy.answered.some((b) => b.endsWith("/config")));

    const report = JSON.parse(readFileSync(json, "utf8"));
    assert.equal(report.levels.length, 1, "the load sweep runs once");
    assert.equal(report.levels[0].instances, null, "count unknown");
    assert.equal(report.levels[0].server, null);
    assert.match(report.levels[0].serverNote, /no statistics extension/);
    assert.equal(report.instanceSweep.supported, false);
    assert.equal(report.instanceSweep.restored, null, "nothing was reloaded, nothing to restore");
    assert.equal(report.notes.length, 2);

    const rows = parseCsv(readFileSync(csv, "utf8"));
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[1]!.slice(2, 9), ["", "", "", "", "", "", ""], "client and server breakdown columns empty");
    assert.ok(Number(rows[1]![1]) > 0 && Number(rows[1]![12]) > 0, "throughput and latency still measured");
    assert.equal(rows[1]![13], "", "instance count unknown");
    assert.match(r.stdout, /\n\s+-\s+1\s+\d+\.\d/, "table shows - for the unknown count");
  } finally {
    await proxy.close();
  }
});
