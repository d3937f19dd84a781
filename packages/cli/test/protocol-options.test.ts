// `iaas bench` protocol pass-through: https:// and grpcs:// with --tls-ca and mutual TLS (--tls-cert/--tls-key),
// --auth-token, --compression / --grpc-compression, against an in-process reference server that requires all
// of it (mutual TLS, bearer token); and the usage errors of contradictory flags.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startServer, DEFAULT_MODEL_REPOSITORY } from "@iaas/server-native";
import { createTestPki, type TestPki } from "../../server-native/test/tls-fixtures.ts";
import { iaas, tempDir } from "./support/cli-process.ts";

type Server = Awaited<ReturnType<typeof startServer>>;
let server: Server;
let pki: TestPki;
const TOKEN = "s3cret-token";
const SHORT = ["--warmup-ms", "0", "--measurement-interval", "250", "--max-trials", "3", "-c", "2"];

before(async () => {
  pki = createTestPki();
  server = await startServer({
    host: "localhost",
    httpPort: 0,
    grpcPort: 0,
    modelRepository: DEFAULT_MODEL_REPOSITORY,
    tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca },
    auth: { bearerTokens: [TOKEN] },
  });
});
after(async () => {
  await server.close();
  pki.remove();
});

const tls = () => ["--tls-ca", pki.files.ca, "--tls-cert", pki.files.clientCert, "--tls-key", pki.files.clientKey];

for (const [name, url, extra] of [
  ["https with gzip bodies", () => server.httpUrl, ["--compression", "gzip"]],
  ["grpcs with deflate messages", () => server.grpcUrl, ["--grpc-compression", "deflate"]],
] as const) {
  test(`${name}: mutual TLS and a bearer token; the protocol follows the URL`, async () => {
    assert.match(url(), /^(https|grpcs):\/\//);
    const out = join(tempDir("iaas-tls-"), "r.json");
    const r = await iaas(["bench", "-u", url(), ...tls(), "--auth-token", TOKEN, ...extra, "--json", out, ...SHORT]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(readFileSync(out, "utf8"));
    assert.equal(result.server.protocol, url().startsWith("grpcs") ? "grpc" : "http");
    assert.equal(result.settings.tls, true);
    assert.equal(result.settings.compression, extra[1]);
    assert.ok(result.levels[0].requests > 0);
    assert.equal(result.levels[0].errorCount, 0);
  });
}

test("the server's refusals show: no token (unauthenticated), no client certificate", async () => {
  const r1 = await iaas(["bench", "-u", server.httpUrl, ...tls(), ...SHORT]);
  assert.equal(r1.code, 1);
  assert.match(r1.stderr, /unauthenticated/);
  const r2 = await iaas(["bench", "-u", server.httpUrl, "--tls-ca", pki.files.ca, "--auth-token", TOKEN, ...SHORT]);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /tls\.cert|certificate|closed the connection/);
});

test("usage errors: --tls-cert without --tls-key, --compression with gRPC, --grpc-compression with HTTP", async () => {
  const r1 = await iaas(["bench", "-u", server.httpUrl, "--tls-cert", pki.files.clientCert]);
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, /--tls-cert and --tls-key go together/);
  const r2 = await iaas(["bench", "-u", server.grpcUrl, "--compression", "gzip"]);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /use --grpc-compression/);
  const r3 = await iaas(["bench", "-u", server.httpUrl, "--grpc-compression", "gzip"]);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /use --compression with HTTP/);
});
