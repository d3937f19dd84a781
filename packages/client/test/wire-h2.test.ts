// The client's own HTTP/2 connection (transport/grpc/wire-h2/, grpc.implementation "iaas-h2"): Huffman
// code and HPACK against RFC 7541 Appendix B / C, the frame reader on split and padded input, and the
// connection against a hand-driven HTTP/2 peer on a real socket: flow control both ways, the peer's
// stream limit, GOAWAY, CONTINUATION / padding / dynamic-table answers, statuses, resets, abort and
// protocol errors.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { CODES, CODE_LENGTHS, huffmanDecode, huffmanEncode } from "../src/transport/grpc/wire-h2/huffman.ts";
import { HpackDecoder, HpackError } from "../src/transport/grpc/wire-h2/hpack-decoder.ts";
import { encodeHeaderBlock } from "../src/transport/grpc/wire-h2/hpack-encoder.ts";
import {
  ConnectionError,
  ErrorCode,
  Flag,
  FrameReader,
  FrameType,
  Setting,
  goawayFrame,
  rstStreamFrame,
  settingsFrame,
  windowUpdateFrame,
  writeFrameHeader,
  type FrameSink,
} from "../src/transport/grpc/wire-h2/frames.ts";
import { WireConnection } from "../src/transport/grpc/wire-h2/connection.ts";
import { wireUnaryCall } from "../src/transport/grpc/wire-h2/wire-call.ts";
import { requestHeaders } from "../src/transport/grpc/h2/unary-call.ts";
import type { GrpcStatusError } from "../src/transport/grpc/h2/status.ts";
import { inferImplementation } from "../src/transport/grpc/h2/implementation.ts";
import { InferenceError } from "../src/errors.ts";
import { frame, grpcMessage, startH2Peer, type PeerScript, type PeerStream } from "./support/h2-peer.ts";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const pairs = (list: string[]) => {
  const out: [string, string][] = [];
  for (let i = 0; i < list.length; i += 2) out.push([list[i]!, list[i + 1]!]);
  return out;
};

describe("grpc.implementation", () => {
  test('"iaas-h2" (the default) selects the own connection, except with request compression (node:http2) or custom credentials (grpc-js)', () => {
    assert.equal(inferImplementation({ implementation: "iaas-h2" }, false), "iaas-h2");
    assert.equal(inferImplementation({ implementation: "iaas-h2" }, false, "none"), "iaas-h2");
    assert.equal(inferImplementation({ implementation: "iaas-h2" }, false, "gzip"), "http2");
    assert.equal(inferImplementation({ implementation: "iaas-h2" }, true), "grpc-js");
    assert.equal(inferImplementation(undefined, false), "iaas-h2", "the default");
    assert.equal(inferImplementation(undefined, false, "deflate"), "http2");
    assert.equal(inferImplementation({ implementation: "http2" }, false), "http2");
    assert.equal(inferImplementation({ channelOptions: {} }, false), "grpc-js");
    assert.throws(
      () => inferImplementation({ implementation: "h3" as "http2" }, false),
      (e: unknown) => e instanceof InferenceError && e.code === "invalid_argument" && /"http2", "iaas-h2" or "grpc-js"/.test(e.message),
    );
  });
});

