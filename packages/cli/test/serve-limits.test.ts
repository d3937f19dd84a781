// `iaas serve --max-body-bytes` and `--grpc-max-receive-bytes` reach the server; bad values are usage errors.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient, InferenceError, Tensor } from "@iaas/client";

const BIN = fileURLToPath(new URL("../dist/bin/iaas.js", import.meta.url));

function serve(args: string[]): Promise<{ httpUrl: string; grpcUrl: string; stop(): Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve", "--http-port", "0", "--grpc-port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (!line || !out.includes("\n")) return;
      const e = JSON.parse(line) as { httpUrl: string; grpcUrl: string };
      const closed = new Promise<number | null>((r) => child.once("close", r));
      resolve({ ...e, stop: () => (child.kill("SIGTERM"), closed) });
    });
    child.once("exit", (code) => reject(new Error(`iaas serve exited with ${code}: ${err}`)));
  });
}

test("--max-body-bytes and --grpc-max-receive-bytes limit HTTP bodies (413) and gRPC messages (RESOURCE_EXHAUSTED)", async () => {
  const s = await serve(["--max-body-bytes", "4096", "--grpc-max-receive-bytes", "4096"]);
  const http = createClient({ url: s.httpUrl, protocol: "http" });
  const grpc = createClient({ url: s.grpcUrl, protocol: "grpc" });
  try {
    const small = new Tensor("INPUT0", "FP32", [16], new Float32Array(16).fill(2));
    const big = new Tensor("INPUT0", "FP32", [2048], new Float32Array(2048));
    assert.deepEqual([...(await http.infer("identity_fp32", [small])).output("OUTPUT0").data], Array(16).fill(2));
    assert.deepEqual([...(await grpc.infer("identity_fp32", [small])).output("OUTPUT0").data], Array(16).fill(2));
    await assert.rejects(http.infer("identity_fp32", [big]), (e: InferenceError) => e.httpStatus === 413 && /maximum of 4096 bytes/.test(e.message));
    await assert.rejects(grpc.infer("identity_fp32", [big]), (e: InferenceError) => e.code === "resource_exhausted");
  } finally {
    await Promise.allSettled([http.close(), grpc.close()]);
    assert.equal(await s.stop(), 0);
  }
});

test("limit flags refuse values that are not positive byte counts (usage error, exit 2)", () => {
  for (const args of [["--max-body-bytes", "0"], ["--max-body-bytes", "1.5"], ["--grpc-max-receive-bytes", String(2 ** 31)], ["--exit-timeout-secs", "-1"]]) {
    const r = spawnSync(process.execPath, [BIN, "serve", ...args], { encoding: "utf8" });
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(args[0]!));
  }
});
