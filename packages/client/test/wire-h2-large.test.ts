// Large messages on the client's own HTTP/2 connection (transport/grpc/wire-h2/): requests cut into the
// peer's frame size under its flow-control windows, answers read straight into the message buffer
// (plaintext reads land in place), against a hand-driven HTTP/2 peer on a real socket whose frame sizes,
// windows, read boundaries, padding and interleaving the tests choose.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { encodeHeaderBlock } from "../src/transport/grpc/wire-h2/hpack-encoder.ts";
import { FRAME_HEADER, Flag, FrameReader, FrameType, Setting } from "../src/transport/grpc/wire-h2/frames.ts";
import { WireConnection } from "../src/transport/grpc/wire-h2/connection.ts";
import { WireCall, wireUnaryCall } from "../src/transport/grpc/wire-h2/wire-call.ts";
import { IN_PLACE_MIN_BYTES, MessageReader } from "../src/transport/grpc/h2/message-reader.ts";
import { requestHeaders } from "../src/transport/grpc/h2/unary-call.ts";
import { Status, type GrpcStatusError } from "../src/transport/grpc/h2/status.ts";
import { frame, grpcMessage, startH2Peer, type H2Peer, type PeerScript, type PeerStream } from "./support/h2-peer.ts";

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

/**
 * Writes `bytes` in pieces of the given lengths (cycled), yielding to the event loop between pieces so
 * that the client's reads end at those boundaries: inside frame headers, right after a frame's data,
 * in the middle of data.
 */
