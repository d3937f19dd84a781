// `iaas` spawned end to end from its built entry point (run `tsc -b` first).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../dist/bin/iaas.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "iaas-cli-test-"));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function iaas(args: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`iaas ${args.join(" ")} timed out\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      // Let the pipes drain before resolving.
      setImmediate(() => resolve({ code, stdout, stderr }));
    });
    child.stdin.end(options.stdin ?? "");
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const SHORT = ["--warmup-ms", "100", "--window-ms", "300", "--max-trials", "3"];

let serve: ChildProcess;
let urls: { httpUrl: string; grpcUrl: string };

before(async () => {
  serve = spawn(process.execPath, [BIN, "serve", "--http-port", "0", "--grpc-port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  urls = await new Promise((resolve, reject) => {
    let out = "";
    serve.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const line = out.split("\n").find((l) => l.includes('"listening"'));
      if (line) resolve(JSON.parse(line));
    });
    serve.once("exit", (code) => reject(new Error(`iaas serve exited with ${code}`)));
  });
});

after(async () => {
  if (serve.exitCode === null) {
    const exited = new Promise((r) => serve.once("exit", r));
    serve.kill("SIGTERM");
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

test("iaas serve reports both URLs on one JSON line and stops with exit 0 on SIGTERM", async () => {
  const child = spawn(process.execPath, [BIN, "serve", "--http-port", "0", "--grpc-port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const event = await new Promise<Record<string, unknown>>((resolve) =>
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (out.includes("\n")) resolve(JSON.parse(out.split("\n")[0]!));
    }),
  );
  assert.equal(event["event"], "listening");
  assert.match(String(event["httpUrl"]), /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(String(event["grpcUrl"]), /127\.0\.0\.1:\d+$/);
  assert.ok((event["httpPort"] as number) > 0 && (event["grpcPort"] as number) > 0);
  const code = await new Promise((resolve) => {
    child.once("close", resolve); // close, not exit: stderr must be drained before it is checked
    child.kill("SIGTERM");
  });
  assert.equal(code, 0);
  assert.match(err, /iaas serve: HTTP http:\/\/127\.0\.0\.1/);
});

test("iaas bench with no -u runs the embedded server, prints the table and writes the JSON report", async () => {
  const json = join(dir, "embedded.json");
  const r = await iaas(["bench", "--concurrency", "1..2", ...SHORT, "--json", json]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.match(lines[0]!, /^iaas bench: embedded server http:\/\/127\.0\.0\.1:\d+ \(http.*model simple, batch 1, inputs INPUT0 INT32\[1,16\]/);
  assert.match(lines[1]!, /Concurrency\s+Infer\/s\s+p50 us\s+p90 us\s+p95 us\s+p99 us\s+p99\.9 us\s+avg us\s+min us\s+max us\s+Server us\s+Overhead us\s+Requests\s+Errors\s+Stable/);
  const rows = lines.slice(2).filter((l) => /^\s+\d+\s/.test(l));
  assert.equal(rows.length, 2, r.stdout);
  assert.match(rows[0]!, /^\s+1\s+\d+\.\d/);
  assert.match(rows[1]!, /^\s+2\s+\d+\.\d/);
  assert.equal(lines[1]!.length, rows[0]!.length, "rows align with the header");

  const report = JSON.parse(readFileSync(json, "utf8"));
  assert.equal(report.complete, true);
  assert.equal(report.server.embedded, true);
  assert.equal(report.server.protocol, "http");
  assert.equal(report.model.name, "simple");
  assert.deepEqual(report.settings.concurrency, [1, 2]);
  assert.deepEqual(report.levels.map((l: { concurrency: number }) => l.concurrency), [1, 2]);
  for (const level of report.levels) {
    assert.ok(level.throughput > 0);
    assert.ok(level.requests > 0);
    assert.ok(level.windows.length >= 3 && level.windows.length <= 3);
    assert.equal(level.maxInFlight, level.concurrency);
    assert.ok(level.latencyUs.p50 > 0 && level.latencyUs.p99 >= level.latencyUs.p50);
    assert.equal(typeof level.stable, "boolean");
  }
  assert.equal(alive(report.server.pid), false, "embedded server stopped");
});

for (const protocol of ["http", "grpc"] as const) {
  test(`iaas bench -u against iaas serve over ${protocol}`, async () => {
    const json = join(dir, `remote-${protocol}.json`);
    const url = protocol === "http" ? urls.httpUrl : urls.grpcUrl;
    const r = await iaas(["bench", "-u", url, "-i", protocol, "-m", "simple", "-b", "4", "-c", "3", ...SHORT, "--json", json]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.startsWith(`iaas bench: ${url} (${protocol}), model simple, batch 4, inputs INPUT0 INT32[4,16]`), r.stdout);
    const report = JSON.parse(readFileSync(json, "utf8"));
    assert.equal(report.server.embedded, false);
    assert.equal(report.levels.length, 1);
    const level = report.levels[0];
    assert.equal(level.concurrency, 3);
    assert.equal(level.maxInFlight, 3);
    assert.equal(level.errorCount, 0);
    // Throughput counts inferences: 4 per request.
    assert.ok(Math.abs(level.throughput - (level.requests * 4 * 1000) / level.durationMs) < 1);
  });
}

const SIMPLE_REQUEST = {
  id: "req-7",
  inputs: [
    { name: "INPUT0", shape: [1, 16], datatype: "INT32", data: Array.from({ length: 16 }, (_, i) => i) },
    { name: "INPUT1", shape: [1, 16], datatype: "INT32", data: Array.from({ length: 16 }, () => 2) },
  ],
};

for (const protocol of ["http", "grpc"] as const) {
  test(`iaas infer over ${protocol} prints simple's outputs as KServe v2 JSON`, async () => {
    const file = join(dir, "simple.json");
    writeFileSync(file, JSON.stringify(SIMPLE_REQUEST));
    const url = protocol === "http" ? urls.httpUrl : urls.grpcUrl;
    const r = await iaas(["infer", "-u", url, "-i", protocol, "-m", "simple", "--data", file]);
    assert.equal(r.code, 0, r.stderr);
    const response = JSON.parse(r.stdout);
    assert.equal(response.model_name, "simple");
    assert.equal(response.id, "req-7");
    const out0 = response.outputs.find((o: { name: string }) => o.name === "OUTPUT0");
    const out1 = response.outputs.find((o: { name: string }) => o.name === "OUTPUT1");
    assert.equal(out0.datatype, "INT32");
    assert.deepEqual(out0.shape, [1, 16]);
    assert.deepEqual(out0.data, Array.from({ length: 16 }, (_, i) => i + 2));
    assert.deepEqual(out1.data, Array.from({ length: 16 }, (_, i) => i - 2));
  });
}

test("iaas infer reads stdin with --data - and honours --json-tensors and requested outputs", async () => {
  const request = { ...SIMPLE_REQUEST, outputs: [{ name: "OUTPUT1" }] };
  const r = await iaas(["infer", "-u", urls.httpUrl, "-m", "simple", "--data", "-", "--json-tensors"], { stdin: JSON.stringify(request) });
  assert.equal(r.code, 0, r.stderr);
  const response = JSON.parse(r.stdout);
  assert.deepEqual(response.outputs.map((o: { name: string }) => o.name), ["OUTPUT1"]);
  assert.deepEqual(response.outputs[0].data, Array.from({ length: 16 }, (_, i) => i - 2));
});

test("iaas infer errors: bad JSON with its position, missing file, server error with its code", async () => {
  const bad = join(dir, "bad.json");
  writeFileSync(bad, '{"inputs": [\n  {"name": "INPUT0",,}]}');
  let r = await iaas(["infer", "-u", urls.httpUrl, "-m", "simple", "--data", bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.json: invalid JSON at line 2 column 21/);

  r = await iaas(["infer", "-u", urls.httpUrl, "-m", "simple", "--data", join(dir, "missing.json")]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot read request file .*missing\.json: no such file/);

  const file = join(dir, "simple2.json");
  writeFileSync(file, JSON.stringify(SIMPLE_REQUEST));
  r = await iaas(["infer", "-u", urls.grpcUrl, "-i", "grpc", "-m", "no_such_model", "--data", file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /iaas infer: error: .*no_such_model.*\[not_found\]/);
  assert.equal(r.stdout, "");
});

test("iaas bench errors: unknown model exits 1, bad range and bad options exit 2", async () => {
  let r = await iaas(["bench", "-u", urls.httpUrl, "-m", "no_such_model", ...SHORT]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot benchmark model "no_such_model" at http:\/\/127\.0\.0\.1:\d+ \(http\): .*\[not_found\]/);

  r = await iaas(["bench", "--concurrency", "0..4"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--concurrency.*'0\.\.4' is invalid.*start 0.*must be at least 1/);

  r = await iaas(["bench", "--concurrency", "8..2"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /start 8 is greater than end 2/);

  r = await iaas(["bench", "-i", "udp"]);
  assert.equal(r.code, 2);

  r = await iaas(["bench", "-u", urls.httpUrl, "-b", "9", ...SHORT]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /batch size 9 is larger than model "simple"'s max_batch_size 8/);

  r = await iaas(["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Exit codes: 0 success, 1 runtime or server error, 2 usage error/);
});

test("iaas bench interrupted by SIGINT keeps finished levels in the JSON, stops its server, exits 130", async () => {
  const json = join(dir, "interrupted.json");
  const child = spawn(process.execPath, [BIN, "bench", "-c", "1..64", ...SHORT, "--json", json], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  await new Promise<void>((resolve) =>
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (/\n\s+1\s+\d/.test(out)) resolve(); // the first level's row
    }),
  );
  const code = await new Promise((resolve) => {
    child.once("exit", resolve);
    child.kill("SIGINT");
  });
  assert.equal(code, 130);
  assert.ok(existsSync(json));
  const report = JSON.parse(readFileSync(json, "utf8"));
  assert.equal(report.interrupted, true);
  assert.equal(report.complete, false);
  assert.ok(report.levels.length >= 1 && report.levels.length < 7);
  assert.equal(report.levels[0].concurrency, 1);
  assert.equal(alive(report.server.pid), false, "embedded server stopped on SIGINT");
});
