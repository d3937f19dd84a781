// @iaas/client over TLS and mutual TLS against the reference server, both protocols: URL schemes and the
// `tls` option select TLS; plaintext, untrusted, wrongly named and certificate-less connections fail with
// an "unavailable" error that names the address, the problem and the option that fixes it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startServer, type RunningServer } from "@iaas/server-native";
import { InferenceError, Tensor, createClient, type ClientOptions } from "@iaas/client";
import { createTestPki, type TestPki } from "../packages/server-native/test/tls-fixtures.ts";

let pki: TestPki;
before(() => {
  pki = createTestPki();
});
after(() => pki.remove());

const fp32 = (values: number[]) => new Tensor("INPUT0", "FP32", [values.length], Float32Array.from(values));

async function roundTrip(options: ClientOptions): Promise<number[]> {
  const client = createClient({ timeoutMs: 10_000, retry: false, ...options });
  try {
    assert.equal(await client.isServerReady(), true);
    const r = await client.infer("identity_fp32", [fp32([1.25, -3, 8])]);
    return Array.from(r.output("OUTPUT0").data as Float32Array);
  } finally {
    await client.close();
  }
}

async function failure(options: ClientOptions): Promise<InferenceError> {
  const client = createClient({ timeoutMs: 10_000, retry: false, ...options });
  try {
    await client.serverMetadata();
  } catch (e) {
    assert.ok(e instanceof InferenceError, String(e));
    return e;
  } finally {
    await client.close();
  }
  assert.fail(`expected ${JSON.stringify(options.url)} to fail`);
}

describe("TLS server", () => {
  let srv: RunningServer;
  let grpcAddress: string;
  before(async () => {
    srv = await startServer({ httpPort: 0, grpcPort: 0, tls: { cert: pki.serverCert, key: pki.serverKey } });
    grpcAddress = srv.grpcUrl.replace("grpcs://", "");
  });
  after(() => srv.close());

  test("https:// and grpcs:// URLs with tls.ca, and bare host:port with tls implying TLS, all round-trip", async () => {
    const expected = [1.25, -3, 8];
    assert.deepEqual(await roundTrip({ url: srv.httpUrl, tls: { ca: pki.ca } }), expected);
    assert.deepEqual(await roundTrip({ url: srv.grpcUrl, tls: { ca: pki.ca } }), expected);
    assert.deepEqual(await roundTrip({ url: `localhost:${srv.httpPort}`, tls: { ca: pki.ca } }), expected);
    assert.deepEqual(await roundTrip({ url: grpcAddress, protocol: "grpc", tls: { ca: [pki.otherCa, pki.ca.toString()] } }), expected);
    // servername checks the certificate against another name it lists while connecting by IP.
    assert.deepEqual(await roundTrip({ url: srv.httpUrl, tls: { ca: pki.ca, servername: "localhost" } }), expected);
    assert.deepEqual(await roundTrip({ url: srv.grpcUrl, tls: { ca: pki.ca, servername: "localhost" } }), expected);
    // rejectUnauthorized: false accepts the certificate without knowing its CA.
    assert.deepEqual(await roundTrip({ url: srv.httpUrl, tls: { rejectUnauthorized: false } }), expected);
    assert.deepEqual(await roundTrip({ url: srv.grpcUrl, tls: { rejectUnauthorized: false } }), expected);
  });

  test("plaintext clients against the TLS ports fail with unavailable and a hint to use TLS", async () => {
    const http = await failure({ url: `http://127.0.0.1:${srv.httpPort}` });
    assert.equal(http.code, "unavailable");
    assert.match(http.message, new RegExp(`http://127\\.0\\.0\\.1:${srv.httpPort}`));
    assert.match(http.message, /use https:\/\//);
    const grpc = await failure({ url: `grpc://${grpcAddress}` });
    assert.equal(grpc.code, "unavailable");
    assert.match(grpc.message, new RegExp(`grpc://${grpcAddress}`));
    assert.match(grpc.message, /use grpcs:\/\//);
  });

  test("a server certificate from an untrusted CA is refused, naming the address and tls.ca", async () => {
    for (const url of [srv.httpUrl, srv.grpcUrl]) {
      for (const tls of [{ ca: pki.otherCa }, undefined]) {
        const e = await failure({ url, ...(tls ? { tls } : {}) });
        assert.equal(e.code, "unavailable", e.message);
        assert.match(e.message, /certificate is not trusted/);
        assert.match(e.message, /self-signed certificate|unable to verify/);
        assert.match(e.message, /set tls\.ca/);
        assert.ok(e.message.includes(url), `${e.message} should name ${url}`);
      }
    }
  });

  test("a certificate that does not list the requested name is refused", async () => {
    for (const url of [srv.httpUrl, srv.grpcUrl]) {
      const e = await failure({ url, tls: { ca: pki.ca, servername: "not-the-server.example" } });
      assert.equal(e.code, "unavailable");
      assert.match(e.message, /does not name this host/);
      assert.match(e.message, /not-the-server\.example/);
    }
  });

  test("TLS clients against plaintext ports say the port does not speak TLS", async () => {
    const plain = await startServer({ httpPort: 0, grpcPort: 0 });
    try {
      for (const url of [`https://127.0.0.1:${plain.httpPort}`, `grpcs://${plain.grpcUrl}`]) {
        const e = await failure({ url, tls: { ca: pki.ca } });
        assert.equal(e.code, "unavailable");
        assert.match(e.message, /does not speak TLS on this port/);
      }
    } finally {
      await plain.close();
    }
  });

  test("contradictory or malformed tls options are rejected by createClient", () => {
    assert.throws(() => createClient({ url: `http://127.0.0.1:${srv.httpPort}`, tls: { ca: pki.ca } }), /use https:\/\//);
    assert.throws(() => createClient({ url: `grpc://${grpcAddress}`, tls: { ca: pki.ca } }), /use grpcs:\/\//);
    assert.throws(() => createClient({ url: srv.httpUrl, tls: { cert: pki.clientCert } }), /tls\.cert and tls\.key go together/);
    assert.throws(() => createClient({ url: srv.httpUrl, tls: { ca: 42 as never } }), /tls\.ca must be PEM/);
  });
});

describe("mutual TLS server", () => {
  let srv: RunningServer;
  before(async () => {
    srv = await startServer({ httpPort: 0, grpcPort: 0, tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca } });
  });
  after(() => srv.close());

  test("a client certificate signed by the server's CA gets through on both protocols", async () => {
    const tls = { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey.toString() };
    assert.deepEqual(await roundTrip({ url: srv.httpUrl, tls }), [1.25, -3, 8]);
    assert.deepEqual(await roundTrip({ url: srv.grpcUrl, tls }), [1.25, -3, 8]);
  });

  test("no client certificate: refused with a hint to set tls.cert and tls.key", async () => {
    for (const url of [srv.httpUrl, srv.grpcUrl]) {
      const e = await failure({ url, tls: { ca: pki.ca } });
      assert.equal(e.code, "unavailable");
      assert.match(e.message, /mutual TLS.*set tls\.cert and tls\.key/);
      assert.ok(e.message.includes(url), e.message);
    }
  });

  test("a client certificate from another CA is refused", async () => {
    for (const url of [srv.httpUrl, srv.grpcUrl]) {
      const e = await failure({ url, tls: { ca: pki.ca, cert: pki.otherClientCert, key: pki.otherClientKey } });
      assert.equal(e.code, "unavailable");
      assert.match(e.message, /tls\.cert (is|must be) signed by a CA (it|the server) trusts/);
    }
  });
});
