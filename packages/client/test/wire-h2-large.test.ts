// Large messages on the client's own HTTP/2 connection (transport/grpc/wire-h2/): requests cut into the
// peer's frame size under its flow-control windows, answers read straight into the message buffer
// (plaintext reads land in place), against a hand-driven HTTP/2 peer on a real socket whose frame sizes,
// windows, read boundaries, padding and interleaving the tests choose.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { HpackDecoder } from "../src/transport/grpc/wire-h2/hpack-decoder.ts";
import { encodeHeaderBlock } from "../src/transport/grpc/wire-h2/hpack-encoder.ts";
import { FRAME_HEADER, Flag, FrameReader, FrameType, Setting, settingsFrame, windowUpdateFrame, writeFrameHeader, type FrameSink } from "../src/transport/grpc/wire-h2/frames.ts";
import { WireConnection } from "../src/transport/grpc/wire-h2/connection.ts";
import { WireCall, wireUnaryCall } from "../src/transport/grpc/wire-h2/wire-call.ts";
import { IN_PLACE_MIN_BYTES, MessageReader } from "../src/transport/grpc/h2/message-reader.ts";
import { requestHeaders } from "../src/transport/grpc/h2/unary-call.ts";
import { Status, type GrpcStatusError } from "../src/transport/grpc/h2/status.ts";

const MiB = 1024 * 1024;

/** Bytes no two calls share: a byte-exact check catches any misplaced or lost piece. */
function pattern(length: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  writeFrameHeader(b, 0, payload.length, type, flags, streamId);
  payload.copy(b, FRAME_HEADER);
  return b;
}

function prefixed(message: Buffer): Buffer {
  const b = Buffer.allocUnsafe(5 + message.length);
  b[0] = 0;
  b.writeUInt32BE(message.length, 1);
  message.copy(b, 5);
  return b;
}

const OK_HEAD = encodeHeaderBlock([":status", "200", "content-type", "application/grpc"]);
const OK_TRAILERS = encodeHeaderBlock(["grpc-status", "0"]);

/** DATA frames of at most `size` bytes carrying `payload`; every `padEvery`-th frame padded. */
function dataFrames(streamId: number, payload: Buffer, size: number, padEvery = 0): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 1; at < payload.length; i++) {
    if (padEvery > 0 && i % padEvery === 0) {
      const n = Math.min(size - 4, payload.length - at);
      const body = Buffer.concat([Buffer.from([3]), payload.subarray(at, at + n), Buffer.alloc(3)]);
      out.push(frame(FrameType.DATA, Flag.PADDED, streamId, body));
      at += n;
    } else {
      const n = Math.min(size, payload.length - at);
      out.push(frame(FrameType.DATA, 0, streamId, payload.subarray(at, at + n)));
      at += n;
    }
  }
  return out;
}

interface Received {
  id: number;
  data: Buffer[];
  frameSizes: number[];
}

interface Peer {
  port: number;
  /** The client's SETTINGS, by id. */
  clientSettings: Map<number, number>;
  /** The client's WINDOW_UPDATE increments on stream 0. */
  connectionCredit: number[];
  /** RST_STREAM codes the client sent, by stream. */
  resets: Map<number, number>;
  socket(): net.Socket;
  close(): Promise<void>;
}

interface PeerScript {
  /** SETTINGS the peer announces (HTTP/2 defaults otherwise: 16 KiB frames, 65,535-byte windows). */
  settings?: [number, number][];
  /** Extra connection window the peer grants at once. */
  connectionWindow?: number;
  /** Credit goes back (stream and connection) once this many bytes were read since the last, as nghttp2 does at half a window. */
  creditStep?: number;
  /** The client's request ended: answer it. */
  onRequest(socket: net.Socket, request: Received): void;
}

/** Largest frame the peer accepts (its SETTINGS_MAX_FRAME_SIZE or the default). */
function peerMaxFrame(script: PeerScript): number {
  return script.settings?.find(([id]) => id === Setting.MAX_FRAME_SIZE)?.[1] ?? 16_384;
}