describe("Huffman code (RFC 7541 Appendix B)", () => {
  test("the canonical code rebuilt from the lengths is complete and matches the table's codes", () => {
    let kraft = 0;
    for (const len of CODE_LENGTHS) kraft += 2 ** -len;
    assert.equal(kraft, 1);
    const expected: Record<number, number> = {
      0: 0x1ff8, 1: 0x7fffd8, 9: 0xffffea, 10: 0x3ffffffc, 32: 0x14, 48: 0x0, 60: 0x7ffc, 92: 0x7fff0, 122: 0x7b,
      127: 0xffffffc, 128: 0xfffe6, 153: 0x1fffdc, 199: 0x1ffffec, 203: 0x7ffffde, 220: 0xffffffd, 255: 0x3ffffee, 256: 0x3fffffff,
    };
    for (const [sym, code] of Object.entries(expected)) assert.equal(CODES[Number(sym)], code, `symbol ${sym}`);
  });

  test("every byte value round-trips; bad padding and EOS are rejected", () => {
    let all = "";
    for (let i = 0; i < 256; i++) all += String.fromCharCode(i);
    const enc = huffmanEncode(all);
    assert.equal(huffmanDecode(enc, 0, enc.length), all);
    assert.equal(huffmanDecode(hex("f1e3c2e5f23a6ba0ab90f4ff"), 0, 12), "www.example.com");
    // 'a' (00011) padded with zeros instead of ones.
    assert.throws(() => huffmanDecode(Buffer.from([0b00011000]), 0, 1), /padding/);
    // Padding of 8+ bits (a whole 0xff byte after 'a' + 3 one-bits).
    assert.throws(() => huffmanDecode(Buffer.from([0b00011111, 0xff]), 0, 2), /padding/);
    // EOS itself (30 ones).
    assert.throws(() => huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4), /EOS/);
  });
});

describe("HPACK decoder (RFC 7541 Appendix C)", () => {
  test("C.2: the four field representations", () => {
    const d = new HpackDecoder();
    const b1 = hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
    assert.deepEqual(pairs(d.decode(b1, 0, b1.length)), [["custom-key", "custom-header"]]);
    assert.equal(d.tableSize, 55);
    const b2 = hex("040c 2f73 616d 706c 652f 7061 7468");
    assert.deepEqual(pairs(new HpackDecoder().decode(b2, 0, b2.length)), [[":path", "/sample/path"]]);
    const b3 = hex("1008 7061 7373 776f 7264 0673 6563 7265 74");
    const d3 = new HpackDecoder();
    assert.deepEqual(pairs(d3.decode(b3, 0, b3.length)), [["password", "secret"]]);
    assert.equal(d3.tableLength, 0);
    assert.deepEqual(pairs(new HpackDecoder().decode(hex("82"), 0, 1)), [[":method", "GET"]]);
  });

  const requests = [
    [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]],
    [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"], ["cache-control", "no-cache"]],
    [[":method", "GET"], [":scheme", "https"], [":path", "/index.html"], [":authority", "www.example.com"], ["custom-key", "custom-value"]],
  ];

  for (const [name, blocks] of [
    ["C.3: requests without Huffman", ["8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", "8286 84be 5808 6e6f 2d63 6163 6865", "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"]],
    ["C.4: requests with Huffman", ["8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", "8286 84be 5886 a8eb 1064 9cbf", "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"]],
  ] as const) {
    test(`${name}: three blocks on one decoder, dynamic table as in the RFC`, () => {
      const d = new HpackDecoder();
      const sizes = [57, 110, 164];
      blocks.forEach((h, i) => {
        const b = hex(h);
        assert.deepEqual(pairs(d.decode(b, 0, b.length)), requests[i]);
        assert.equal(d.tableSize, sizes[i]);
      });
      assert.deepEqual(d.entry(62), ["custom-key", "custom-value"]);
      assert.deepEqual(d.entry(64), [":authority", "www.example.com"]);
    });
  }

  const date1 = "Mon, 21 Oct 2013 20:13:21 GMT";
  const responses = [
    [[":status", "302"], ["cache-control", "private"], ["date", date1], ["location", "https://www.example.com"]],
    [[":status", "307"], ["cache-control", "private"], ["date", date1], ["location", "https://www.example.com"]],
    [
      [":status", "200"], ["cache-control", "private"], ["date", "Mon, 21 Oct 2013 20:13:22 GMT"], ["location", "https://www.example.com"],
      ["content-encoding", "gzip"], ["set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"],
    ],
  ];
  const lit = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s, "latin1")]).toString("hex");
  const c5 = [
    `48${lit("302")}58${lit("private")}61${lit(date1)}6e${lit("https://www.example.com")}`,
    "4803 3330 37c1 c0bf",
    "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
  ];
  const c6 = [
    "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
    "4883 640e ffc1 c0bf",
    "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
  ];
  for (const [name, blocks] of [["C.5: responses without Huffman", c5], ["C.6: responses with Huffman", c6]] as const) {
    test(`${name}: a 256-byte table evicts as in the RFC`, () => {
      // SETTINGS_HEADER_TABLE_SIZE 256 in these examples.
      const d = new HpackDecoder(256);
      const sizes = [222, 222, 215];
      const lengths = [4, 4, 3];
      blocks.forEach((h, i) => {
        const b = hex(h);
        assert.deepEqual(pairs(d.decode(b, 0, b.length)), responses[i]);
        assert.equal(d.tableSize, sizes[i]);
        assert.equal(d.tableLength, lengths[i]);
      });
      assert.deepEqual(d.entry(62)[0], "set-cookie");
      assert.deepEqual(d.entry(64), ["date", "Mon, 21 Oct 2013 20:13:22 GMT"]);
    });
  }

  test("C.1 integers, size updates and malformed blocks", () => {
    // 1337 with a 5-bit prefix is 1f 9a 0a (C.1.2): as a table size update it must be accepted up to the limit.
    const d = new HpackDecoder(4096);
    const upd = hex("3f9a0a");
    assert.deepEqual(d.decode(upd, 0, upd.length), []);
    assert.throws(() => new HpackDecoder(1000).decode(upd, 0, upd.length), /exceeds the announced 1000/);
    // A size update to 0 empties the table.
    const d2 = new HpackDecoder();
    const add = hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
    d2.decode(add, 0, add.length);
    assert.equal(d2.tableLength, 1);
    d2.decode(hex("20"), 0, 1);
    assert.equal(d2.tableLength, 0);
    // Size update after a field, index 0, index beyond the table, truncated string: errors.
    assert.throws(() => new HpackDecoder().decode(hex("8220"), 0, 2), HpackError);
    assert.throws(() => new HpackDecoder().decode(hex("80"), 0, 1), HpackError);
    assert.throws(() => new HpackDecoder().decode(hex("be"), 0, 1), /beyond the table/);
    assert.throws(() => new HpackDecoder().decode(hex("0405 2f61"), 0, 4), /overruns/);
  });

  test("the encoder's blocks decode back, long values included (multi-byte lengths)", () => {
    const list = [":method", "POST", ":scheme", "http", ":path", "/inference.GRPCInferenceService/ModelInfer", ":authority", "h:1", "te", "trailers", "x-long", "v".repeat(300)];
    const block = encodeHeaderBlock(list);
    assert.equal(block[0], 0x83); // :method POST, static index 3
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(block, 0, block.length), list);
    assert.equal(d.tableLength, 0);
  });
});

