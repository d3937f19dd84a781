// iaas-h2 receive flow control per stream (session.ts onDataPiece): a call counts its answer's bytes for
// WINDOW_UPDATEs only when the answer can use up half the 32 MiB stream window (a large gRPC message, or a
// non-200 body of unknown size), in its CallExtras; the usual small answer keeps no counter. Against a
// hand-driven HTTP/2 peer that keeps the stream window exactly: an answer the client does not give credit
// for stalls (the test fails on its timeout), and credit beyond what was received fails the test.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Flag, FrameType, Setting, windowUpdateFrame } from "../src/transport/grpc/wire-h2/frames.ts";
import { WireConnection } from "../src/transport/grpc/wire-h2/connection.ts";
import { wireUnaryCall } from "../src/transport/grpc/wire-h2/wire-call.ts";
import { requestHeaders } from "../src/transport/grpc/h2/unary-call.ts";
import type { GrpcStatusError } from "../src/transport/grpc/h2/status.ts";
import { frame, grpcMessage, startH2Peer, type PeerConnection, type PeerScript } from "./support/h2-peer.ts";

const MiB = 1024 * 1024;
const STREAM_WINDOW = 32 * MiB;
const HEADERS = requestHeaders("http", "127.0.0.1", "/inference.GRPCInferenceService/ModelInfer");

/**
 * Sends `payload` on stream `id` as DATA frames of `chunk` bytes (padded with `padding` bytes each when
 * given), never beyond the stream window the client granted; then `end` (trailers or END_STREAM).
 * Records in `overCredit` any credit beyond what the client received (checked by the test once the peer has
 * read everything the client sent: a later call's request comes after it).
 */
const overCredit: string[] = [];
function pumpWithinWindow(c: PeerConnection, id: number, payload: Buffer, chunk: number, padding: number, end: () => void): (streamId: number, inc: number) => void {
  let sent = 0;
  let window = STREAM_WINDOW;
  let frameBytes = 0;
  let credited = 0;
  const pump = (): void => {
    while (sent < payload.length) {
      const n = Math.min(chunk, payload.length - sent);
      const size = padding > 0 ? n + 1 + padding : n;
      if (size > window) return;
      const piece = payload.subarray(sent, sent + n);
      if (padding > 0) c.send(frame(FrameType.DATA, Flag.PADDED, id, Buffer.concat([Buffer.from([padding]), piece, Buffer.alloc(padding)])));
      else c.data(id, piece, 0);
      sent += n;
      window -= size;
      frameBytes += size;
    }
    end();
  };
  queueMicrotask(pump);
  return (streamId, inc) => {
    if (streamId !== id) return;
    credited += inc;
    if (credited > frameBytes) overCredit.push(`stream ${id}: client credited ${credited} bytes for ${frameBytes} received`);
    window += inc;
    pump();
  };
}

