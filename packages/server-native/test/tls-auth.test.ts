// TLS, mutual TLS, authentication and response compression of the reference server, checked with raw
// clients (node:https / node:http, node:http2, grpc-js) rather than @iaas/client.
import assert from "node:assert/strict";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { connect as http2Connect } from "node:http2";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gunzipSync, gzipSync, inflateSync } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { PROTO_DIR, PROTO_FILES } from "@iaas/client/protocol";
import { startServer, type RunningServer, type StartServerOptions } from "../src/server.ts";
import { createTestPki, type TestPki } from "./tls-fixtures.ts";

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** One request on a fresh connection (no agent), body returned as received (not decompressed). */
function send(url: string, path: string, o: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const secure = url.startsWith("https:");
    const make = secure ? httpsRequest : httpRequest;
    const req = make(
      new URL(path, url),
      { method: o.method ?? (o.body === undefined ? "GET" : "POST"), headers: o.headers, agent: false, ...(secure ? { ca: o.ca, cert: o.cert, key: o.key } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}

const proto = grpc.loadPackageDefinition(
  protoLoader.loadSync(PROTO_FILES.map((f) => join(PROTO_DIR, f)), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] }),
) as any;

function grpcClient(address: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}): any {
  return new proto.inference.GRPCInferenceService(address.replace(/^grpcs?:\/\//, ""), credentials, options);
}

function unary(client: any, rpc: string, request: object, metadata = new grpc.Metadata()): Promise<any> {
  return new Promise((resolve, reject) => client[rpc](request, metadata, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res))));
}

async function rejectsWith(p: Promise<unknown>, code: grpc.status, details?: RegExp): Promise<grpc.ServiceError> {
  let caught: grpc.ServiceError | undefined;
  await assert.rejects(p, (err: grpc.ServiceError) => {
    caught = err;
    assert.equal(err.code, code, `${grpc.status[err.code]}: ${err.details}`);
    if (details) assert.match(err.details, details);
    return true;
  });
  return caught!;
}

const fp32Input = (values: number[]) => ({
  model_name: "identity_fp32",
  inputs: [{ name: "INPUT0", datatype: "FP32", shape: [values.length] }],
  raw_input_contents: [Buffer.from(new Float32Array(values).buffer)],
});

let pki: TestPki;
before(() => {
  pki = createTestPki();
});
after(() => pki.remove());

async function withServer(options: StartServerOptions, fn: (srv: RunningServer) => Promise<void>): Promise<void> {
  const srv = await startServer({ httpPort: 0, grpcPort: 0, ...options });
  try {
    await fn(srv);
  } finally {
    await srv.close();
  }
}

