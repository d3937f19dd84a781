// The iaas-h2 connection's HPACK encoder with a dynamic table: the headers every call repeats are indexed
// after their first block, per-call values stay out of the table, credentials are never-indexed, the
// server's SETTINGS_HEADER_TABLE_SIZE is honoured (size updates, eviction), and what goes out decodes
// right both in our decoder and in node:http2 (nghttp2), call after call, with eviction under a small table;
// and the session's turn buffer (requests written in place) under socket backpressure.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import type net from "node:net";
import { HpackEncoder } from "../src/transport/grpc/wire-h2/hpack-encoder.ts";
import { HpackDecoder } from "../src/transport/grpc/wire-h2/hpack-decoder.ts";
import { WireConnection } from "../src/transport/grpc/wire-h2/connection.ts";
import { wireUnaryCall } from "../src/transport/grpc/wire-h2/wire-call.ts";
import { requestHeaders } from "../src/transport/grpc/h2/unary-call.ts";

const PLAIN = requestHeaders("http", "127.0.0.1:8001", "/inference.GRPCInferenceService/ModelInfer");

describe("HPACK encoder with a dynamic table", () => {
  test("a shared list is literal with indexing once, then all indices (and the block is kept); it decodes the same each time", () => {
    const e = new HpackEncoder();
    const d = new HpackDecoder();
    const first = e.encode(PLAIN, true);
    assert.deepEqual(d.decode(first, 0, first.length), PLAIN);
    // :authority, :path, content-type, te, grpc-accept-encoding, user-agent entered both tables.
    assert.equal(e.entries, 6);
    assert.equal(d.tableLength, 6);
    const second = e.encode(PLAIN, true);
    assert.ok(first.length > 100, `first block ${first.length} bytes`);
    // 8 headers, one byte each: dropping the dynamic table makes this ~150 bytes again.
    assert.equal(second.length, 8, `second block ${second.toString("hex")}`);
    assert.deepEqual(d.decode(second, 0, second.length), PLAIN);
    assert.equal(e.encode(PLAIN, true), second, "the all-indices block is reused while the table stays");
    const third = e.encode(PLAIN, false);
    assert.deepEqual(third, second);
    assert.deepEqual(d.decode(third, 0, third.length), PLAIN);
  });

  test("per-call values are literals without indexing; credentials are never-indexed; both decode", () => {
    const e = new HpackEncoder();
    const d = new HpackDecoder();
    for (let i = 0; i < 2; i++) {
      const b = e.encode(PLAIN, true);
      d.decode(b, 0, b.length);
    }
    const entries = e.entries;
    const withTimeout = [...PLAIN, "grpc-timeout", "999m", "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"];
    const b = e.encode(withTimeout, false);
    assert.equal(e.entries, entries, "per-call values stay out of the table");
    assert.deepEqual(d.decode(b, 0, b.length), withTimeout);
    // After the 8 indexed bytes: 0x00 (literal without indexing, new name).
    assert.equal(b[8], 0x00);
    const withAuth = [...PLAIN, "authorization", "Bearer secret-token"];
    const a = e.encode(withAuth, false);
    // authorization is static name index 23: never-indexed with a 4-bit prefix, 0x10 | 15, then 23 - 15.
    assert.deepEqual([...a.subarray(8, 10)], [0x1f, 23 - 15]);
    assert.equal(e.entries, entries);
    assert.deepEqual(d.decode(a, 0, a.length), withAuth);
    assert.equal(d.tableLength, entries, "the decoder did not index the never-indexed or per-call fields either");
  });

  test("SETTINGS_HEADER_TABLE_SIZE: size updates (the smallest first), eviction, and a zero-size table", () => {
    const e = new HpackEncoder();
    e.setLimit(65_536);
    assert.equal(e.maxSize, 4096, "a larger limit keeps our 4096-octet table (no update owed)");
    const b0 = e.encode(PLAIN, false);
    assert.notEqual(b0[0]! & 0xe0, 0x20, "no size update");
    e.setLimit(0);
    e.setLimit(200);
    const b1 = e.encode(PLAIN, false);
    // Size update to 0 (0x20), then to 200: 0x3f and 200 - 31 = 169 as 0xa9 0x01.
    assert.deepEqual([...b1.subarray(0, 4)], [0x20, 0x3f, 0xa9, 0x01]);
    const d = new HpackDecoder(4096);
    d.decode(b0, 0, b0.length);
    assert.deepEqual(d.decode(b1, 0, b1.length), PLAIN);
    assert.ok(d.tableSize <= 200);
    const z = new HpackEncoder();
    z.setLimit(0);
    const dz = new HpackDecoder(0);
    for (let i = 0; i < 3; i++) {
      const b = z.encode(PLAIN, true);
      assert.deepEqual(dz.decode(b, 0, b.length), PLAIN);
      assert.equal(z.entries, 0);
    }
  });

  test("many different lists under a small table: every block decodes right through constant eviction", () => {
    for (const limit of [120, 256, 700]) {
      const e = new HpackEncoder();
      e.setLimit(limit);
      const d = new HpackDecoder(limit);
      const lists = Array.from({ length: 7 }, (_, m) => requestHeaders("http", `h${m % 2}:1`, `/inference.GRPCInferenceService/Model${"x".repeat(m * 9)}`));
      let seed = 7;
      for (let i = 0; i < 400; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        const list = lists[seed % lists.length]!;
        const shared = (seed >> 8) % 3 !== 0;
        const sent = shared ? list : [...list, "grpc-timeout", `${seed % 1000}m`];
        const b = e.encode(sent, shared);
        assert.deepEqual(d.decode(b, 0, b.length), sent, `limit ${limit}, block ${i}`);
        assert.ok(d.tableSize <= limit);
      }
    }
  });
});

