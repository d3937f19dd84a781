// `iaas serve` with TLS, mutual TLS and bearer-token flags, spawned from its built entry point and
// called with @iaas/client; and the usage errors of inconsistent flags.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { InferenceError, Tensor, createClient } from "@iaas/client";
import { createTestPki, type TestPki } from "../../server-native/test/tls-fixtures.ts";

const BIN = fileURLToPath(new URL("../dist/bin/iaas.js", import.meta.url));

let pki: TestPki;
before(() => {
  pki = createTestPki();
});
after(() => pki.remove());

interface Served {
  event: { httpUrl: string; grpcUrl: string };
  stop(): Promise<number | null>;
}

function serve(args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [BIN, "serve", "--http-port", "0", "--grpc-port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const line = out.split("\n").find((l) => l.includes('"listening"'));
      if (line)
        resolve({
          event: JSON.parse(line),
          stop: () =>
            new Promise((r) => {
              child.once("close", r);
              child.kill("SIGTERM");
            }),
        });
    });
    child.once("exit", (code) => reject(new Error(`iaas serve exited with ${code}: ${err}`)));
  });
}

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, "serve", "--http-port", "0", "--grpc-port", "0", ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.once("close", (code) => resolve({ code, stderr }));
  });
}

const one = () => [new Tensor("INPUT0", "FP32", [1], Float32Array.of(9))];

test("--tls-cert/--tls-key/--tls-ca and --auth-token-file: https and grpcs URLs, client certificate and token required", async () => {
  const tokens = join(pki.dir, "tokens.txt");
  writeFileSync(tokens, "# tokens for the test\nfile-token\n\n");
  const s = await serve([
    "--tls-cert", pki.files.serverCert, "--tls-key", pki.files.serverKey, "--tls-ca", pki.files.ca,
    "--auth-token", "flag-token", "--auth-token-file", tokens,
  ]);
  try {
    assert.match(s.event.httpUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(s.event.grpcUrl, /^grpcs:\/\/127\.0\.0\.1:\d+$/);
    const tls = { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey };
    for (const url of [s.event.httpUrl, s.event.grpcUrl]) {
      for (const bearer of ["flag-token", "file-token"]) {
        const c = createClient({ url, tls, auth: { bearer }, retry: false });
        try {
          assert.deepEqual(Array.from((await c.infer("identity_fp32", one())).output("OUTPUT0").data as Float32Array), [9]);
        } finally {
          await c.close();
        }
      }
      const noToken = createClient({ url, tls, retry: false });
      const noCert = createClient({ url, tls: { ca: pki.ca }, auth: { bearer: "flag-token" }, retry: false });
      try {
        await assert.rejects(noToken.serverMetadata(), (e: InferenceError) => e.code === "unauthenticated");
        await assert.rejects(noCert.serverMetadata(), (e: InferenceError) => e.code === "unavailable");
      } finally {
        await noToken.close();
        await noCert.close();
      }
    }
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test("--no-tls-require-client-cert and --auth-allow-health", async () => {
  const s = await serve([
    "--tls-cert", pki.files.serverCert, "--tls-key", pki.files.serverKey, "--tls-ca", pki.files.ca, "--no-tls-require-client-cert",
    "--auth-token", "t", "--auth-allow-health",
  ]);
  try {
    const c = createClient({ url: s.event.httpUrl, tls: { ca: pki.ca }, retry: false });
    try {
      assert.equal(await c.isServerReady(), true);
      await assert.rejects(c.serverMetadata(), (e: InferenceError) => e.code === "unauthenticated");
    } finally {
      await c.close();
    }
  } finally {
    await s.stop();
  }
});

test("inconsistent or unreadable security flags: exit 2 / 1 with a message naming the flag", async () => {
  const [onlyCert, caAlone, missing, healthOnly] = await Promise.all([
    run(["--tls-cert", pki.files.serverCert]),
    run(["--tls-ca", pki.files.ca]),
    run(["--tls-cert", join(pki.dir, "nope.crt"), "--tls-key", pki.files.serverKey]),
    run(["--auth-allow-health"]),
  ]);
  assert.equal(onlyCert.code, 2);
  assert.match(onlyCert.stderr, /--tls-cert and --tls-key go together/);
  assert.equal(caAlone.code, 2);
  assert.match(caAlone.stderr, /--tls-ca and --tls-require-client-cert need --tls-cert and --tls-key/);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read --tls-cert file '.*nope\.crt'/);
  assert.equal(healthOnly.code, 2);
  assert.match(healthOnly.stderr, /--auth-allow-health needs --auth-token/);
});