describe("TLS", () => {
  test("both ports serve TLS with the configured certificate; URLs say so", async () => {
    await withServer({ tls: { cert: pki.serverCert, key: pki.serverKey } }, async (srv) => {
      assert.match(srv.httpUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.match(srv.grpcUrl, /^grpcs:\/\/127\.0\.0\.1:\d+$/);
      const r = await send(srv.httpUrl, "/v2/health/ready", { ca: pki.ca });
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body.toString()), { ready: true });
      // The certificate names localhost too.
      const byName = await send(`https://localhost:${srv.httpPort}`, "/v2", { ca: pki.ca });
      assert.equal(byName.status, 200);

      const client = grpcClient(srv.grpcUrl, grpc.credentials.createSsl(pki.ca));
      try {
        assert.deepEqual(await unary(client, "ServerLive", {}), { live: true });
        const res = await unary(client, "ModelInfer", fp32Input([1.5, -2]));
        assert.deepEqual([...new Float32Array(new Uint8Array(res.raw_output_contents[0]).buffer)], [1.5, -2]);
      } finally {
        client.close();
      }
    });
  });

  test("plaintext clients and clients trusting another CA are refused", async () => {
    await withServer({ tls: { cert: pki.serverCert, key: pki.serverKey } }, async (srv) => {
      await assert.rejects(send(srv.httpUrl.replace("https:", "http:"), "/v2"), /socket hang up|ECONNRESET|other side closed/i);
      await assert.rejects(send(srv.httpUrl, "/v2", { ca: pki.otherCa }), (err: NodeJS.ErrnoException) => {
        assert.match(String(err.code), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
        return true;
      });
      const plain = grpcClient(srv.grpcUrl, grpc.credentials.createInsecure());
      const wrongCa = grpcClient(srv.grpcUrl, grpc.credentials.createSsl(pki.otherCa));
      try {
        await rejectsWith(unary(plain, "ServerLive", {}), grpc.status.UNAVAILABLE);
        await rejectsWith(unary(wrongCa, "ServerLive", {}), grpc.status.UNAVAILABLE, /certificate/i);
      } finally {
        plain.close();
        wrongCa.close();
      }
    });
  });

  test("mutual TLS: only clients with a certificate from the configured CA get through", async () => {
    await withServer({ tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca } }, async (srv) => {
      const ok = await send(srv.httpUrl, "/v2/health/live", { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey });
      assert.equal(ok.status, 200);
      await assert.rejects(send(srv.httpUrl, "/v2/health/live", { ca: pki.ca }), /certificate required|socket hang up|ECONNRESET|handshake/i);
      await assert.rejects(
        send(srv.httpUrl, "/v2/health/live", { ca: pki.ca, cert: pki.otherClientCert, key: pki.otherClientKey }),
        /unknown ca|socket hang up|ECONNRESET|decrypt|handshake/i,
      );

      const good = grpcClient(srv.grpcUrl, grpc.credentials.createSsl(pki.ca, pki.clientKey, pki.clientCert));
      const none = grpcClient(srv.grpcUrl, grpc.credentials.createSsl(pki.ca));
      const rogue = grpcClient(srv.grpcUrl, grpc.credentials.createSsl(pki.ca, pki.otherClientKey, pki.otherClientCert));
      try {
        assert.deepEqual(await unary(good, "ServerReady", {}), { ready: true });
        await rejectsWith(unary(none, "ServerReady", {}), grpc.status.UNAVAILABLE);
        await rejectsWith(unary(rogue, "ServerReady", {}), grpc.status.UNAVAILABLE);
      } finally {
        good.close();
        none.close();
        rogue.close();
      }
    });
  });

  test("requireClientCert: false keeps plain TLS even with a CA; bad TLS options fail start with a clear message", async () => {
    await withServer({ tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requireClientCert: false } }, async (srv) => {
      assert.equal((await send(srv.httpUrl, "/v2/health/live", { ca: pki.ca })).status, 200);
    });
    await assert.rejects(startServer({ httpPort: 0, grpcPort: 0, tls: { cert: pki.serverCert } as never }), /tls\.key must be PEM text/);
    await assert.rejects(
      startServer({ httpPort: 0, grpcPort: 0, tls: { cert: pki.serverCert, key: pki.serverKey, requireClientCert: true } }),
      /requireClientCert is true but tls\.ca is not set/,
    );
    // A key that does not belong to the certificate is refused by the TLS layer before the ports open.
    await assert.rejects(startServer({ httpPort: 0, grpcPort: 0, tls: { cert: pki.serverCert, key: pki.clientKey } }), /key values mismatch|mismatch/i);
  });
});

describe("bearer-token authentication", () => {
  let srv: RunningServer;
  before(async () => {
    srv = await startServer({ httpPort: 0, grpcPort: 0, auth: { bearerTokens: ["tok-one", "tok-two"] } });
  });
  after(() => srv.close());

  test("HTTP: 401 with WWW-Authenticate and a JSON error without or with a wrong token; 200 with either token", async () => {
    for (const headers of [{}, { authorization: "Bearer nope" }, { authorization: "Basic dG9rLW9uZTo=" }] as Record<string, string>[]) {
      for (const path of ["/v2", "/v2/health/ready", "/v2/models/identity_fp32"]) {
        const r = await send(srv.httpUrl, path, { headers });
        assert.equal(r.status, 401, `${path} ${JSON.stringify(headers)}`);
        assert.match(String(r.headers["www-authenticate"]), /^Bearer/);
        assert.match(JSON.parse(r.body.toString()).error, /authentication required|not accepted/);
      }
    }
    for (const token of ["tok-one", "tok-two"]) {
      const r = await send(srv.httpUrl, "/v2/models/identity_fp32/infer", {
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify({ inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1], data: [7] }] }),
      });
      assert.equal(r.status, 200, r.body.toString());
      assert.deepEqual(JSON.parse(r.body.toString()).outputs[0].data, [7]);
    }
    // A refused POST does not poison the keep-alive connection for the next request (body drained by node).
    const big = JSON.stringify({ inputs: [{ name: "INPUT0", datatype: "FP32", shape: [50_000], data: new Array(50_000).fill(1) }] });
    assert.equal((await send(srv.httpUrl, "/v2/models/identity_fp32/infer", { body: big })).status, 401);
  });

  test("gRPC: UNAUTHENTICATED without or with a wrong token, on unary, health and streaming methods", async () => {
    const client = grpcClient(srv.grpcUrl, grpc.credentials.createInsecure());
    const health = new proto.grpc.health.v1.Health(srv.grpcUrl, grpc.credentials.createInsecure());
    try {
      const wrong = new grpc.Metadata();
      wrong.set("authorization", "Bearer nope");
      for (const md of [new grpc.Metadata(), wrong]) {
        await rejectsWith(unary(client, "ServerMetadata", {}, md), grpc.status.UNAUTHENTICATED, /authentication required|not accepted/);
        await rejectsWith(unary(client, "ModelInfer", fp32Input([1]), md), grpc.status.UNAUTHENTICATED);
        await rejectsWith(unary(health, "Check", { service: "" }, md), grpc.status.UNAUTHENTICATED);
      }
      const stream = client.ModelStreamInfer(new grpc.Metadata());
      const streamError = new Promise<grpc.ServiceError>((resolve) => stream.on("error", resolve));
      stream.on("data", () => assert.fail("an unauthenticated stream must not get responses"));
      stream.write(fp32Input([1]));
      stream.end();
      assert.equal((await streamError).code, grpc.status.UNAUTHENTICATED);

      const md = new grpc.Metadata();
      md.set("authorization", "Bearer tok-two");
      const res = await unary(client, "ModelInfer", fp32Input([3, 4]), md);
      assert.deepEqual([...new Float32Array(new Uint8Array(res.raw_output_contents[0]).buffer)], [3, 4]);
      assert.equal((await unary(health, "Check", { service: "" }, md)).status, "SERVING");
    } finally {
      client.close();
      health.close();
    }
  });
});

