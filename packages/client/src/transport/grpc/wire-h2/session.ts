// One HTTP/2 connection of the client's own gRPC transport, on a node:net or node:tls socket: the preface
// and SETTINGS exchange, stream ids, the peer's stream limit (calls beyond it wait in a queue), flow
// control both ways, PING, RST_STREAM and GOAWAY. Frames come from FrameReader; header blocks go through
// the connection's HPACK decoder in order. The small frames written in one event-loop turn are joined
// into one socket write, so 64 calls started by 64 answers of one read cost one write.
import net from "node:net";
import tls from "node:tls";
import { NOT_CONNECTED, Status, statusError, statusForRstCode } from "../h2/status.ts";
import {
  CLIENT_PREFACE,
  ConnectionError,
  DEFAULT_MAX_FRAME_SIZE,
  ErrorCode,
  FRAME_HEADER,
  Flag,
  FrameReader,
  FrameType,
  MAX_WINDOW,
  SETTINGS_ACK,
  Setting,
  goawayFrame,
  headersSize,
  pingFrame,
  rstStreamFrame,
  settingsFrame,
  windowUpdateFrame,
  writeFrameHeader,
  writeHeaders,
  type FrameSink,
} from "./frames.ts";
import { HpackDecoder, HpackError } from "./hpack-decoder.ts";
import { HpackEncoder } from "./hpack-encoder.ts";
import { StreamTable } from "./stream-table.ts";
import { CallExtras, type WireCall } from "./wire-call.ts";

/** Per-stream receive window (the server may send this much of an answer before we read any of it). */
export const STREAM_WINDOW = 32 * 1024 * 1024;
/** Connection receive window, shared by all streams. */
export const CONNECTION_WINDOW = 256 * 1024 * 1024;
/** Largest frame we accept: fewer frames per large answer (DATA is handed on piecewise anyway). */
const MAX_FRAME_SIZE = 16 * 1024 * 1024 - 1;
/** The peer's stream limit assumed until its SETTINGS arrive (common server default). */
const ASSUMED_MAX_STREAMS = 100;
const MAX_STREAM_ID = 2 ** 31 - 1;
/** Messages up to this size leave in one buffer with their HEADERS frame. */
const JOIN_LIMIT = 16 * 1024;
const DEFAULT_KEEPALIVE_TIMEOUT_MS = 20_000;
/** Pieces at least this large are written on their own rather than joined with the turn's small frames. */
const DIRECT_WRITE_BYTES = 16 * 1024;
/** The buffer small frames are written into, turn after turn (see #flush). */
const OUT_BUFFER_BYTES = 64 * 1024;
/** Plaintext reads outside large answers go into a buffer of this size (net's own read size). */
const READ_BUFFER_BYTES = 64 * 1024;
/** Reads at least this large are handed on in their buffer; smaller ones are copied out of it. */
const HAND_ON_BYTES = 32 * 1024;

export interface WireSessionOptions {
  hostname: string;
  port: number;
  /** tls.connect options (ALPN h2 added here); undefined for plaintext. */
  tls: tls.ConnectionOptions | undefined;
  keepaliveTimeMs?: number | undefined;
  keepaliveTimeoutMs?: number | undefined;
  keepalivePermitWithoutCalls?: boolean | undefined;
  /** The first stream id (odd; default 1): tests start near 2^31 - 1 to run a connection out of ids. */
  firstStreamId?: number | undefined;
}

/**
 * A call whose stream is not open yet, with its request: the header list and the message (without its
 * prefix unless call.prefixed). Made only for calls that wait for a stream slot; a call itself keeps
 * none of its request once its stream is open (16 bytes a call in flight).
 */
export interface PendingCall {
  call: WireCall<unknown>;
  headers: readonly string[];
  chunks: readonly Uint8Array[];
}

/** What a session tells the connection that owns it. */
export interface SessionOwner {
  /** Calls that were never sent on a session that can take no more (GOAWAY, ids used up): start them elsewhere. */
  restart(calls: PendingCall[]): void;
  /** The session's SETTINGS arrived or it died: waiters for the handshake can go on. */
  settled(session: WireSession): void;
}

function uncork(session: WireSession): void {
  session.uncork();
}