describe("iaas-h2 stream credit for large answers only", () => {
  const closers: { close(): unknown }[] = [];
  after(async () => {
    for (const c of closers) await c.close();
  });

  /** A small call after the large one: the peer has then read the client's WINDOW_UPDATEs sent before it. */
  async function noOverCredit(conn: WireConnection): Promise<void> {
    await wireUnaryCall<Buffer>(conn, { headers: HEADERS, message: [Buffer.from("small")], maxMessageLength: 1 << 30 }, true).catch(() => undefined);
    assert.deepEqual(overCredit, []);
  }

  async function connection(script: PeerScript): Promise<{ conn: WireConnection; peer: Awaited<ReturnType<typeof startH2Peer>> }> {
    const peer = await startH2Peer(script);
    closers.push(peer);
    const conn = new WireConnection({ address: `127.0.0.1:${peer.port}`, secure: false });
    closers.push(conn);
    await conn.awaitEstablished(5000, () => new Error("no handshake"));
    return { conn, peer };
  }

  test("a 40 MiB answer in padded frames gets stream credit (no more than it carried) and arrives whole", { timeout: 60_000 }, async () => {
    const answer = Buffer.alloc(40 * MiB);
    for (let i = 0; i < answer.length; i += 4096) answer[i] = (i / 4096) % 251;
    const script: PeerScript = {
      connectionWindow: 512 * MiB,
      onRequest(c, s) {
        c.headers(s.id, [":status", "200", "content-type", "application/grpc"], 0);
        script.onWindowUpdate = (_c, id, inc) => onCredit(id, inc);
        const onCredit = pumpWithinWindow(c, s.id, grpcMessage(answer), 256 * 1024, 200, () => c.headers(s.id, ["grpc-status", "0"], Flag.END_STREAM));
      },
    };
    const { conn, peer } = await connection(script);
    const result = await wireUnaryCall<Buffer>(conn, { headers: HEADERS, message: [Buffer.from([1, 2, 3])], maxMessageLength: 1 << 30 }, true);
    assert.equal(result.length, answer.length);
    assert.ok(result.equals(answer), "the answer arrived changed");
    assert.ok(peer.connections[0]!.windowUpdates.some(([id]) => id === 1), "no stream credit was returned");
    await noOverCredit(conn);
  });

  test("a large answer that starts while a large request is still being sent keeps its count after the request is done", { timeout: 60_000 }, async () => {
    const answer = Buffer.alloc(48 * MiB, 7);
    let started = false;
    let requestCredit = false;
    const script: PeerScript = {
      // A 64 KiB stream window for the request: it waits, its progress in the call's extras, until the peer
      // grants the rest, which it does only once the client has returned credit for the answer.
      settings: [[Setting.INITIAL_WINDOW_SIZE, 64 * 1024]],
      connectionWindow: 512 * MiB,
      onRequest(c, s) {
        if (s.id !== 1) c.answer(s.id, Buffer.from("small"));
      },
      onData(c, id) {
        if (started) return;
        started = true;
        c.headers(id, [":status", "200", "content-type", "application/grpc"], 0);
        const onCredit = pumpWithinWindow(c, id, grpcMessage(answer), 1024 * 1024, 0, () => c.headers(id, ["grpc-status", "0"], Flag.END_STREAM));
        script.onWindowUpdate = (_c, sid, inc) => {
          // The rest of the request goes before more of the answer: the request ends mid-answer.
          if (sid === id && !requestCredit) {
            requestCredit = true;
            c.send(windowUpdateFrame(id, 4 * MiB));
          }
          onCredit(sid, inc);
        };
      },
    };
    const { conn } = await connection(script);
    const result = await wireUnaryCall<Buffer>(conn, { headers: HEADERS, message: [Buffer.alloc(2 * MiB, 3)], maxMessageLength: 1 << 30 }, true);
    assert.ok(requestCredit);
    assert.equal(result.length, answer.length);
    assert.equal(result[answer.length - 1], 7);
    await noOverCredit(conn);
  });

  test("a non-200 answer with a 40 MiB body gets credit and fails with its HTTP status", { timeout: 60_000 }, async () => {
    const body = Buffer.alloc(40 * MiB, 0x41);
    const script: PeerScript = {
      connectionWindow: 512 * MiB,
      onRequest(c, s) {
        c.headers(s.id, [":status", "503", "content-type", "text/plain"], 0);
        script.onWindowUpdate = (_c, id, inc) => onCredit(id, inc);
        const onCredit = pumpWithinWindow(c, s.id, body, 1024 * 1024, 0, () => c.data(s.id, Buffer.alloc(0), Flag.END_STREAM));
      },
    };
    const { conn } = await connection(script);
    const e = await wireUnaryCall<Buffer>(conn, { headers: HEADERS, message: [Buffer.from([1])], maxMessageLength: 1 << 30 }, true).then(
      () => assert.fail("expected the call to fail"),
      (err: unknown) => err as GrpcStatusError,
    );
    assert.match(e.details, /HTTP status code 503/);
    await noOverCredit(conn);
  });

  test("small answers keep no counter: no stream credit", { timeout: 30_000 }, async () => {
    const { conn, peer } = await connection({
      onRequest(c, s) {
        c.answer(s.id, Buffer.alloc(64 * 1024, 9));
      },
    });
    for (let i = 0; i < 20; i++) {
      const r = await wireUnaryCall<Buffer>(conn, { headers: HEADERS, message: [Buffer.from([i])], maxMessageLength: 1 << 30 }, true);
      assert.equal(r.length, 64 * 1024);
    }
    assert.equal(peer.connections[0]!.windowUpdates.filter(([id]) => id !== 0).length, 0, "stream credit for small answers");
  });
});