describe("verify-function authentication", () => {
  test("verify sees protocol, operation and headers; async answers; a throw is an internal error; health can be left open", async () => {
    const seen: string[] = [];
    const basic = `Basic ${Buffer.from("ada:lovelace").toString("base64")}`;
    await withServer(
      {
        auth: {
          allowUnauthenticatedHealth: true,
          verify: async (r) => {
            seen.push(`${r.protocol} ${r.operation}`);
            if (r.headers["x-explode"] === "1") throw new Error("user store offline");
            await new Promise((resolve) => setImmediate(resolve));
            return r.headers.authorization === basic;
          },
        },
      },
      async (srv) => {
        assert.equal((await send(srv.httpUrl, "/v2/health/live")).status, 200);
        assert.equal((await send(srv.httpUrl, "/v2")).status, 401);
        assert.equal((await send(srv.httpUrl, "/v2", { headers: { authorization: basic } })).status, 200);
        const boom = await send(srv.httpUrl, "/v2", { headers: { "x-explode": "1" } });
        assert.equal(boom.status, 500);
        assert.match(JSON.parse(boom.body.toString()).error, /authentication check failed: user store offline/);

        const client = grpcClient(srv.grpcUrl, grpc.credentials.createInsecure());
        try {
          assert.deepEqual(await unary(client, "ServerLive", {}), { live: true });
          await rejectsWith(unary(client, "ServerMetadata", {}), grpc.status.UNAUTHENTICATED);
          const md = new grpc.Metadata();
          md.set("authorization", basic);
          assert.equal((await unary(client, "ServerMetadata", {}, md)).name, "iaas");
          const explode = new grpc.Metadata();
          explode.set("x-explode", "1");
          await rejectsWith(unary(client, "ServerMetadata", {}, explode), grpc.status.INTERNAL, /user store offline/);
        } finally {
          client.close();
        }
        assert.ok(seen.includes("http GET /v2"), seen.join("; "));
        assert.ok(seen.includes("grpc /inference.GRPCInferenceService/ServerMetadata"), seen.join("; "));
        assert.ok(!seen.some((s) => s.includes("health") || s.includes("ServerLive")), "exempt health checks never reach verify");
      },
    );
    await assert.rejects(startServer({ httpPort: 0, grpcPort: 0, auth: {} }), /auth needs bearerTokens or a verify function/);
  });
});