describe("frame reader", () => {
  function collect(): { sink: FrameSink; frames: string[]; data: Buffer[] } {
    const frames: string[] = [];
    const data: Buffer[] = [];
    return {
      frames,
      data,
      sink: {
        onDataPiece(streamId, piece, last, endStream, frameLength) {
          data.push(Buffer.from(piece));
          if (last) frames.push(`DATA ${streamId} end=${endStream} len=${frameLength}`);
        },
        onFrame(type, flags, streamId, payload) {
          frames.push(`${type} ${flags} ${streamId} ${payload.toString("hex")}`);
        },
      },
    };
  }

  test("frames split at every byte position come out the same; padding is removed from DATA", () => {
    const ping = Buffer.alloc(17);
    writeFrameHeader(ping, 0, 8, FrameType.PING, 0, 0);
    ping.write("abcdefgh", 9, "latin1");
    // Padded DATA: pad length 3, data "hello", 3 bytes padding, END_STREAM.
    const data = Buffer.alloc(9 + 1 + 5 + 3);
    writeFrameHeader(data, 0, 9, FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 5);
    data[9] = 3;
    data.write("hello", 10, "latin1");
    const empty = Buffer.alloc(9);
    writeFrameHeader(empty, 0, 0, FrameType.SETTINGS, Flag.ACK, 0);
    const stream = Buffer.concat([ping, data, empty, settingsFrame([[Setting.MAX_FRAME_SIZE, 20000]])]);
    const whole = collect();
    new FrameReader(whole.sink, 1 << 20).push(stream);
    assert.equal(whole.frames.length, 4);
    assert.equal(Buffer.concat(whole.data).toString(), "hello");
    assert.equal(whole.frames[1], "DATA 5 end=true len=9");
    for (let cut = 1; cut < stream.length; cut++) {
      const c = collect();
      const r = new FrameReader(c.sink, 1 << 20);
      r.push(stream.subarray(0, cut));
      r.push(stream.subarray(cut));
      assert.deepEqual(c.frames, whole.frames, `cut at ${cut}`);
      assert.equal(Buffer.concat(c.data).toString(), "hello", `cut at ${cut}`);
    }
  });

  test("a frame above our SETTINGS_MAX_FRAME_SIZE is a FRAME_SIZE_ERROR", () => {
    const big = Buffer.alloc(9);
    writeFrameHeader(big, 0, 20_000, FrameType.HEADERS, 0, 1);
    assert.throws(
      () => new FrameReader(collect().sink, 16_384).push(big),
      (e: unknown) => e instanceof ConnectionError && e.h2code === ErrorCode.FRAME_SIZE_ERROR,
    );
  });
});