async function startPeer(script: PeerScript): Promise<Peer> {
  let current: net.Socket | undefined;
  const clientSettings = new Map<number, number>();
  const connectionCredit: number[] = [];
  const resets = new Map<number, number>();
  const maxFrame = peerMaxFrame(script);
  const server = net.createServer((socket) => {
    current = socket;
    const decoder = new HpackDecoder();
    const streams = new Map<number, Received>();
    const initialWindow = script.settings?.find(([id]) => id === Setting.INITIAL_WINDOW_SIZE)?.[1] ?? 65_535;
    let connWindow = 65_535 + (script.connectionWindow ?? 0);
    const streamWindows = new Map<number, number>();
    let unacked = 0;
    const step = script.creditStep ?? 32_768;
    const sink: FrameSink = {
      onDataPiece(id, piece, last, endStream, frameLength) {
        const s = streams.get(id)!;
        s.data.push(Buffer.from(piece));
        if (!last) return;
        s.frameSizes.push(frameLength);
        assert.ok(frameLength <= maxFrame, `DATA frame of ${frameLength} bytes above the peer's SETTINGS_MAX_FRAME_SIZE ${maxFrame}`);
        connWindow -= frameLength;
        const w = (streamWindows.get(id) ?? initialWindow) - frameLength;
        streamWindows.set(id, w);
        assert.ok(connWindow >= 0 && w >= 0, `client sent beyond the windows (connection ${connWindow}, stream ${w})`);
        unacked += frameLength;
        if (unacked >= step && !endStream) {
          socket.write(Buffer.concat([windowUpdateFrame(0, unacked), windowUpdateFrame(id, unacked)]));
          connWindow += unacked;
          streamWindows.set(id, w + unacked);
          unacked = 0;
        }
        if (endStream) script.onRequest(socket, s);
      },
      onFrame(type, flags, id, payload) {
        if (type === FrameType.HEADERS) {
          decoder.decode(payload, 0, payload.length);
          streams.set(id, { id, data: [], frameSizes: [] });
        } else if (type === FrameType.SETTINGS && !(flags & Flag.ACK)) {
          for (let at = 0; at < payload.length; at += 6) clientSettings.set(payload.readUInt16BE(at), payload.readUInt32BE(at + 2));
          socket.write(frame(FrameType.SETTINGS, Flag.ACK, 0, Buffer.alloc(0)));
        } else if (type === FrameType.WINDOW_UPDATE && id === 0) connectionCredit.push(payload.readUInt32BE(0));
        else if (type === FrameType.RST_STREAM) resets.set(id, payload.readUInt32BE(0));
      },
    };
    const reader = new FrameReader(sink, 1 << 24);
    let preface = 24;
    socket.on("data", (chunk: Buffer) => {
      const skip = Math.min(preface, chunk.length);
      preface -= skip;
      if (chunk.length > skip) reader.push(chunk.subarray(skip));
    });
    socket.on("error", () => {});
    const hello = [settingsFrame(script.settings ?? [])];
    if (script.connectionWindow) hello.push(windowUpdateFrame(0, script.connectionWindow));
    socket.write(Buffer.concat(hello));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    clientSettings,
    connectionCredit,
    resets,
    socket: () => current!,
    close: () =>
      new Promise<void>((resolve) => {
        current?.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Writes `bytes` in pieces of the given lengths (cycled), yielding to the event loop between pieces so
 * that the client's reads end at those boundaries: inside frame headers, right after a frame's data,
 * in the middle of data.
 */
async function writeInPieces(socket: net.Socket, bytes: Buffer, lengths: readonly number[]): Promise<void> {
  let at = 0;
  for (let i = 0; at < bytes.length && !socket.destroyed; i++) {
    const n = Math.min(lengths[i % lengths.length]!, bytes.length - at);
    socket.write(bytes.subarray(at, at + n));
    at += n;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Waits (bounded) for something the peer sees after the client acted. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

const HEADERS = requestHeaders("http", "127.0.0.1", "/inference.GRPCInferenceService/ModelInfer");

function call(conn: WireConnection, message: Buffer, timeoutMs?: number): Promise<Buffer> {
  return wireUnaryCall<Buffer>(conn, { headers: HEADERS, message: [message], maxMessageLength: 1 << 30, timeoutMs }, true);
}

/** The request's message (the 5-byte prefix checked and removed). */
function requestMessage(r: Received): Buffer {
  const all = Buffer.concat(r.data);
  assert.equal(all[0], 0, "request not compressed");
  assert.equal(all.readUInt32BE(1), all.length - 5, "request length prefix");
  return all.subarray(5);
}

/** Bytes of answers that reached calls through MessageReader.push (copied) rather than in place. */
let pushedBytes = 0;
const originalOnData = WireCall.prototype.onData;
WireCall.prototype.onData = function (this: WireCall<unknown>, piece: Buffer): void {
  pushedBytes += piece.length;
  originalOnData.call(this, piece);
};

describe("MessageReader.inPlace", () => {
  test("a large message is filled through views of its body; data past the message is left to push", () => {
    const message = pattern(IN_PLACE_MIN_BYTES + 1000, 7);
    const r = new MessageReader(1 << 30);
    const stream = prefixed(message);
    assert.equal(r.inPlace(100, 9), undefined, "nothing before the message is started");
    r.push(stream.subarray(0, 3000));
    // The next 5,000 bytes are data, then a frame header would follow: the view has room for both.
    let view = r.inPlace(5000, 9)!;
    assert.equal(view.length, 5009);
    stream.copy(view, 0, 3000, 8009);
    assert.equal(r.filledInPlace(5009), 5000, "only the data counts");
    // A header alone, in place.
    view = r.inPlace(0, 9)!;
    assert.equal(view.length, 9);
    assert.equal(r.filledInPlace(9), 0);
    // The rest of the message in a frame that runs 50 bytes past it: only the message's bytes are given.
    const left = stream.length - 8000;
    view = r.inPlace(left + 50, 9)!;
    assert.equal(view.length, left);
    stream.copy(view, 0, 8000);
    assert.equal(r.message(), undefined, "not complete before filledInPlace");
    assert.equal(r.filledInPlace(left), left);
    assert.deepEqual(r.message(), message);
    assert.equal(r.inPlace(10, 9), undefined, "nothing once complete");
  });

  test("the body's store has room for a frame header past the message's end; small messages are never filled in place", () => {
    const message = pattern(IN_PLACE_MIN_BYTES, 8);
    const r = new MessageReader(1 << 30);
    const stream = prefixed(message);
    r.push(stream.subarray(0, 100));
    const view = r.inPlace(stream.length - 100, 9)!;
    assert.equal(view.length, stream.length - 100 + 9, "the header after the last data byte fits");
    stream.copy(view, 0, 100);
    view.fill(0xee, stream.length - 100);
    r.filledInPlace(view.length);
    assert.deepEqual(r.message(), message, "the room past the end is not part of the message");
    const small = new MessageReader(1 << 30);
    small.push(prefixed(pattern(IN_PLACE_MIN_BYTES - 1, 9)).subarray(0, 100));
    assert.equal(small.inPlace(1000, 9), undefined);
  });
});

describe("FrameReader: DATA read by the caller", () => {
  test("skipData counts in-place data like pushed data: flow control once per frame, END_STREAM on the last byte", () => {
    const events: string[] = [];
    const reader = new FrameReader(
      {
        onDataPiece: (id, piece, last, end, len) => events.push(`data ${id} ${piece.length} ${last} ${end} ${len}`),
        onFrame: (type, _flags, id) => events.push(`frame ${type} ${id}`),
      },
      1 << 24,
    );
    const f = frame(FrameType.DATA, Flag.END_STREAM, 3, pattern(1000, 1));
    assert.equal(reader.headerMissing, FRAME_HEADER);
    reader.push(f.subarray(0, 4));
    assert.equal(reader.headerMissing, 5);
    assert.equal(reader.dataStream, 0);
    reader.push(f.subarray(4, 109));
    assert.equal(reader.dataStream, 3);
    assert.equal(reader.dataLeft, 900);
    reader.skipData(899);
    assert.equal(reader.dataLeft, 1);
    reader.skipData(1);
    assert.equal(reader.headerMissing, FRAME_HEADER);
    assert.deepEqual(events, ["data 3 100 false false 0", "data 3 0 true true 1000"]);
    assert.throws(() => reader.skipData(1), /outside a DATA frame/);
    // Padded DATA is never offered for reading in place.
    reader.push(frame(FrameType.DATA, Flag.PADDED, 5, Buffer.concat([Buffer.from([2]), pattern(10, 2), Buffer.alloc(2)])).subarray(0, 12));
    assert.equal(reader.dataStream, 0);
  });
});

describe("large messages against a hand-driven HTTP/2 peer", () => {
  const peers: Peer[] = [];
  const conns: WireConnection[] = [];
  after(async () => {
    for (const c of conns) c.close();
    for (const p of peers) await p.close();
  });
  async function setup(script: PeerScript) {
    const peer = await startPeer(script);
    peers.push(peer);
    const conn = new WireConnection({ address: `127.0.0.1:${peer.port}`, secure: false });
    conns.push(conn);
    await conn.awaitEstablished(5000, () => new Error("no HTTP/2 handshake with the peer"));
    return { peer, conn };
  }

  test("6 MiB both ways in 16 KiB frames under 64 KiB windows, reads split inside headers and data: byte-exact, the answer read in place", { timeout: 60_000 }, async () => {
    let request: Received | undefined;
    const { conn } = await setup({
      onRequest(socket, r) {
        request = r;
        const answer = Buffer.from(requestMessage(r)).reverse();
        const bytes = Buffer.concat([frame(FrameType.HEADERS, Flag.END_HEADERS, r.id, OK_HEAD), ...dataFrames(r.id, prefixed(answer), 16_384), frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, r.id, OK_TRAILERS)]);
        // Whole frames, a header split 4 + 5, data ending exactly at a frame's end, single bytes, large runs.
        void writeInPieces(socket, bytes, [16_393, 16_384 + 9 + 4, 5, 16_384 - 4, 1, 8, 16_393 * 3 + 100, 70_000, 16_393 - 100, 100, 9]);
      },
    });
    const message = pattern(6 * MiB, 1);
    pushedBytes = 0;
    const answer = await call(conn, message);
    assert.ok(request !== undefined);
    assert.ok(requestMessage(request).equals(message), "the request arrived byte-exact");
    assert.ok(Math.max(...request.frameSizes) <= 16_384 && request.frameSizes.length >= 6 * 64, `request in ${request.frameSizes.length} frames`);
    assert.equal(answer.length, message.length);
    assert.ok(answer.equals(Buffer.from(message).reverse()), "the answer arrived byte-exact");
    assert.ok(pushedBytes < 256 * 1024, `${pushedBytes} answer bytes were copied through push; the rest should have been read in place`);
    // The connection goes on: a small call after the large one.
    const small = call(conn, pattern(100, 2));
    assert.ok((await small).equals(Buffer.from(pattern(100, 2)).reverse()));
  });

  test("the peer's SETTINGS_MAX_FRAME_SIZE lets requests go in 1 MiB frames; the client announces 16 MiB frames and large windows, and takes 4 MiB answer frames", { timeout: 60_000 }, async () => {
    let request: Received | undefined;
    const { peer, conn } = await setup({
      settings: [[Setting.MAX_FRAME_SIZE, MiB], [Setting.INITIAL_WINDOW_SIZE, 16 * MiB]],
      connectionWindow: 64 * MiB,
      creditStep: 8 * MiB,
      onRequest(socket, r) {
        request = r;
        const answer = requestMessage(r).map((b) => b ^ 0x5a);
        socket.write(Buffer.concat([frame(FrameType.HEADERS, Flag.END_HEADERS, r.id, OK_HEAD), ...dataFrames(r.id, prefixed(Buffer.from(answer)), 4 * MiB), frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, r.id, OK_TRAILERS)]));
      },
    });
    const message = pattern(5 * MiB + 3, 3);
    pushedBytes = 0;
    const answer = await call(conn, message);
    assert.equal(peer.clientSettings.get(Setting.MAX_FRAME_SIZE), 16 * MiB - 1);
    assert.equal(peer.clientSettings.get(Setting.INITIAL_WINDOW_SIZE), 32 * MiB);
    assert.equal(peer.connectionCredit[0], 256 * MiB - 65_535, "the connection window raised to 256 MiB at once");
    assert.ok(request !== undefined);
    assert.equal(Math.max(...request.frameSizes), MiB, "frames as large as the peer allows");
    assert.ok(request.frameSizes.length <= 7, `request in ${request.frameSizes.length} frames`);
    assert.ok(requestMessage(request).equals(message));
    assert.ok(answer.equals(Buffer.from(message.map((b) => b ^ 0x5a))), "the answer arrived byte-exact");
    assert.ok(pushedBytes < 256 * 1024, `${pushedBytes} answer bytes copied through push`);
  });

  test("two answers interleaved frame by frame, padded frames among them: both byte-exact", { timeout: 60_000 }, async () => {
    const requests: Received[] = [];
    const { conn } = await setup({
      onRequest(socket, r) {
        requests.push(r);
        if (requests.length < 2) return;
        const streams = requests.map((q) => dataFrames(q.id, prefixed(Buffer.from(requestMessage(q)).reverse()), 16_384, q === requests[0] ? 5 : 0));
        const out: Buffer[] = requests.map((q) => frame(FrameType.HEADERS, Flag.END_HEADERS, q.id, OK_HEAD));
        for (let i = 0; i < Math.max(...streams.map((s) => s.length)); i++) for (const s of streams) if (i < s.length) out.push(s[i]!);
        for (const q of requests) out.push(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, q.id, OK_TRAILERS));
        void writeInPieces(socket, Buffer.concat(out), [16_393 + 20, 16_393 - 20, 30_000, 4, 5]);
      },
    });
    const a = pattern(2 * MiB, 4);
    const b = pattern(2 * MiB + 77, 5);
    const [ra, rb] = await Promise.all([call(conn, a), call(conn, b)]);
    assert.ok(ra.equals(Buffer.from(a).reverse()), "first answer byte-exact");
    assert.ok(rb.equals(Buffer.from(b).reverse()), "second answer byte-exact");
  });

  test("a DATA frame running past the message fails the call (INTERNAL) and the connection carries the next call", { timeout: 60_000 }, async () => {
    let n = 0;
    const { peer, conn } = await setup({
      onRequest(socket, r) {
        const message = Buffer.from(requestMessage(r)).reverse();
        const body = n++ === 0 ? Buffer.concat([prefixed(message), Buffer.from("extra bytes")]) : prefixed(message);
        void writeInPieces(socket, Buffer.concat([frame(FrameType.HEADERS, Flag.END_HEADERS, r.id, OK_HEAD), ...dataFrames(r.id, body, 16_384), frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, r.id, OK_TRAILERS)]), [16_393 * 4]);
      },
    });
    const message = pattern(MiB, 6);
    const e = await call(conn, message).then(
      () => assert.fail("a message followed by more bytes must fail"),
      (err: unknown) => err as GrpcStatusError,
    );
    assert.equal(e.code, Status.INTERNAL);
    assert.match(e.details, /Too many responses/);
    await until(() => peer.resets.has(1));
    assert.equal(peer.resets.get(1), 8, "the stream was reset (CANCEL)");
    assert.ok((await call(conn, message)).equals(Buffer.from(message).reverse()));
  });

  test("a deadline while a large answer is being read in place: DEADLINE_EXCEEDED; the rest of its frame is skipped and the next call is byte-exact", { timeout: 60_000 }, async () => {
    let n = 0;
    let rest: Buffer | undefined;
    const { peer, conn } = await setup({
      onRequest(socket, r) {
        const answer = Buffer.from(requestMessage(r)).reverse();
        const frames = [frame(FrameType.HEADERS, Flag.END_HEADERS, r.id, OK_HEAD), ...dataFrames(r.id, prefixed(answer), 16_384)];
        if (n++ === 0) {
          // Half the answer, the last frame cut in its middle, then silence until the client gives up.
          const half = Buffer.concat(frames.slice(0, frames.length >> 1));
          rest = half.subarray(half.length - 5000);
          void writeInPieces(socket, half.subarray(0, half.length - 5000), [16_393]);
          return;
        }
        frames.push(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, r.id, OK_TRAILERS));
        void writeInPieces(socket, Buffer.concat(frames), [16_393 * 2 + 3]);
      },
    });
    const message = pattern(2 * MiB, 10);
    const e = await call(conn, message, 1500).then(
      () => assert.fail("the stalled answer must time out"),
      (err: unknown) => err as GrpcStatusError,
    );
    assert.equal(e.code, Status.DEADLINE_EXCEEDED);
    await until(() => peer.resets.has(1));
    assert.equal(peer.resets.get(1), 8, "RST_STREAM(CANCEL)");
    // As a server does before it sees the reset: the cut frame's rest goes out; the client reads past it.
    peer.socket().write(rest!);
    assert.ok((await call(conn, message)).equals(Buffer.from(message).reverse()));
  });
});