describe("compression", () => {
  let srv: RunningServer;
  before(async () => {
    srv = await startServer({ httpPort: 0, grpcPort: 0 });
  });
  after(() => srv.close());

  const inferBody = JSON.stringify({ inputs: [{ name: "INPUT0", datatype: "FP32", shape: [256], data: new Array(256).fill(0.5) }] });

  test("HTTP responses honour Accept-Encoding (gzip preferred, deflate, q=0, *, none; not under 1 KiB)", async () => {
    const plain = await send(srv.httpUrl, "/v2/models/identity_fp32/infer", { body: inferBody });
    assert.equal(plain.headers["content-encoding"], undefined);
    const expected = JSON.parse(plain.body.toString());

    const gz = await send(srv.httpUrl, "/v2/models/identity_fp32/infer", { body: inferBody, headers: { "accept-encoding": "deflate;q=0.5, gzip" } });
    assert.equal(gz.headers["content-encoding"], "gzip");
    assert.equal(gz.headers.vary, "Accept-Encoding");
    assert.equal(Number(gz.headers["content-length"]), gz.body.byteLength);
    assert.ok(gz.body.byteLength < plain.body.byteLength / 4, `compressed ${gz.body.byteLength} vs ${plain.body.byteLength}`);
    assert.deepEqual(JSON.parse(gunzipSync(gz.body).toString()), expected);

    const df = await send(srv.httpUrl, "/v2/models/identity_fp32/infer", { body: inferBody, headers: { "accept-encoding": "gzip;q=0, deflate" } });
    assert.equal(df.headers["content-encoding"], "deflate");
    assert.deepEqual(JSON.parse(inflateSync(df.body).toString()), expected);

    const refused = await send(srv.httpUrl, "/v2/models/identity_fp32/infer", { body: inferBody, headers: { "accept-encoding": "br, gzip;q=0" } });
    assert.equal(refused.headers["content-encoding"], undefined);
    assert.deepEqual(JSON.parse(refused.body.toString()), expected);
    const star = await send(srv.httpUrl, "/v2/models/identity_fp32/infer", { body: inferBody, headers: { "accept-encoding": "*" } });
    assert.equal(star.headers["content-encoding"], "gzip");
    // Answers under 1 KiB are not worth compressing.
    const small = await send(srv.httpUrl, "/v2", { headers: { "accept-encoding": "gzip" } });
    assert.ok(small.body.byteLength < 1024);
    assert.equal(small.headers["content-encoding"], undefined);
    assert.equal(JSON.parse(small.body.toString()).name, "iaas");
  });

  test("HTTP binary responses compress as a whole; Inference-Header-Content-Length counts the uncompressed JSON", async () => {
    const values = new Float32Array(1000).map((_, i) => i);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1000], parameters: { binary_data_size: 4000 } }], parameters: { binary_data_output: true } }));
    const r = await send(srv.httpUrl, "/v2/models/identity_fp32/infer", {
      body: gzipSync(Buffer.concat([header, Buffer.from(values.buffer)])),
      headers: { "content-encoding": "gzip", "inference-header-content-length": String(header.byteLength), "accept-encoding": "gzip" },
    });
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.headers["content-encoding"], "gzip");
    const body = gunzipSync(r.body);
    const n = Number(r.headers["inference-header-content-length"]);
    assert.equal(JSON.parse(body.subarray(0, n).toString()).outputs[0].parameters.binary_data_size, 4000);
    assert.deepEqual(new Float32Array(body.buffer.slice(body.byteOffset + n, body.byteOffset + n + 4000)), values);
  });

  test("gRPC: a gzip-compressed request message (compressed flag set on the wire) is accepted", async () => {
    // Frame by hand over node:http2 so the test knows the message really went out compressed.
    const serialize = proto.inference.GRPCInferenceService.service.ModelInfer.requestSerialize as (m: object) => Buffer;
    const deserialize = proto.inference.GRPCInferenceService.service.ModelInfer.responseDeserialize as (b: Buffer) => any;
    const message = gzipSync(serialize(fp32Input(new Array(512).fill(2.25))));
    const frame = Buffer.alloc(5 + message.byteLength);
    frame[0] = 1;
    frame.writeUInt32BE(message.byteLength, 1);
    message.copy(frame, 5);
    const session = http2Connect(`http://${srv.grpcUrl}`);
    try {
      const { data, trailers } = await new Promise<{ data: Buffer; trailers: Record<string, unknown> }>((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": "/inference.GRPCInferenceService/ModelInfer",
          "content-type": "application/grpc",
          te: "trailers",
          "grpc-encoding": "gzip",
        });
        const chunks: Buffer[] = [];
        let trailers: Record<string, unknown> = {};
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("trailers", (t) => (trailers = t));
        stream.on("end", () => resolve({ data: Buffer.concat(chunks), trailers }));
        stream.on("error", reject);
        stream.end(frame);
      });
      assert.equal(trailers["grpc-status"], "0", String(trailers["grpc-message"]));
      assert.equal(data[0], 0, "the server answers uncompressed");
      const res = deserialize(data.subarray(5, 5 + data.readUInt32BE(1)));
      const out = new Float32Array(new Uint8Array(res.raw_output_contents[0]).buffer);
      assert.equal(out.length, 512);
      assert.ok(out.every((v) => v === 2.25));
    } finally {
      session.close();
    }
  });
});
