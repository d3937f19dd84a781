// `iaas serve --extensions`: the listed Triton extensions only ("none" = a plain KServe v2 server), others
// answering 404; an unknown name is a usage error before anything listens.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../dist/bin/iaas.js", import.meta.url));

/** Starts `iaas serve` with extra flags; resolves with its HTTP URL once it listens, and a stop function. */
function serve(extra: string[]): Promise<{ httpUrl: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [BIN, "serve", "--http-port", "0", "--grpc-port", "0", ...extra], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (!line) return;
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      resolve({ httpUrl: JSON.parse(line).httpUrl, stop: () => (child.kill("SIGTERM"), exited) });
    });
    child.once("exit", (code) => reject(Object.assign(new Error(`iaas serve exited with ${code}: ${err}`), { code, stderr: err })));
  });
}

test("--extensions statistics,trace serves those and answers 404 for the rest", async () => {
  const s = await serve(["--extensions", "statistics,trace"]);
  try {
    const meta = (await (await fetch(`${s.httpUrl}/v2`)).json()) as { extensions: string[] };
    assert.deepEqual(meta.extensions, ["statistics", "trace"]);
    assert.equal((await fetch(`${s.httpUrl}/v2/trace/setting`)).status, 200);
    assert.equal((await fetch(`${s.httpUrl}/v2/logging`)).status, 404);
    assert.equal((await fetch(`${s.httpUrl}/v2/repository/index`, { method: "POST", body: "{}" })).status, 404);
  } finally {
    await s.stop();
  }
});

test("--extensions none advertises nothing; an unknown name is a usage error (exit 2)", async () => {
  const s = await serve(["--extensions", "none"]);
  try {
    assert.deepEqual(((await (await fetch(`${s.httpUrl}/v2`)).json()) as { extensions: string[] }).extensions, []);
  } finally {
    await s.stop();
  }
  await assert.rejects(serve(["--extensions", "statistics,bogus"]), (e: Error & { code: number; stderr: string }) => {
    assert.equal(e.code, 2);
    assert.match(e.stderr, /unknown extension "bogus"; choose from binary_tensor_data, /);
    return true;
  });
});