export class WireSession implements FrameSink {
  readonly socket: net.Socket;
  /** The server's SETTINGS arrived. */
  established = false;
  /** No new streams go here (GOAWAY, closed, failed, or ids used up). */
  dead = false;
  /** The first socket-level error. */
  error: Error | undefined;
  readonly #owner: SessionOwner;
  readonly #options: WireSessionOptions;
  readonly #streams = new StreamTable<WireCall<unknown>>();
  /** Calls waiting for a stream slot. */
  #queue: PendingCall[] = [];
  /** Open streams with request bytes held back by flow control, in order. */
  #blocked: WireCall<unknown>[] = [];
  #nextId = 1;
  #active = 0;
  #peerMaxStreams = ASSUMED_MAX_STREAMS;
  #peerInitialWindow = 65_535;
  #peerMaxFrame = DEFAULT_MAX_FRAME_SIZE;
  #sendWindow = 65_535;
  #recvUnacked = 0;
  readonly #decoder = new HpackDecoder();
  /** Request header blocks, with the dynamic table the server's decoder mirrors. */
  readonly #encoder = new HpackEncoder();
  /** The decoded header list, reused for every block (calls copy what they keep). */
  readonly #headerList: string[] = [];
  readonly #reader: FrameReader;
  /** A header block split over CONTINUATION frames, while it is being gathered. */
  #fragments: Buffer[] | undefined;
  #fragmentStream = 0;
  #fragmentEndStream = false;
  /** A WINDOW_UPDATE gave credit: pump once the read is parsed. */
  #pumpWanted = false;
  /** A flush is scheduled for this turn. */
  #corked = false;
  /** Small frames of this turn, written in place at [#outStart, #outAt) of #out; undefined until needed. */
  #out: Buffer | undefined;
  #outStart = 0;
  #outAt = 0;
  #closing = false;
  #gone = false;
  /** A connection error was found: nothing more is read. */
  #broken = false;
  #keepalive: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  /** Plaintext: the read buffer (undefined once handed on with what was read into it). */
  #readBuffer: Buffer | undefined;
  /** The call whose answer the pending read fills in place; undefined when it goes to #readBuffer. */
  #readCall: WireCall<unknown> | undefined;
  /** The message bytes that read was given room for (MessageReader.inPlace's `want`). */
  #readWant = 0;
  /** The call whose DATA the last read filled in place: the next frame header is read in place too. */
  #lastInPlace: WireCall<unknown> | undefined;

