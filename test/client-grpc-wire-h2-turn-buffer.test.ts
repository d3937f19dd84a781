// The iaas-h2 session writes each turn's small requests (HEADERS + DATA) straight into one buffer and
// reuses it only once the socket has taken the bytes; over TLS writes complete later, so the written part
// must stay untouched until sent. Many distinct requests at once over TLS (node:http2 echo server) all
// arrive intact, with the HPACK dynamic table in use.
import assert from "node:assert/strict";
import http2 from "node:http2";
import type net from "node:net";
import { after, test } from "node:test";
import { WireConnection } from "../packages/client/src/transport/grpc/wire-h2/connection.ts";
import { wireUnaryCall } from "../packages/client/src/transport/grpc/wire-h2/wire-call.ts";
import { requestHeaders } from "../packages/client/src/transport/grpc/h2/unary-call.ts";
import { createTestPki } from "../packages/server-native/test/tls-fixtures.ts";

const closers: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

test("over TLS: 300 calls of 3-12 KB at once, several turns, each answer is its own request echoed", async () => {
  const pki = createTestPki();
  const server = http2.createSecureServer({ key: pki.serverKey, cert: pki.serverCert, settings: { initialWindowSize: 2 ** 31 - 1 } });
  server.on("session", (s) => s.setLocalWindowSize(2 ** 31 - 1));
  server.on("stream", (stream, headers) => {
    const parts: Buffer[] = [];
    stream.on("data", (d: Buffer) => parts.push(d));
    stream.on("end", () => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      // The request's message (same 5-byte prefix) and, to check the headers too, its x-call value.
      const body = Buffer.concat(parts);
      assert.equal(headers["x-call"], String(body[5]! + 256 * body[6]!));
      stream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const conn = new WireConnection({ address: `127.0.0.1:${port}`, secure: true, tls: { ca: pki.ca, servername: "localhost" } });
  closers.push(() => conn.close());
  const base = requestHeaders("https", `127.0.0.1:${port}`, "/inference.GRPCInferenceService/ModelInfer");
  for (let round = 0; round < 3; round++) {
    const messages = Array.from({ length: 100 }, (_, i) => {
      const n = round * 100 + i;
      const m = Buffer.alloc(3000 + ((n * 977) % 9000), (n * 7) % 251);
      m[0] = n & 0xff;
      m[1] = n >> 8;
      return m;
    });
    const answers = await Promise.all(
      messages.map((m, i) =>
        wireUnaryCall<Buffer>(conn, { headers: [...base, "x-call", String(round * 100 + i)], message: [m], maxMessageLength: 1 << 20 }, false),
      ),
    );
    for (let i = 0; i < messages.length; i++) assert.ok(answers[i]!.equals(messages[i]!), `round ${round}, call ${i}`);
  }
});