async function writeInPieces(socket: Socket, bytes: Buffer, lengths: readonly number[]): Promise<void> {
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
function requestMessage(r: PeerStream): Buffer {
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
    const stream = grpcMessage(message);
    assert.equal(r.inPlace(100, 9), undefined, "nothing before the message is started");
    r.push(stream.subarray(0, 3000));
    // The next 5,000 bytes are data, then a frame header would follow: the view has room for both.
    let view = r.inPlace(5000, 9)!;
    assert.equal(view.length, 5009);
    stream.copy(view, 0, 3000, 8009);
    assert.equal(r.filledInPlace(5009, 5000), 5000, "only the data counts");
    // A header alone, in place.
    view = r.inPlace(0, 9)!;
    assert.equal(view.length, 9);
    assert.equal(r.filledInPlace(9, 0), 0);
    // The rest of the message in a frame that runs 50 bytes past it: only the message's bytes are given.
    const left = stream.length - 8000;
    view = r.inPlace(left + 50, 9)!;
    assert.equal(view.length, left);
    stream.copy(view, 0, 8000);
    assert.equal(r.message(), undefined, "not complete before filledInPlace");
    assert.equal(r.filledInPlace(left, left + 50), left);
    assert.deepEqual(r.message(), message);
    assert.equal(r.inPlace(10, 9), undefined, "nothing once complete");
  });

  test("the body's store has room for a frame header past the message's end; small messages are never filled in place", () => {
    const message = pattern(IN_PLACE_MIN_BYTES, 8);
    const r = new MessageReader(1 << 30);
    const stream = grpcMessage(message);
    r.push(stream.subarray(0, 100));
    const view = r.inPlace(stream.length - 100, 9)!;
    assert.equal(view.length, stream.length - 100 + 9, "the header after the last data byte fits");
    stream.copy(view, 0, 100);
    view.fill(0xee, stream.length - 100);
    r.filledInPlace(view.length, stream.length - 100);
    assert.deepEqual(r.message(), message, "the room past the end is not part of the message");
    const small = new MessageReader(1 << 30);
    small.push(grpcMessage(pattern(IN_PLACE_MIN_BYTES - 1, 9)).subarray(0, 100));
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
  const peers: H2Peer[] = [];
  const conns: WireConnection[] = [];
  after(async () => {
    for (const c of conns) c.close();
    for (const p of peers) await p.close();
  });
  /** The peer keeps flow control (credit back every 32 KiB unless the script says otherwise). */
  async function setup(script: PeerScript & { onRequest: NonNullable<PeerScript["onRequest"]> }) {
    const peer = await startH2Peer({ creditStep: 32_768, ...script });
    peers.push(peer);
    const conn = new WireConnection({ address: `127.0.0.1:${peer.port}`, secure: false });
    conns.push(conn);
    await conn.awaitEstablished(5000, () => new Error("no HTTP/2 handshake with the peer"));
    return { peer, conn };
  }

  test("6 MiB both ways in 16 KiB frames under 64 KiB windows, reads split inside headers and data: byte-exact, the answer read in place", { timeout: 60_000 }, async () => {
    let request: PeerStream | undefined;
    const { conn } = await setup({
      onRequest(peerConn, r) {
        request = r;
        const answer = Buffer.from(requestMessage(r)).reverse();
        const bytes = Buffer.concat([frame(FrameType.HEADERS, Flag.END_HEADERS, r.id, OK_HEAD), ...dataFrames(r.id, grpcMessage(answer), 16_384), frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, r.id, OK_TRAILERS)]);
        // Whole frames, a header split 4 + 5, data ending exactly at a frame's end, single bytes, large runs.
        void writeInPieces(peerConn.socket, bytes, [16_393, 16_384 + 9 + 4, 5, 16_384 - 4, 1, 8, 16_393 * 3 + 100, 70_000, 16_393 - 100, 100, 9]);
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
    let request: PeerStream | undefined;
    const { peer, conn } = await setup({
      settings: [[Setting.MAX_FRAME_SIZE, MiB], [Setting.INITIAL_WINDOW_SIZE, 16 * MiB]],
      connectionWindow: 64 * MiB,
      creditStep: 8 * MiB,
      onRequest(peerConn, r) {
        request = r;
        const answer = requestMessage(r).map((b) => b ^ 0x5a);
        peerConn.socket.write(Buffer.concat([frame(FrameType.HEADERS, Flag.END_HEADERS, r.id, OK_HEAD), ...dataFrames(r.id, grpcMessage(Buffer.from(answer)), 4 * MiB), frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, r.id, OK_TRAILERS)]));
      },
    });
    const message = pattern(5 * MiB + 3, 3);
    pushedBytes = 0;
    const answer = await call(conn, message);
    assert.equal(peer.connections[0]!.clientSettings.get(Setting.MAX_FRAME_SIZE), 16 * MiB - 1);
    assert.equal(peer.connections[0]!.clientSettings.get(Setting.INITIAL_WINDOW_SIZE), 32 * MiB);
    assert.equal(peer.connections[0]!.windowUpdates.find(([id]) => id === 0)?.[1], 256 * MiB - 65_535, "the connection window raised to 256 MiB at once");
    assert.ok(request !== undefined);
    assert.equal(Math.max(...request.frameSizes), MiB, "frames as large as the peer allows");
    assert.ok(request.frameSizes.length <= 7, `request in ${request.frameSizes.length} frames`);
    assert.ok(requestMessage(request).equals(message));
    assert.ok(answer.equals(Buffer.from(message.map((b) => b ^ 0x5a))), "the answer arrived byte-exact");
    assert.ok(pushedBytes < 256 * 1024, `${pushedBytes} answer bytes copied through push`);
  });

  test("two answers interleaved frame by frame, padded frames among them: both byte-exact", { timeout: 60_000 }, async () => {
    const requests: PeerStream[] = [];
    const { conn } = await setup({
      onRequest(peerConn, r) {
        requests.push(r);
        if (requests.length < 2) return;
        const streams = requests.map((q) => dataFrames(q.id, grpcMessage(Buffer.from(requestMessage(q)).reverse()), 16_384, q === requests[0] ? 5 : 0));
        const out: Buffer[] = requests.map((q) => frame(FrameType.HEADERS, Flag.END_HEADERS, q.id, OK_HEAD));
        for (let i = 0; i < Math.max(...streams.map((s) => s.length)); i++) for (const s of streams) if (i < s.length) out.push(s[i]!);
        for (const q of requests) out.push(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, q.id, OK_TRAILERS));
        void writeInPieces(peerConn.socket, Buffer.concat(out), [16_393 + 20, 16_393 - 20, 30_000, 4, 5]);
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
      onRequest(peerConn, r) {
        const message = Buffer.from(requestMessage(r)).reverse();
        const body = n++ === 0 ? Buffer.concat([grpcMessage(message), Buffer.from("extra bytes")]) : grpcMessage(message);
        void writeInPieces(peerConn.socket, Buffer.concat([frame(FrameType.HEADERS, Flag.END_HEADERS, r.id, OK_HEAD), ...dataFrames(r.id, body, 16_384), frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, r.id, OK_TRAILERS)]), [16_393 * 4]);
      },
    });
    const message = pattern(MiB, 6);
    const e = await call(conn, message).then(
      () => assert.fail("a message followed by more bytes must fail"),
      (err: unknown) => err as GrpcStatusError,
    );
    assert.equal(e.code, Status.INTERNAL);
    assert.match(e.details, /Too many responses/);
    await until(() => peer.connections[0]!.resets.has(1));
    assert.equal(peer.connections[0]!.resets.get(1), 8, "the stream was reset (CANCEL)");
    assert.ok((await call(conn, message)).equals(Buffer.from(message).reverse()));
  });

  test("a deadline while a large answer is being read in place: DEADLINE_EXCEEDED; the rest of its frame is skipped and the next call is byte-exact", { timeout: 60_000 }, async () => {
    let n = 0;
    let rest: Buffer | undefined;
    const { peer, conn } = await setup({
      onRequest(peerConn, r) {
        const answer = Buffer.from(requestMessage(r)).reverse();
        const frames = [frame(FrameType.HEADERS, Flag.END_HEADERS, r.id, OK_HEAD), ...dataFrames(r.id, grpcMessage(answer), 16_384)];
        if (n++ === 0) {
          // Half the answer, the last frame cut in its middle, then silence until the client gives up.
          const half = Buffer.concat(frames.slice(0, frames.length >> 1));
          rest = half.subarray(half.length - 5000);
          void writeInPieces(peerConn.socket, half.subarray(0, half.length - 5000), [16_393]);
          return;
        }
        frames.push(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, r.id, OK_TRAILERS));
        void writeInPieces(peerConn.socket, Buffer.concat(frames), [16_393 * 2 + 3]);
      },
    });
    const message = pattern(2 * MiB, 10);
    const e = await call(conn, message, 1500).then(
      () => assert.fail("the stalled answer must time out"),
      (err: unknown) => err as GrpcStatusError,
    );
    assert.equal(e.code, Status.DEADLINE_EXCEEDED);
    await until(() => peer.connections[0]!.resets.has(1));
    assert.equal(peer.connections[0]!.resets.get(1), 8, "RST_STREAM(CANCEL)");
    // As a server does before it sees the reset: the cut frame's rest goes out; the client reads past it.
    peer.connections[0]!.socket.write(rest!);
    assert.ok((await call(conn, message)).equals(Buffer.from(message).reverse()));
  });
});