  constructor(owner: SessionOwner, options: WireSessionOptions) {
    this.#owner = owner;
    this.#options = options;
    if (options.firstStreamId !== undefined) this.#nextId = options.firstStreamId;
    this.#reader = new FrameReader(this, MAX_FRAME_SIZE);
    const connect = { host: options.hostname, port: options.port, noDelay: true };
    if (options.tls) {
      this.socket = tls.connect({ ...options.tls, ...connect, ALPNProtocols: ["h2"] });
      this.socket.once("secureConnect", () => this.#onSecureConnect());
      // Each read arrives as its own Buffer, so answers can stay views of it.
      this.socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    } else {
      // Plaintext: the session picks where each read lands (net's `onread`, no Readable machinery): the
      // rest of a large answer's DATA frame straight into the message's buffer, anything else into a
      // read buffer of its own (#readTarget, #onRead).
      this.socket = net.connect({ ...connect, onread: { buffer: () => this.#readTarget(), callback: (n: number, buf: Uint8Array) => this.#onRead(n, buf as Buffer) } });
    }
    const socket = this.socket;
    socket.unref();
    socket.on("error", (e: Error) => {
      this.error ??= e;
    });
    socket.on("close", () => this.#onClose());
    this.#write(CLIENT_PREFACE);
    this.#write(
      settingsFrame([
        [Setting.ENABLE_PUSH, 0],
        [Setting.INITIAL_WINDOW_SIZE, STREAM_WINDOW],
        [Setting.MAX_FRAME_SIZE, MAX_FRAME_SIZE],
      ]),
    );
    this.#write(windowUpdateFrame(0, CONNECTION_WINDOW - 65_535));
    if (options.keepaliveTimeMs !== undefined) this.#startKeepalive(options.keepaliveTimeMs);
  }

  // ---- calls ----

  /** Starts `call` here: a stream now, or a place in the queue while the peer's stream limit is reached. */
  start(call: WireCall<unknown>, headers: readonly string[], chunks: readonly Uint8Array[]): void {
    if (this.#active + this.#queue.length === 0) this.socket.ref();
    if (this.#active >= this.#peerMaxStreams || this.#queue.length > 0) this.#queue.push({ call, headers, chunks });
    else this.#open(call, headers, chunks);
  }

  /** The call gave up (abort, deadline, bad answer): reset its stream, or take it out of the queue. */
  cancel(call: WireCall<unknown>): void {
    if (call.id === 0) {
      const i = this.#queue.findIndex((p) => p.call === call);
      if (i >= 0) {
        this.#queue.splice(i, 1);
        this.#idleCheck();
      }
      return;
    }
    if (call.closed) return;
    if (!this.#gone) this.#write(rstStreamFrame(call.id, ErrorCode.CANCEL));
    this.#finish(call);
  }

  #openNext(): void {
    const p = this.#queue.shift()!;
    this.#open(p.call, p.headers, p.chunks);
  }

  #open(call: WireCall<unknown>, headers: readonly string[], chunks: readonly Uint8Array[]): void {
    if (this.#nextId > MAX_STREAM_ID) {
      // Stream ids used up: this connection drains, new calls go to a new one.
      this.dead = true;
      this.#owner.restart([{ call, headers, chunks }]);
      return;
    }
    const id = this.#nextId;
    this.#nextId += 2;
    call.id = id;
    this.#streams.add(id, call);
    this.#active++;
    let dataLength = call.prefixed ? 0 : 5;
    for (let i = 0; i < chunks.length; i++) dataLength += chunks[i]!.byteLength;
    // Encoded here, as its HEADERS frame is queued: blocks reach the socket in the order they were encoded.
    const block = this.#encoder.encode(headers, call.sharedHeaders);
    const maxFrame = this.#peerMaxFrame;
    const hsize = headersSize(block.length, maxFrame);
    if (dataLength <= JOIN_LIMIT && dataLength <= maxFrame && dataLength <= this.#sendWindow && dataLength <= this.#peerInitialWindow) {
      // The usual call: HEADERS and the whole message in one DATA frame with END_STREAM, written straight
      // into the turn's buffer (one copy of the message, no buffer per call).
      const size = hsize + FRAME_HEADER + dataLength;
      let out: Buffer;
      let at: number;
      if (size < DIRECT_WRITE_BYTES) {
        out = this.#room(size);
        at = this.#outAt;
      } else {
        out = Buffer.allocUnsafe(size);
        at = 0;
      }
      at = writeHeaders(out, at, id, block, maxFrame, false);
      writeFrameHeader(out, at, dataLength, FrameType.DATA, Flag.END_STREAM, id);
      at += FRAME_HEADER;
      if (!call.prefixed) at = writePrefix(out, at, dataLength - 5);
      for (let i = 0; i < chunks.length; i++) {
        const c = chunks[i]!;
        out.set(c, at);
        at += c.byteLength;
      }
      // Nothing is left to send: the stream keeps no send window (see #onWindowUpdate).
      this.#sendWindow -= dataLength;
      call.localDone = true;
      if (size < DIRECT_WRITE_BYTES) this.#outAt = at;
      else this.#write(out);
      return;
    }
    const sending = (call.extras ??= new CallExtras());
    if (!call.prefixed) {
      const prefix = Buffer.allocUnsafe(5);
      writePrefix(prefix, 0, dataLength - 5);
      sending.chunks = [prefix, ...chunks];
      call.prefixed = true;
    } else sending.chunks = chunks;
    sending.sendLeft = dataLength;
    sending.sendWindow = this.#peerInitialWindow;
    const out = Buffer.allocUnsafe(hsize);
    writeHeaders(out, 0, id, block, maxFrame, false);
    this.#write(out);
    this.#blocked.push(call);
    this.#pump();
  }

  /** Sends request bytes of blocked streams as far as the windows allow. */
  #pump(): void {
    this.#pumpWanted = false;
    const blocked = this.#blocked;
    if (blocked.length === 0 || this.#sendWindow <= 0) return;
    // All frames of one pump leave in one writev, after the small frames queued before them: each DATA
    // frame as its header and views of the caller's chunks (a 16 KiB frame size means thousands of
    // frames per large tensor).
    const socket = this.socket;
    socket.cork();
    let i = 0;
    while (i < blocked.length && this.#sendWindow > 0) {
      const call = blocked[i]!;
      if (!call.closed) this.#sendSome(call, socket);
      if (call.localDone || call.closed) blocked.splice(i, 1);
      else i++;
    }
    socket.uncork();
  }

  #sendSome(call: WireCall<unknown>, socket: net.Socket): void {
    // Frames queued earlier (this stream's HEADERS among them) go first.
    this.#flush();
    const x = call.extras!;
    while (x.sendLeft > 0 && this.#sendWindow > 0 && x.sendWindow > 0) {
      const n = Math.min(x.sendLeft, this.#sendWindow, x.sendWindow, this.#peerMaxFrame);
      const last = n === x.sendLeft;
      const header = Buffer.allocUnsafe(FRAME_HEADER);
      writeFrameHeader(header, 0, n, FrameType.DATA, last ? Flag.END_STREAM : 0, call.id);
      socket.write(header);
      // The payload as views of the caller's chunks: no copy of large tensors.
      let left = n;
      while (left > 0) {
        const chunk = x.chunks[x.chunkIndex]!;
        const avail = chunk.byteLength - x.chunkOffset;
        const take = Math.min(avail, left);
        socket.write(take === chunk.byteLength ? chunk : chunk.subarray(x.chunkOffset, x.chunkOffset + take));
        left -= take;
        if (take === avail) {
          x.chunkIndex++;
          x.chunkOffset = 0;
        } else x.chunkOffset += take;
      }
      x.sendLeft -= n;
      this.#sendWindow -= n;
      x.sendWindow -= n;
    }
    if (x.sendLeft === 0 && !call.localDone) {
      call.localDone = true;
      x.chunks = EMPTY_CHUNKS;
      // Sent: the progress is not needed any more (unless an answer's details already came with it).
      if (x.metadata === undefined && !x.countsAnswer) call.extras = undefined;
      if (call.remoteDone) this.#finish(call);
    }
  }

  /** The stream is closed both ways (or reset): its slot goes to the next queued call. */
  #finish(call: WireCall<unknown>): void {
    if (call.closed) return;
    call.closed = true;
    const x = call.extras;
    if (x !== undefined) {
      x.chunks = EMPTY_CHUNKS;
      x.sendLeft = 0;
    }
    this.#streams.delete(call.id);
    this.#active--;
    while (this.#queue.length > 0 && this.#active < this.#peerMaxStreams && !this.dead) this.#openNext();
    this.#idleCheck();
  }

  #idleCheck(): void {
    if (this.#active + this.#queue.length > 0) return;
    if (this.#closing || (this.dead && !this.#gone)) {
      this.#shutdown(ErrorCode.NO_ERROR);
      return;
    }
    if (!this.#gone) this.socket.unref();
  }

  /** Graceful close: calls in flight finish, then GOAWAY and the socket closes. */
  close(): void {
    this.#closing = true;
    this.dead = true;
    if (!this.established && this.#active + this.#queue.length === 0) {
      this.socket.destroy();
      return;
    }
    this.#idleCheck();
  }

  #shutdown(code: number, debug = ""): void {
    if (this.#gone) return;
    this.dead = true;
    this.#write(goawayFrame(0, code, debug));
    this.uncork();
    this.socket.end();
    // A peer that never closes its side must not hold the socket (and a test process) open.
    this.socket.destroySoon();
  }

  // ---- socket ----

  /**
   * Queues bytes for the socket. Small frames of one event-loop turn are joined and written once (one
   * Writable pass and one syscall for all of them); large pieces (tensor views) go out as they are, after
   * what is queued, never copied.
   */
  #write(buf: Uint8Array): void {
    const n = buf.byteLength;
    if (n >= DIRECT_WRITE_BYTES) {
      this.#flush();
      this.socket.write(buf);
      return;
    }
    const out = this.#room(n);
    out.set(buf, this.#outAt);
    this.#outAt += n;
  }

  /** The turn's buffer with room for `n` more bytes at #outAt (n < DIRECT_WRITE_BYTES); the flush is scheduled. */
  #room(n: number): Buffer {
    if (this.#outAt === this.#outStart && !this.#corked) {
      this.#corked = true;
      process.nextTick(uncork, this);
    }
    let out = this.#out;
    if (out !== undefined && this.#outAt + n <= out.length) return out;
    // Full: what is there goes now (the order on the wire stays), the rest of the turn continues after it.
    this.#flush();
    out = this.#out;
    if (out === undefined || this.#outAt + n > out.length) {
      out = this.#out = Buffer.allocUnsafeSlow(OUT_BUFFER_BYTES);
      this.#outStart = this.#outAt = 0;
    }
    return out;
  }

  #flush(): void {
    const start = this.#outStart;
    const end = this.#outAt;
    if (end === start) return;
    const socket = this.socket;
    socket.write(this.#out!.subarray(start, end));
    // The socket took the bytes at once (plaintext, kernel buffer not full): the buffer starts over. Else
    // (TLS, backpressure, still connecting) the written part is held until sent and is not touched again:
    // the next turns fill what follows it, then a new buffer.
    if (socket.writableLength === 0) this.#outStart = this.#outAt = 0;
    else this.#outStart = end;
  }

  /** Writes what the turn queued (run from process.nextTick, and before a close). */
  uncork(): void {
    this.#corked = false;
    this.#flush();
  }

  #onSecureConnect(): void {
    const socket = this.socket as tls.TLSSocket;
    if (socket.alpnProtocol !== "h2")
      socket.destroy(new Error(`the server did not agree to HTTP/2 over TLS (ALPN answered ${JSON.stringify(socket.alpnProtocol || "nothing")}, expected "h2")`));
  }

  /**
   * The buffer the next plaintext read goes into. Inside an unpadded DATA frame of a large answer that is
   * being filled: the answer's buffer where the data continues, sized to the frame's rest plus the next
   * frame header (read into room the data overwrites next, so that a run of DATA frames costs one read
   * each and no copy). Right after such a frame: that header alone, in the same place. Otherwise the
   * session's read buffer. (A target chosen for a call that then fails stays net's read buffer until the
   * next read: bytes still arriving for that stream land there harmlessly.)
   */
  #readTarget(): Uint8Array {
    const last = this.#lastInPlace;
    this.#lastInPlace = undefined;
    this.#readCall = undefined;
    if (!this.#broken) {
      const r = this.#reader;
      const id = r.dataStream;
      let call: WireCall<unknown> | undefined;
      let target: Buffer | undefined;
      let want = 0;
      if (id !== 0) {
        call = this.#streams.get(id);
        want = r.dataLeft;
        target = call?.readTarget(want, FRAME_HEADER);
      } else if (last !== undefined && !last.closed && r.headerMissing > 0) {
        call = last;
        target = call.readTarget(0, r.headerMissing);
      }
      if (target !== undefined) {
        this.#readCall = call;
        this.#readWant = want;
        return target;
      }
    }
    return (this.#readBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES));
  }

  /** `n` bytes were read into `buf`, the buffer #readTarget gave. Always true: reading goes on. */
  #onRead(n: number, buf: Buffer): boolean {
    if (!this.#broken) this.#read(n, buf);
    return true;
  }

  #read(n: number, buf: Buffer): void {
    const call = this.#readCall;
    try {
      if (call === undefined) {
        let chunk: Buffer;
        if (n >= HAND_ON_BYTES) {
          // Handed on as it is (answers may keep views of it); the next read gets a new buffer.
          chunk = buf.subarray(0, n);
          this.#readBuffer = undefined;
        } else {
          // Small reads are copied out: the buffer is reused, and an answer kept as a view holds only these bytes.
          chunk = Buffer.allocUnsafe(n);
          buf.copy(chunk, 0, 0, n);
        }
        this.#reader.push(chunk);
      } else {
        const r = this.#reader;
        const data = call.filledInPlace(n, this.#readWant);
        if (data > 0) r.skipData(data);
        // What came after the data: (part of) the next frame header, parsed or copied by the reader at once.
        if (n > data) r.push(buf.subarray(data, n));
        // Its next frame header is read in place too (when the data went on, or a header is half read).
        if (r.dataStream === 0 && (data > 0 || r.headerMissing < FRAME_HEADER)) this.#lastInPlace = call;
      }
      if (this.#pumpWanted) this.#pump();
    } catch (e) {
      this.#connectionError(e);
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#broken) return;
    try {
      this.#reader.push(chunk);
      // Window updates of one read (connection and stream usually come together) send once.
      if (this.#pumpWanted) this.#pump();
    } catch (e) {
      this.#connectionError(e);
    }
  }

  #connectionError(e: unknown): void {
    const code = e instanceof ConnectionError ? e.h2code : e instanceof HpackError ? ErrorCode.COMPRESSION_ERROR : ErrorCode.INTERNAL_ERROR;
    const message =
      code === ErrorCode.INTERNAL_ERROR ? `internal error while reading the server's frames: ${(e as Error).message}` : `HTTP/2 protocol error from the server: ${(e as Error).message}`;
    this.error ??= new Error(message, { cause: e });
    this.#broken = true;
    if (this.#gone) return;
    this.#write(goawayFrame(0, code, (e as Error).message.slice(0, 200)));
    this.uncork();
    // The GOAWAY goes out first; the calls fail when the socket closes.
    this.socket.destroySoon();
  }

  #onClose(): void {
    this.#gone = true;
    this.dead = true;
    if (this.#keepalive) clearInterval(this.#keepalive);
    if (this.#pingTimer) clearTimeout(this.#pingTimer);
    const cause = this.error;
    const error = this.established
      ? statusError(Status.UNAVAILABLE, `Connection dropped${cause ? `: ${cause.message}` : ""}`, {}, cause)
      : statusError(Status.UNAVAILABLE, `${NOT_CONNECTED}. Last error: ${cause?.message ?? "Failed to connect"}`, {}, cause);
    const calls = this.#streams.values();
    for (const p of this.#queue) calls.push(p.call);
    this.#streams.clear();
    this.#queue = [];
    this.#blocked = [];
    this.#active = 0;
    for (const call of calls) {
      call.closed = true;
      call.fail(error);
    }
    this.#owner.settled(this);
  }

  // ---- frames ----

  onDataPiece(streamId: number, piece: Buffer, last: boolean, endStream: boolean, frameLength: number): void {
    if (streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "DATA frame on stream 0");
    const call = this.#streams.get(streamId);
    if (call !== undefined && piece.length > 0) call.onData(piece);
    if (!last) return;
    // Everything received is consumed at once, so credit goes back as soon as half a window is used.
    this.#recvUnacked += frameLength;
    if (this.#recvUnacked >= CONNECTION_WINDOW / 2) {
      this.#write(windowUpdateFrame(0, this.#recvUnacked));
      this.#recvUnacked = 0;
    }
    if (call === undefined) return;
    if (endStream) return this.#remoteEnd(call);
    let x = call.extras;
    if (x === undefined || !x.countsAnswer) {
      // Not counted so far: only answers that may reach half the stream window are. A smaller one (the usual)
      // cannot use up the 32 MiB window unless the server pads its frames with over 24 MiB.
      if (!call.needsStreamCredit(STREAM_WINDOW / 4)) return;
      x ??= call.extras = new CallExtras();
      x.countsAnswer = true;
      // What the stream carried so far (padding aside: credit can only fall short by that, never exceed).
      // A non-200 body is not read as a message: from this frame on (at most one frame, 16 MiB, uncounted).
      x.recvUnacked = Math.max(call.receivedBytes, frameLength);
    } else x.recvUnacked += frameLength;
    if (x.recvUnacked >= STREAM_WINDOW / 2) {
      this.#write(windowUpdateFrame(streamId, x.recvUnacked));
      x.recvUnacked = 0;
    }
  }

  onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.#fragments !== undefined && type !== FrameType.CONTINUATION)
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `frame of type ${type} inside a header block (CONTINUATION expected)`);
    switch (type) {
      case FrameType.HEADERS:
        return this.#onHeaders(flags, streamId, payload);
      case FrameType.CONTINUATION:
        return this.#onContinuation(flags, streamId, payload);
      case FrameType.SETTINGS:
        return this.#onSettings(flags, streamId, payload);
      case FrameType.WINDOW_UPDATE:
        return this.#onWindowUpdate(streamId, payload);
      case FrameType.RST_STREAM:
        return this.#onRstStream(streamId, payload);
      case FrameType.PING:
        return this.#onPing(flags, streamId, payload);
      case FrameType.GOAWAY:
        return this.#onGoaway(streamId, payload);
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE received although SETTINGS_ENABLE_PUSH is 0");
      default:
        // PRIORITY and unknown frame types are ignored (RFC 9113 sections 5.3.2 and 4.1).
        return;
    }
  }

  #onHeaders(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "HEADERS frame on stream 0");
    let start = 0;
    let end = payload.length;
    if (flags & Flag.PADDED) {
      if (end < 1) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "padded HEADERS frame without a pad length");
      const pad = payload[0]!;
      start = 1;
      end -= pad;
    }
    if (flags & Flag.PRIORITY) start += 5;
    if (start > end) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "HEADERS padding and priority fields exceed the frame");
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (flags & Flag.END_HEADERS) return this.#headerBlock(streamId, payload, start, end, endStream);
    this.#fragments = [Buffer.from(payload.subarray(start, end))];
    this.#fragmentStream = streamId;
    this.#fragmentEndStream = endStream;
  }

  #onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const fragments = this.#fragments;
    if (fragments === undefined || streamId !== this.#fragmentStream)
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `CONTINUATION on stream ${streamId} without a header block in progress there`);
    fragments.push(Buffer.from(payload));
    if ((flags & Flag.END_HEADERS) === 0) return;
    this.#fragments = undefined;
    const block = Buffer.concat(fragments);
    this.#headerBlock(streamId, block, 0, block.length, this.#fragmentEndStream);
  }

  #headerBlock(streamId: number, buf: Buffer, start: number, end: number, endStream: boolean): void {
    // Decoded even when nobody waits for the stream: the dynamic table must follow the server's.
    const list = this.#decoder.decode(buf, start, end, this.#headerList);
    const call = this.#streams.get(streamId);
    if (call === undefined) return;
    call.onHeaders(list, endStream);
    if (endStream) this.#remoteEnd(call);
  }

  #remoteEnd(call: WireCall<unknown>): void {
    call.remoteDone = true;
    call.onEnd();
    if (call.localDone) return this.#finish(call);
    // The server answered before the request was all sent: stop sending and close our side.
    if (!this.#gone) this.#write(rstStreamFrame(call.id, ErrorCode.NO_ERROR));
    this.#finish(call);
  }

  #onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS on stream ${streamId}`);
    if (flags & Flag.ACK) {
      if (payload.length !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
      return;
    }
    if (payload.length % 6 !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `SETTINGS payload of ${payload.length} bytes is not a multiple of 6`);
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (id === Setting.MAX_CONCURRENT_STREAMS) this.#peerMaxStreams = value;
      else if (id === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE ${value} exceeds 2^31-1`);
        const delta = value - this.#peerInitialWindow;
        this.#peerInitialWindow = value;
        // Only streams with bytes left to send keep a window.
        for (const call of this.#streams.values()) if (call.extras !== undefined) call.extras.sendWindow += delta;
      } else if (id === Setting.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME_SIZE || value > 16_777_215)
          throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value} outside 16384..16777215`);
        this.#peerMaxFrame = value;
      } else if (id === Setting.ENABLE_PUSH && value > 1) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value}`);
      // Before our ACK goes out: blocks after it start with the size update the new limit asks for.
      else if (id === Setting.HEADER_TABLE_SIZE) this.#encoder.setLimit(value);
      // MAX_HEADER_LIST_SIZE: request headers are small.
    }
    this.#write(SETTINGS_ACK);
    if (!this.established) {
      // A server that says "no limit" (or sends no limit) is still not flooded: its announced value, else ours.
      if (!payloadHas(payload, Setting.MAX_CONCURRENT_STREAMS)) this.#peerMaxStreams = 2 ** 31;
      this.established = true;
      this.#owner.settled(this);
    }
    while (this.#queue.length > 0 && this.#active < this.#peerMaxStreams && !this.dead) this.#openNext();
    this.#pump();
  }

  #onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `WINDOW_UPDATE of ${payload.length} bytes`);
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE with increment 0 on the connection");
      this.#sendWindow += increment;
      if (this.#sendWindow > MAX_WINDOW) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "connection send window beyond 2^31-1");
      this.#pumpWanted = true;
      return;
    }
    const call = this.#streams.get(streamId);
    if (call === undefined) return;
    // A stream whose request left whole keeps no window (8 bytes a call in flight): more credit for it
    // cannot be used, so only a zero increment is an error there.
    const x = call.localDone ? undefined : call.extras;
    if (increment === 0 || (x !== undefined && x.sendWindow + increment > MAX_WINDOW)) {
      // A stream error: that call fails, the connection goes on.
      this.#write(rstStreamFrame(streamId, increment === 0 ? ErrorCode.PROTOCOL_ERROR : ErrorCode.FLOW_CONTROL_ERROR));
      call.fail(statusError(Status.INTERNAL, `HTTP/2 stream error: WINDOW_UPDATE ${increment === 0 ? "with increment 0" : "beyond 2^31-1"}`));
      this.#finish(call);
      return;
    }
    if (x !== undefined) {
      x.sendWindow += increment;
      this.#pumpWanted = true;
    }
  }

  #onRstStream(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `RST_STREAM of ${payload.length} bytes`);
    if (streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on stream 0");
    const call = this.#streams.get(streamId);
    if (call === undefined) return;
    const code = payload.readUInt32BE(0);
    if (code === ErrorCode.NO_ERROR && call.remoteDone) return this.#finish(call);
    const s = statusForRstCode(code);
    call.fail(statusError(s.code, s.details));
    this.#finish(call);
  }

  #onPing(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `PING on stream ${streamId}`);
    if (payload.length !== 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `PING of ${payload.length} bytes`);
    if (flags & Flag.ACK) {
      if (this.#pingTimer) clearTimeout(this.#pingTimer);
      this.#pingTimer = undefined;
      return;
    }
    this.#write(pingFrame(payload, true));
  }

  #onGoaway(streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `GOAWAY on stream ${streamId}`);
    if (payload.length < 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `GOAWAY of ${payload.length} bytes`);
    const lastStreamId = payload.readUInt32BE(0) & 0x7fffffff;
    const code = payload.readUInt32BE(4);
    const debug = payload.toString("utf8", 8);
    this.dead = true;
    // Streams above last-stream-id were never processed: safe to retry anywhere.
    const why = `Stream refused by server: GOAWAY (code ${code}${debug ? `, ${debug}` : ""}) before the server processed it`;
    for (const call of this.#streams.values()) {
      if (call.id <= lastStreamId) continue;
      call.fail(statusError(Status.UNAVAILABLE, why));
      this.#finish(call);
    }
    // Calls never sent start on a new connection.
    const unsent = this.#queue;
    this.#queue = [];
    if (unsent.length > 0) this.#owner.restart(unsent);
    this.#owner.settled(this);
    this.#idleCheck();
  }

  #startKeepalive(intervalMs: number): void {
    const timeoutMs = this.#options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS;
    this.#keepalive = setInterval(() => {
      if (this.#gone || !this.established || this.#pingTimer !== undefined) return;
      if (this.#active === 0 && !this.#options.keepalivePermitWithoutCalls) return;
      this.#pingTimer = setTimeout(() => {
        this.error ??= new Error(`keepalive ping not answered within ${timeoutMs} ms (grpc.keepaliveTimeoutMs)`);
        this.socket.destroy();
      }, timeoutMs);
      this.#pingTimer.unref();
      this.#write(pingFrame(PING_PAYLOAD, false));
    }, intervalMs);
    this.#keepalive.unref();
  }
}

const EMPTY_CHUNKS: readonly Uint8Array[] = [];

/** A gRPC message prefix (uncompressed, `length` bytes) at `at`; returns its end. */
function writePrefix(out: Buffer, at: number, length: number): number {
  out[at] = 0;
  out[at + 1] = length >>> 24;
  out[at + 2] = (length >>> 16) & 0xff;
  out[at + 3] = (length >>> 8) & 0xff;
  out[at + 4] = length & 0xff;
  return at + 5;
}
const PING_PAYLOAD = Buffer.from("iaas-h2p", "latin1");

function payloadHas(payload: Buffer, id: number): boolean {
  for (let at = 0; at + 6 <= payload.length; at += 6) if (payload.readUInt16BE(at) === id) return true;
  return false;
}
