// A hand-driven HTTP/2 peer on a real socket for the tests of the client's own HTTP/2 connection
// (transport/grpc/wire-h2/): it reads the client's frames with the client's own FrameReader and HPACK
// decoder, records what the client sent (streams, SETTINGS, WINDOW_UPDATEs, RST_STREAMs, GOAWAYs),
// answers PINGs and SETTINGS, and leaves every answer to the test's script. With `creditStep` it also
// keeps flow control the way nghttp2 does (credit back at a step) and fails the test when the client
// sends beyond a window or above the peer's frame size; without it the script grants credit itself.
import assert from "node:assert/strict";
import net from "node:net";
import { HpackDecoder } from "../../src/transport/grpc/wire-h2/hpack-decoder.ts";
import { encodeHeaderBlock } from "../../src/transport/grpc/wire-h2/hpack-encoder.ts";
import { FRAME_HEADER, Flag, FrameReader, FrameType, Setting, settingsFrame, windowUpdateFrame, writeFrameHeader } from "../../src/transport/grpc/wire-h2/frames.ts";

/** One request stream as the peer received it. */
export interface PeerStream {
  id: number;
  /** The request's header list (name, value, name, value, ...). */
  headers: string[];
  /** DATA payloads (padding removed), in arrival order. */
  data: Buffer[];
  /** Length of each DATA frame, padding included. */
  frameSizes: number[];
  /** END_STREAM arrived. */
  ended: boolean;
}

/** One client connection to the peer. */
export interface PeerConnection {
  socket: net.Socket;
  streams: Map<number, PeerStream>;
  /** The client's SETTINGS, by id. */
  clientSettings: Map<number, number>;
  /** RST_STREAM codes the client sent, per stream. */
  resets: Map<number, number>;
  /** Last-stream-ids of the client's GOAWAYs. */
  goaways: number[];
  /** The client's WINDOW_UPDATEs: [stream id, increment]. */
  windowUpdates: [number, number][];
  send(...frames: Buffer[]): void;
  headers(streamId: number, list: string[], flags: number): void;
  data(streamId: number, payload: Buffer, flags: number): void;
  /** 200 + one length-prefixed message + grpc-status 0. */
  answer(streamId: number, message: Buffer): void;
}

export interface PeerScript {
  /** SETTINGS the peer announces (HTTP/2 defaults otherwise: 16 KiB frames, 65,535-byte windows). */
  settings?: [number, number][];
  /** Extra connection window the peer grants at once. */
  connectionWindow?: number;
  /**
   * Flow control by the peer: credit goes back (stream and connection) once this many bytes were read
   * since the last; DATA beyond a window or above SETTINGS_MAX_FRAME_SIZE fails the test. Absent: none.
   */
  creditStep?: number;
  /** A request stream ended (END_STREAM from the client). */
  onRequest?(conn: PeerConnection, stream: PeerStream): void;
  onHeaders?(conn: PeerConnection, stream: PeerStream): void;
  /** A whole DATA frame of `length` bytes (padding included) arrived. */
  onData?(conn: PeerConnection, streamId: number, length: number): void;
  onWindowUpdate?(conn: PeerConnection, streamId: number, increment: number): void;
}

export interface H2Peer {
  port: number;
  /** Every connection the peer accepted, in order. */
  connections: PeerConnection[];
  close(): Promise<void>;
}

export function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  writeFrameHeader(b, 0, payload.length, type, flags, streamId);
  payload.copy(b, FRAME_HEADER);
  return b;
}

/** `message` with gRPC's 5-byte prefix (not compressed). */
export function grpcMessage(message: Buffer): Buffer {
  const b = Buffer.allocUnsafe(5 + message.length);
  b[0] = 0;
  b.writeUInt32BE(message.length, 1);
  message.copy(b, 5);
  return b;
}

const setting = (script: PeerScript, id: number): number | undefined => script.settings?.find(([s]) => s === id)?.[1];

