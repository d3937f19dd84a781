// tls-infer.ts runs as a user would run it: with its own throw-away certificates, with a certificate
// folder, and with a folder that lacks them.
import { runExample as runScript } from "./run-example.ts";
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestPki } from "../packages/server-native/test/tls-fixtures.ts";
import { copyFileSync } from "node:fs";


const SUM = /OUTPUT0 = \[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16\]/;

test("tls-infer.ts makes its own certificates and infers over https and grpcs", async () => {
  const r = await runExample([]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /server: https:\/\/127\.0\.0\.1:\d+ and grpcs:\/\/127\.0\.0\.1:\d+ \(mutual TLS, bearer token\)/);
  assert.match(r.out, new RegExp(`^https: ${SUM.source}`, "m"));
  assert.match(r.out, new RegExp(`^grpcs: ${SUM.source}`, "m"));
});

test("tls-infer.ts takes a certificate folder, and names a missing file", async () => {
  const pki = createTestPki();
  const dir = mkdtempSync(join(tmpdir(), "iaas-tls-example-test-"));
  try {
    const copy = (from: string, to: string) => copyFileSync(from, join(dir, to));
    copy(pki.files.ca, "ca.crt");
    copy(pki.files.serverCert, "server.crt");
    copy(pki.files.serverKey, "server.key");
    copy(pki.files.clientCert, "client.crt");
    const missing = await runExample([dir]);
    assert.equal(missing.code, 1);
    assert.match(missing.out, /tls-infer: .*client\.key is missing/);
    copy(pki.files.clientKey, "client.key");
    const r = await runExample([dir]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`^grpcs: ${SUM.source}`, "m"));
  } finally {
    pki.remove();
    rmSync(dir, { recursive: true, force: true });
  }
});

function runExample(args: string[]) {
  return runScript("./tls-infer.ts", args, ["--no-deprecation"]);
}