describe("iaas-h2 against node:http2 with the dynamic table in use", () => {
  const closers: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  /** A node:http2 gRPC echo: the answer is the request headers it saw (JSON), status 0. */
  async function startEcho(headerTableSize: number | undefined) {
    const server = http2.createServer(headerTableSize === undefined ? {} : { settings: { headerTableSize } });
    const sockets: net.Socket[] = [];
    server.on("session", (s) => sockets.push(s.socket as net.Socket));
    server.on("stream", (stream, headers) => {
      stream.on("data", () => {});
      stream.on("end", () => {
        const seen: Record<string, string> = {};
        for (const name of [":path", ":authority", ":method", ":scheme", "content-type", "te", "grpc-accept-encoding", "user-agent", "grpc-timeout", "x-call", "authorization"])
          if (headers[name] !== undefined) seen[name] = String(headers[name]);
        const body = Buffer.from(JSON.stringify(seen));
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(body.length, 1);
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        stream.end(Buffer.concat([prefix, body]));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const conn = new WireConnection({ address: `127.0.0.1:${port}`, secure: false });
    closers.push(() => conn.close());
    return { conn, port, sockets };
  }

  const expected = (list: readonly string[]): Record<string, string> => {
    const o: Record<string, string> = {};
    for (let i = 0; i < list.length; i += 2) o[list[i]!] = list[i] === "grpc-accept-encoding" ? "identity" : list[i + 1]!;
    return o;
  };

  async function run(conn: WireConnection, port: number, rounds: number): Promise<void> {
    const lists = Array.from({ length: 5 }, (_, m) => requestHeaders("http", `127.0.0.1:${port}`, `/inference.GRPCInferenceService/M${m}${"y".repeat(m * 13)}`));
    for (let r = 0; r < rounds; r++) {
      // 40 calls at once, shared and per-call lists mixed: their blocks are encoded in the order they go out.
      const calls = Array.from({ length: 40 }, (_, i) => {
        const base = lists[(i * 7 + r) % lists.length]!;
        const perCall = i % 3 === 0;
        const headers = perCall ? [...base, "x-call", `r${r}-i${i}`, "authorization", `Bearer t${i}`] : base;
        return wireUnaryCall<Buffer>(conn, { headers, message: [Buffer.from([r, i])], maxMessageLength: 1 << 20 }, !perCall).then((answer) => {
          const seen = JSON.parse(answer.toString()) as Record<string, string>;
          assert.deepEqual(seen, expected(headers), `round ${r}, call ${i}`);
        });
      });
      await Promise.all(calls);
    }
  }

  test("the default table: every request's headers arrive intact, and repeated calls send a few bytes of headers each", async () => {
    const { conn, port, sockets } = await startEcho(undefined);
    const list = requestHeaders("http", `127.0.0.1:${port}`, "/inference.GRPCInferenceService/ModelInfer");
    await wireUnaryCall<Buffer>(conn, { headers: list, message: [Buffer.alloc(4)], maxMessageLength: 1 << 20 }, true);
    const before = sockets[0]!.bytesRead;
    for (let i = 0; i < 50; i++) {
      const answer = await wireUnaryCall<Buffer>(conn, { headers: list, message: [Buffer.alloc(4)], maxMessageLength: 1 << 20 }, true);
      assert.deepEqual(JSON.parse(answer.toString()), expected(list));
    }
    const perCall = (sockets[0]!.bytesRead - before) / 50;
    // HEADERS (9 + 8) + DATA (9 + 5 + 4) = 35 bytes; with literal headers it is ~190.
    assert.ok(perCall < 60, `${perCall} bytes per call`);
    await run(conn, port, 4);
  });

  test("SETTINGS_HEADER_TABLE_SIZE 150: constant eviction, still every request's headers arrive intact", async () => {
    const { conn, port } = await startEcho(150);
    await run(conn, port, 6);
  });

  test("a turn's small requests written in place: 400 calls of 12 KB at once (socket writes back up) all arrive intact", async () => {
    const server = http2.createServer({ settings: { initialWindowSize: 2 ** 31 - 1 } });
    server.on("session", (s) => s.setLocalWindowSize(2 ** 31 - 1));
    server.on("stream", (stream) => {
      const parts: Buffer[] = [];
      stream.on("data", (d: Buffer) => parts.push(d));
      stream.on("end", () => {
        // The request's message is echoed as the answer (same 5-byte prefix).
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        stream.end(Buffer.concat(parts));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const conn = new WireConnection({ address: `127.0.0.1:${port}`, secure: false });
    closers.push(() => conn.close());
    const list = requestHeaders("http", `127.0.0.1:${port}`, "/inference.GRPCInferenceService/ModelInfer");
    await wireUnaryCall<Buffer>(conn, { headers: list, message: [Buffer.alloc(1)], maxMessageLength: 1 << 20 }, true);
    const messages = Array.from({ length: 400 }, (_, i) => Buffer.alloc(12_000, i % 251));
    const answers = await Promise.all(messages.map((m) => wireUnaryCall<Buffer>(conn, { headers: list, message: [m.subarray(0, 5000), m.subarray(5000)], maxMessageLength: 1 << 20 }, true)));
    for (let i = 0; i < messages.length; i++) assert.ok(answers[i]!.equals(messages[i]!), `call ${i}`);
  });

  test("SETTINGS_HEADER_TABLE_SIZE 0: no table, literals only", async () => {
    const { conn, port } = await startEcho(0);
    await run(conn, port, 2);
  });
});