// ---- against a hand-driven HTTP/2 peer on a real socket (support/h2-peer.ts) ----

function connect(port: number): WireConnection {
  return new WireConnection({ address: `127.0.0.1:${port}`, secure: false });
}

const HEADERS = requestHeaders("http", "127.0.0.1", "/inference.GRPCInferenceService/ModelInfer");

function call(conn: WireConnection, message: Buffer, extra: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Buffer> {
  return wireUnaryCall<Buffer>(conn, { headers: HEADERS, message: [message], maxMessageLength: 1 << 30, ...extra }, true);
}

async function failure(p: Promise<unknown>): Promise<GrpcStatusError> {
  return p.then(
    () => assert.fail("expected the call to fail"),
    (e: unknown) => e as GrpcStatusError,
  );
}

describe("connection against a hand-driven HTTP/2 peer", () => {
  const peers: { close(): Promise<void> }[] = [];
  const conns: WireConnection[] = [];
  after(async () => {
    for (const c of conns) c.close();
    for (const p of peers) await p.close();
  });
  async function setup(script: PeerScript) {
    const peer = await startH2Peer(script);
    peers.push(peer);
    const conn = connect(peer.port);
    conns.push(conn);
    return { peer, conn };
  }

  test("flow control: a 300 KB request waits for WINDOW_UPDATEs under a 1000-byte window; a 40 MB answer gets credit back", { timeout: 30_000 }, async () => {
    let granted = { conn: 65_535, stream: 1000 };
    let received = 0;
    const { peer, conn } = await setup({
      settings: [[Setting.INITIAL_WINDOW_SIZE, 1000]],
      onData(c, id, length) {
        received += length;
        assert.ok(received <= granted.stream, `client sent ${received} bytes on the stream, window ${granted.stream}`);
        assert.ok(received <= granted.conn, `client sent ${received} bytes on the connection, window ${granted.conn}`);
        // Credit back in small steps, stream and connection.
        if (received === granted.stream) {
          granted = { conn: granted.conn + 4000, stream: granted.stream + 4000 };
          c.send(windowUpdateFrame(id, 4000), windowUpdateFrame(0, 4000));
        }
      },
      onRequest(c, s) {
        const body = Buffer.concat(s.data);
        // The answer: the request's message repeated to 40 MB, sent within the client's announced windows.
        const answer = Buffer.alloc(40 * 1024 * 1024);
        for (let at = 0; at < answer.length; at += body.length - 5) body.copy(answer, at, 5);
        c.headers(s.id, [":status", "200", "content-type", "application/grpc"], 0);
        const payload = grpcMessage(answer);
        let sent = 0;
        let streamWindow = 32 * 1024 * 1024;
        const pump = () => {
          while (sent < payload.length && streamWindow > 0) {
            const n = Math.min(16_384 * 64, payload.length - sent, streamWindow);
            c.data(s.id, payload.subarray(sent, sent + n), 0);
            sent += n;
            streamWindow -= n;
          }
          if (sent === payload.length) c.headers(s.id, ["grpc-status", "0"], Flag.END_STREAM);
        };
        this.onWindowUpdate = (_c, id, inc) => {
          if (id === s.id) {
            streamWindow += inc;
            pump();
          }
        };
        pump();
      },
    });
    const message = Buffer.alloc(300_000);
    for (let i = 0; i < message.length; i++) message[i] = i % 251;
    // The 1000-byte window applies once the peer's SETTINGS are in (before that, HTTP/2's 65,535 does).
    await conn.awaitEstablished(5000, () => new Error("no handshake"));
    const result = await call(conn, message);
    assert.equal(received, message.length + 5);
    assert.equal(result.length, 40 * 1024 * 1024);
    assert.equal(result[0], 0);
    assert.equal(result[1000], 1000 % 251);
    assert.ok(peer.connections[0]!.windowUpdates.some(([id]) => id === 1), "the client returned stream credit");
  });

  test("the peer's SETTINGS_MAX_CONCURRENT_STREAMS: calls beyond it wait, all finish", async () => {
    let open = 0;
    let maxOpen = 0;
    const { conn } = await setup({
      settings: [[Setting.MAX_CONCURRENT_STREAMS, 2]],
      onHeaders() {
        open++;
        maxOpen = Math.max(maxOpen, open);
      },
      onRequest(c, s) {
        setTimeout(() => {
          open--;
          c.answer(s.id, Buffer.concat(s.data).subarray(5));
        }, 5);
      },
    });
    // Wait for the handshake so that the limit is known before the calls go out.
    await conn.awaitEstablished(5000, () => new Error("no handshake"));
    const results = await Promise.all(Array.from({ length: 7 }, (_, i) => call(conn, Buffer.from(`m${i}`))));
    assert.deepEqual(results.map((r) => r.toString()), Array.from({ length: 7 }, (_, i) => `m${i}`));
    assert.equal(maxOpen, 2);
  });

  test("GOAWAY: streams above last-stream-id fail as unavailable, those below finish, new calls open a new connection", async () => {
    const held: PeerStream[] = [];
    const { peer, conn } = await setup({
      onRequest(c, s) {
        if (c !== peer.connections[0]) return c.answer(s.id, Buffer.from("second connection"));
        held.push(s);
        if (held.length < 3) return;
        c.send(goawayFrame(3, ErrorCode.NO_ERROR, "restart"));
        for (const h of held) if (h.id <= 3) c.answer(h.id, Buffer.from(`ok ${h.id}`));
      },
    });
    const calls = [call(conn, Buffer.from("a")), call(conn, Buffer.from("b")), call(conn, Buffer.from("c"))];
    const settled = await Promise.allSettled(calls);
    assert.equal((settled[0] as PromiseFulfilledResult<Buffer>).value.toString(), "ok 1");
    assert.equal((settled[1] as PromiseFulfilledResult<Buffer>).value.toString(), "ok 3");
    const refused = (settled[2] as PromiseRejectedResult).reason as GrpcStatusError;
    assert.equal(refused.code, 14);
    assert.match(refused.details, /GOAWAY/);
    assert.equal((await call(conn, Buffer.from("d"))).toString(), "second connection");
    assert.equal(peer.connections.length, 2);
  });

  test("answers with CONTINUATION, padding, priority, Huffman and the dynamic table; trailers-only errors; HTTP errors; resets", async () => {
    const { peer, conn } = await setup({
      onRequest(c, s) {
        const what = Buffer.concat(s.data).subarray(5).toString();
        if (what === "fancy") {
          // Response headers split over HEADERS (padded, with priority) + CONTINUATION; a literal with
          // incremental indexing (Huffman value) that the trailers of the next answer refer to by index.
          const block = Buffer.concat([hex("88"), Buffer.from([0x40 | 31]), lenPrefixed(huffmanEncode("application/grpc"), true), Buffer.from([0x40]), lenPrefixed(Buffer.from("x-trace")), lenPrefixed(Buffer.from("t1"))]);
          const first = block.subarray(0, 5);
          const pad = 4;
          const headersPayload = Buffer.concat([Buffer.from([pad]), Buffer.from([0, 0, 0, 0, 16]), first, Buffer.alloc(pad)]);
          c.send(frame(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY, s.id, headersPayload), frame(FrameType.CONTINUATION, Flag.END_HEADERS, s.id, block.subarray(5)));
          const body = grpcMessage(Buffer.from("fancy answer"));
          c.send(frame(FrameType.DATA, Flag.PADDED, s.id, Buffer.concat([Buffer.from([7]), body, Buffer.alloc(7)])));
          c.headers(s.id, ["grpc-status", "0"], Flag.END_STREAM);
        } else if (what === "indexed") {
          // :status 200 and the dynamic entries (content-type at 63, x-trace at 62).
          c.send(frame(FrameType.HEADERS, Flag.END_HEADERS, s.id, hex("88 bf be")));
          c.data(s.id, grpcMessage(Buffer.from("indexed answer")), 0);
          c.headers(s.id, ["grpc-status", "0"], Flag.END_STREAM);
        } else if (what === "trailers-only")
          c.headers(s.id, [":status", "200", "content-type", "application/grpc", "grpc-status", "5", "grpc-message", "model%20'x'%20not%20found", "x-why", "gone"], Flag.END_STREAM);
        else if (what === "http503") {
          c.headers(s.id, [":status", "503", "content-type", "text/plain"], 0);
          c.data(s.id, Buffer.from("overloaded"), Flag.END_STREAM);
        } else if (what === "reset") c.send(rstStreamFrame(s.id, ErrorCode.REFUSED_STREAM));
        else if (what === "no-status") {
          c.headers(s.id, [":status", "200", "content-type", "application/grpc"], 0);
          c.data(s.id, grpcMessage(Buffer.from("x")), Flag.END_STREAM);
        } else if (what === "compressed") {
          c.headers(s.id, [":status", "200", "content-type", "application/grpc", "grpc-encoding", "gzip"], 0);
          const m = grpcMessage(Buffer.from("zz"));
          m[0] = 1;
          c.data(s.id, m, 0);
          c.headers(s.id, ["grpc-status", "0"], Flag.END_STREAM);
        }
      },
    });
    assert.equal((await call(conn, Buffer.from("fancy"))).toString(), "fancy answer");
    assert.equal((await call(conn, Buffer.from("indexed"))).toString(), "indexed answer");
    const notFound = await failure(call(conn, Buffer.from("trailers-only")));
    assert.equal(notFound.code, 5);
    assert.equal(notFound.details, "model 'x' not found");
    assert.equal(notFound.metadata.getMap()["x-why"], "gone");
    const http = await failure(call(conn, Buffer.from("http503")));
    assert.equal(http.code, 14);
    assert.match(http.details, /HTTP status code 503/);
    const reset = await failure(call(conn, Buffer.from("reset")));
    assert.equal(reset.code, 14);
    assert.match(reset.details, /refused/);
    assert.equal((await failure(call(conn, Buffer.from("no-status")))).code, 2);
    const compressed = await failure(call(conn, Buffer.from("compressed")));
    assert.equal(compressed.code, 13);
    assert.match(compressed.details, /compressed/);
    // Everything ran on one connection: the dynamic table stayed in step across answers.
    assert.equal(peer.connections.length, 1);
  });

  test("abort and deadline send RST_STREAM(CANCEL); a protocol error fails calls as unavailable and sends GOAWAY", async () => {
    const { peer, conn } = await setup({
      onRequest(c, s) {
        if (Buffer.concat(s.data).subarray(5).toString() === "break") c.send(frame(FrameType.DATA, 0, 0, Buffer.from("x")));
      },
    });
    const ac = new AbortController();
    const aborted = call(conn, Buffer.from("hold"), { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    assert.equal((await failure(aborted)).code, 1);
    assert.equal((await failure(call(conn, Buffer.from("hold"), { timeoutMs: 30 }))).code, 4);
    const pending = call(conn, Buffer.from("hold"));
    const broken = await failure(call(conn, Buffer.from("break")));
    assert.equal(broken.code, 14);
    assert.match(broken.details, /Connection dropped: HTTP\/2 protocol error from the server: DATA frame on stream 0/);
    assert.equal((await failure(pending)).code, 14);
    const c0 = peer.connections[0]!;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(c0.resets.get(1), ErrorCode.CANCEL);
    assert.equal(c0.resets.get(3), ErrorCode.CANCEL);
    assert.deepEqual(c0.goaways, [ErrorCode.PROTOCOL_ERROR]);
  });

  test("keepalive: PINGs go out while idle when permitted and are answered; a peer that never answers one drops the connection", async () => {
    let pings = 0;
    const { peer } = await setup({});
    const conn = new WireConnection({ address: `127.0.0.1:${peer.port}`, secure: false, keepaliveTimeMs: 20, keepaliveTimeoutMs: 1000, keepalivePermitWithoutCalls: true });
    conns.push(conn);
    peer.connections.length = 0;
    await conn.awaitEstablished(5000, () => new Error("no handshake"));
    const c = peer.connections[0]!;
    c.socket.on("data", (d: Buffer) => {
      // PING frames (type 6, no ACK flag) in what the client sends.
      for (let at = 0; at + 9 <= d.length; ) {
        const len = d.readUIntBE(at, 3);
        if (d[at + 3] === FrameType.PING && (d[at + 4]! & Flag.ACK) === 0) pings++;
        at += 9 + len;
      }
    });
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(pings >= 2, `pings: ${pings}`);
    // A peer that stops answering: the ping timeout closes the connection and the waiting call fails.
    const mute = await startH2Peer({});
    peers.push(mute);
    const conn2 = new WireConnection({ address: `127.0.0.1:${mute.port}`, secure: false, keepaliveTimeMs: 20, keepaliveTimeoutMs: 100 });
    conns.push(conn2);
    await conn2.awaitEstablished(5000, () => new Error("no handshake"));
    mute.connections[0]!.socket.removeAllListeners("data");
    const e = await failure(call(conn2, Buffer.from("x")));
    assert.equal(e.code, 14);
    assert.match(e.details, /keepalive ping not answered within 100 ms/);
  });

  test("awaitEstablished gives up on a peer that never speaks HTTP/2", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((sock) => {
      sockets.push(sock);
      sock.on("data", () => {});
    });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const conn = connect((silent.address() as net.AddressInfo).port);
    try {
      await assert.rejects(conn.awaitEstablished(100, () => new Error("handshake timed out")), /handshake timed out/);
    } finally {
      conn.close();
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  test("a refused connection fails the call as unavailable, naming that no connection was made", async () => {
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, "127.0.0.1", r));
    const port = (free.address() as net.AddressInfo).port;
    await new Promise<void>((r) => free.close(() => r()));
    const conn = connect(port);
    conns.push(conn);
    const e = await failure(call(conn, Buffer.from("x")));
    assert.equal(e.code, 14);
    assert.match(e.details, /^No connection established\. Last error: .*ECONNREFUSED/);
  });
});

function lenPrefixed(bytes: Buffer, huffman = false): Buffer {
  assert.ok(bytes.length < 127);
  return Buffer.concat([Buffer.from([(huffman ? 0x80 : 0) | bytes.length]), bytes]);
}