/** The flow-control bookkeeping of `creditStep` for one connection. */
function flowControl(script: PeerScript, step: number): (conn: PeerConnection, streamId: number, frameLength: number, endStream: boolean) => void {
  const maxFrame = setting(script, Setting.MAX_FRAME_SIZE) ?? 16_384;
  const initialWindow = setting(script, Setting.INITIAL_WINDOW_SIZE) ?? 65_535;
  let connWindow = 65_535 + (script.connectionWindow ?? 0);
  const streamWindows = new Map<number, number>();
  let unacked = 0;
  return (conn, id, frameLength, endStream) => {
    assert.ok(frameLength <= maxFrame, `DATA frame of ${frameLength} bytes above the peer's SETTINGS_MAX_FRAME_SIZE ${maxFrame}`);
    connWindow -= frameLength;
    const w = (streamWindows.get(id) ?? initialWindow) - frameLength;
    streamWindows.set(id, w);
    assert.ok(connWindow >= 0 && w >= 0, `client sent beyond the windows (connection ${connWindow}, stream ${w})`);
    unacked += frameLength;
    if (unacked >= step && !endStream) {
      conn.send(windowUpdateFrame(0, unacked), windowUpdateFrame(id, unacked));
      connWindow += unacked;
      streamWindows.set(id, w + unacked);
      unacked = 0;
    }
  };
}

export async function startH2Peer(script: PeerScript): Promise<H2Peer> {
  const connections: PeerConnection[] = [];
  const server = net.createServer((socket) => {
    const decoder = new HpackDecoder();
    const conn: PeerConnection = {
      socket,
      streams: new Map(),
      clientSettings: new Map(),
      resets: new Map(),
      goaways: [],
      windowUpdates: [],
      send: (...frames) => {
        if (!socket.destroyed) socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
      },
      headers: (id, list, flags) => conn.send(frame(FrameType.HEADERS, flags | Flag.END_HEADERS, id, encodeHeaderBlock(list))),
      data: (id, payload, flags) => conn.send(frame(FrameType.DATA, flags, id, payload)),
      answer: (id, message) => {
        conn.headers(id, [":status", "200", "content-type", "application/grpc"], 0);
        conn.data(id, grpcMessage(message), 0);
        conn.headers(id, ["grpc-status", "0", "grpc-message", "OK"], Flag.END_STREAM);
      },
    };
    connections.push(conn);
    const credit = script.creditStep === undefined ? undefined : flowControl(script, script.creditStep);
    const stream = (id: number): PeerStream => {
      let s = conn.streams.get(id);
      if (!s) conn.streams.set(id, (s = { id, headers: [], data: [], frameSizes: [], ended: false }));
      return s;
    };
    const reader = new FrameReader(
      {
        onDataPiece(id, piece, last, endStream, frameLength) {
          const s = stream(id);
          s.data.push(Buffer.from(piece));
          if (!last) return;
          s.frameSizes.push(frameLength);
          credit?.(conn, id, frameLength, endStream);
          script.onData?.(conn, id, frameLength);
          if (endStream) {
            s.ended = true;
            script.onRequest?.(conn, s);
          }
        },
        onFrame(type, flags, id, payload) {
          if (type === FrameType.HEADERS) {
            const s = stream(id);
            s.headers = decoder.decode(payload, 0, payload.length);
            script.onHeaders?.(conn, s);
            if (flags & Flag.END_STREAM) {
              s.ended = true;
              script.onRequest?.(conn, s);
            }
          } else if (type === FrameType.SETTINGS && !(flags & Flag.ACK)) {
            for (let at = 0; at < payload.length; at += 6) conn.clientSettings.set(payload.readUInt16BE(at), payload.readUInt32BE(at + 2));
            conn.send(frame(FrameType.SETTINGS, Flag.ACK, 0, Buffer.alloc(0)));
          } else if (type === FrameType.RST_STREAM) conn.resets.set(id, payload.readUInt32BE(0));
          else if (type === FrameType.GOAWAY) conn.goaways.push(payload.readUInt32BE(4));
          else if (type === FrameType.WINDOW_UPDATE) {
            conn.windowUpdates.push([id, payload.readUInt32BE(0)]);
            script.onWindowUpdate?.(conn, id, payload.readUInt32BE(0));
          } else if (type === FrameType.PING && !(flags & Flag.ACK)) conn.send(frame(FrameType.PING, Flag.ACK, 0, Buffer.from(payload)));
        },
      },
      1 << 24,
    );
    let preface = 24;
    socket.on("data", (chunk: Buffer) => {
      const skip = Math.min(preface, chunk.length);
      preface -= skip;
      if (chunk.length > skip) reader.push(chunk.subarray(skip));
    });
    socket.on("error", () => {});
    const hello = [settingsFrame(script.settings ?? [])];
    if (script.connectionWindow) hello.push(windowUpdateFrame(0, script.connectionWindow));
    conn.send(...hello);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.socket.destroy();
        server.close(() => resolve());
      }),
  };
}
