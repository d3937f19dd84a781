// HTTP/2 frames (RFC 9113 section 6): type, flag, error and setting numbers, writers for what the client
// sends, and a reader that cuts the socket's byte stream into frames. DATA payloads are handed on as
// views of the received chunks, piece by piece as they arrive (a 16 MB frame is never gathered), or read
// by the session straight into a message's buffer and only counted here (skipData); other frames are
// handed on whole (a view when one chunk holds them, else gathered into one buffer).

export const FrameType = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

export const ErrorCode = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  FLOW_CONTROL_ERROR: 3,
  SETTINGS_TIMEOUT: 4,
  STREAM_CLOSED: 5,
  FRAME_SIZE_ERROR: 6,
  REFUSED_STREAM: 7,
  CANCEL: 8,
  COMPRESSION_ERROR: 9,
  CONNECT_ERROR: 10,
  ENHANCE_YOUR_CALM: 11,
  INADEQUATE_SECURITY: 12,
  HTTP_1_1_REQUIRED: 13,
} as const;

export const Setting = {
  HEADER_TABLE_SIZE: 1,
  ENABLE_PUSH: 2,
  MAX_CONCURRENT_STREAMS: 3,
  INITIAL_WINDOW_SIZE: 4,
  MAX_FRAME_SIZE: 5,
  MAX_HEADER_LIST_SIZE: 6,
} as const;

export const CLIENT_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
export const FRAME_HEADER = 9;
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
export const MAX_WINDOW = 2 ** 31 - 1;

/** Writes a frame header at `at`. */
export function writeFrameHeader(buf: Buffer, at: number, length: number, type: number, flags: number, streamId: number): void {
  buf[at] = (length >>> 16) & 0xff;
  buf[at + 1] = (length >>> 8) & 0xff;
  buf[at + 2] = length & 0xff;
  buf[at + 3] = type;
  buf[at + 4] = flags;
  // Byte stores rather than writeUInt32BE, which checks its arguments first (this runs per frame).
  buf[at + 5] = (streamId >>> 24) & 0x7f;
  buf[at + 6] = (streamId >>> 16) & 0xff;
  buf[at + 7] = (streamId >>> 8) & 0xff;
  buf[at + 8] = streamId & 0xff;
}

export function settingsFrame(settings: readonly (readonly [number, number])[]): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER + 6 * settings.length);
  writeFrameHeader(buf, 0, 6 * settings.length, FrameType.SETTINGS, 0, 0);
  let at = FRAME_HEADER;
  for (const [id, value] of settings) {
    buf.writeUInt16BE(id, at);
    buf.writeUInt32BE(value, at + 2);
    at += 6;
  }
  return buf;
}

export const SETTINGS_ACK: Buffer = (() => {
  const b = Buffer.alloc(FRAME_HEADER);
  writeFrameHeader(b, 0, 0, FrameType.SETTINGS, Flag.ACK, 0);
  return b;
})();

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER + 4);
  writeFrameHeader(buf, 0, 4, FrameType.WINDOW_UPDATE, 0, streamId);
  buf.writeUInt32BE(increment, FRAME_HEADER);
  return buf;
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER + 4);
  writeFrameHeader(buf, 0, 4, FrameType.RST_STREAM, 0, streamId);
  buf.writeUInt32BE(code, FRAME_HEADER);
  return buf;
}

export function pingFrame(payload: Uint8Array, ack: boolean): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER + 8);
  writeFrameHeader(buf, 0, 8, FrameType.PING, ack ? Flag.ACK : 0, 0);
  buf.set(payload.subarray(0, 8), FRAME_HEADER);
  return buf;
}

export function goawayFrame(lastStreamId: number, code: number, debug = ""): Buffer {
  const text = Buffer.from(debug, "utf8");
  const buf = Buffer.allocUnsafe(FRAME_HEADER + 8 + text.length);
  writeFrameHeader(buf, 0, 8 + text.length, FrameType.GOAWAY, 0, 0);
  buf.writeUInt32BE(lastStreamId & 0x7fffffff, FRAME_HEADER);
  buf.writeUInt32BE(code, FRAME_HEADER + 4);
  text.copy(buf, FRAME_HEADER + 8);
  return buf;
}

/**
 * HEADERS (END_HEADERS or followed by CONTINUATION frames when the block exceeds `maxFrameSize`) written
 * into `out` at `at`; returns the end. `out` must have room for headersSize(block.length, maxFrameSize).
 */
export function writeHeaders(out: Buffer, at: number, streamId: number, block: Buffer, maxFrameSize: number, endStream: boolean): number {
  let off = 0;
  let first = true;
  do {
    const n = Math.min(maxFrameSize, block.length - off);
    const last = off + n === block.length;
    const type = first ? FrameType.HEADERS : FrameType.CONTINUATION;
    const flags = (last ? Flag.END_HEADERS : 0) | (first && endStream ? Flag.END_STREAM : 0);
    writeFrameHeader(out, at, n, type, flags, streamId);
    out.set(n === block.length ? block : block.subarray(off, off + n), at + FRAME_HEADER);
    at += FRAME_HEADER + n;
    off += n;
    first = false;
  } while (off < block.length);
  return at;
}

export function headersSize(blockLength: number, maxFrameSize: number): number {
  const frames = Math.max(1, Math.ceil(blockLength / maxFrameSize));
  return frames * FRAME_HEADER + blockLength;
}

/** A frame-level problem the reader found: a connection error of `code`. */
export class ConnectionError extends Error {
  readonly h2code: number;

  constructor(h2code: number, message: string) {
    super(message);
    this.h2code = h2code;
  }
}

/** Where the reader delivers frames. */
export interface FrameSink {
  /** A piece of a DATA frame's data (padding removed); `frameLength` counts for flow control once, on the last piece. */
  onDataPiece(streamId: number, piece: Buffer, last: boolean, endStream: boolean, frameLength: number): void;
  /** Any other complete frame; `payload` is valid only during the call. */
  onFrame(type: number, flags: number, streamId: number, payload: Buffer): void;
}

const STATE_HEADER = 0;
const STATE_DATA = 1;
const STATE_PAYLOAD = 2;

export class FrameReader {
  readonly #sink: FrameSink;
  /** Largest frame we accept (what we announced as SETTINGS_MAX_FRAME_SIZE). */
  readonly #maxFrameSize: number;
  #state = STATE_HEADER;
  readonly #header = Buffer.allocUnsafe(FRAME_HEADER);
  #headerFilled = 0;
  #length = 0;
  #type = 0;
  #flags = 0;
  #streamId = 0;
  // DATA: bytes of the frame still to come, the padding at its end, whether the pad length byte is pending.
  #frameLeft = 0;
  #padding = 0;
  #needPadLength = false;
  // Other frames, when split across chunks.
  #payload: Buffer | undefined;
  #payloadFilled = 0;

  constructor(sink: FrameSink, maxFrameSize: number) {
    this.#sink = sink;
    this.#maxFrameSize = maxFrameSize;
  }

  push(chunk: Buffer): void {
    let off = 0;
    const n = chunk.length;
    while (off < n) {
      if (this.#state === STATE_HEADER) {
        if (this.#headerFilled === 0 && n - off >= FRAME_HEADER) {
          this.#startFrame(chunk, off);
          off += FRAME_HEADER;
        } else {
          const take = Math.min(FRAME_HEADER - this.#headerFilled, n - off);
          chunk.copy(this.#header, this.#headerFilled, off, off + take);
          this.#headerFilled += take;
          off += take;
          if (this.#headerFilled < FRAME_HEADER) return;
          this.#headerFilled = 0;
          this.#startFrame(this.#header, 0);
        }
        // Frames without payload complete here.
        if (this.#length === 0) this.#emptyFrame();
        continue;
      }
      if (this.#state === STATE_DATA) {
        off = this.#data(chunk, off);
        continue;
      }
      // STATE_PAYLOAD
      if (this.#payload === undefined && n - off >= this.#length) {
        const payload = chunk.subarray(off, off + this.#length);
        off += this.#length;
        this.#state = STATE_HEADER;
        this.#sink.onFrame(this.#type, this.#flags, this.#streamId, payload);
        continue;
      }
      this.#payload ??= Buffer.allocUnsafe(this.#length);
      const take = Math.min(this.#length - this.#payloadFilled, n - off);
      chunk.copy(this.#payload, this.#payloadFilled, off, off + take);
      this.#payloadFilled += take;
      off += take;
      if (this.#payloadFilled === this.#length) {
        const payload = this.#payload;
        this.#payload = undefined;
        this.#payloadFilled = 0;
        this.#state = STATE_HEADER;
        this.#sink.onFrame(this.#type, this.#flags, this.#streamId, payload);
      }
    }
  }

  /** Stream of the unpadded DATA frame whose data comes next (the caller may read it in place), else 0. */
  get dataStream(): number {
    return this.#state === STATE_DATA && (this.#flags & Flag.PADDED) === 0 ? this.#streamId : 0;
  }

  /** Data bytes of the current DATA frame still to come. */
  get dataLeft(): number {
    return this.#frameLeft;
  }

  /** Bytes of the next frame header still to come (0 inside a frame). */
  get headerMissing(): number {
    return this.#state === STATE_HEADER ? FRAME_HEADER - this.#headerFilled : 0;
  }

  /**
   * `n` bytes of the current (unpadded) DATA frame's data were read by the caller straight into their
   * destination; they are counted here as if pushed, without being handed on.
   */
  skipData(n: number): void {
    if (this.#state !== STATE_DATA || n > this.#frameLeft) throw new Error(`skipData(${n}) outside a DATA frame's remaining ${this.#frameLeft} bytes`);
    this.#frameLeft -= n;
    if (this.#frameLeft > 0) return;
    this.#state = STATE_HEADER;
    this.#sink.onDataPiece(this.#streamId, EMPTY, true, (this.#flags & Flag.END_STREAM) !== 0, this.#length);
  }

  #startFrame(buf: Buffer, at: number): void {
    this.#length = (buf[at]! << 16) | (buf[at + 1]! << 8) | buf[at + 2]!;
    this.#type = buf[at + 3]!;
    this.#flags = buf[at + 4]!;
    this.#streamId = ((buf[at + 5]! & 0x7f) << 24) | (buf[at + 6]! << 16) | (buf[at + 7]! << 8) | buf[at + 8]!;
    if (this.#length > this.#maxFrameSize)
      throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `frame of ${this.#length} bytes exceeds SETTINGS_MAX_FRAME_SIZE ${this.#maxFrameSize}`);
    if (this.#type === FrameType.DATA) {
      this.#state = STATE_DATA;
      this.#frameLeft = this.#length;
      this.#padding = 0;
      this.#needPadLength = (this.#flags & Flag.PADDED) !== 0;
    } else this.#state = STATE_PAYLOAD;
  }

  #emptyFrame(): void {
    this.#state = STATE_HEADER;
    if (this.#type === FrameType.DATA) {
      if (this.#flags & Flag.PADDED) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "padded DATA frame without a pad length");
      this.#sink.onDataPiece(this.#streamId, EMPTY, true, (this.#flags & Flag.END_STREAM) !== 0, 0);
    } else this.#sink.onFrame(this.#type, this.#flags, this.#streamId, EMPTY);
  }

  #data(chunk: Buffer, off: number): number {
    if (this.#needPadLength) {
      this.#padding = chunk[off++]!;
      this.#frameLeft--;
      this.#needPadLength = false;
      if (this.#padding > this.#frameLeft) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `DATA padding ${this.#padding} exceeds the frame's ${this.#frameLeft} remaining bytes`);
    }
    const dataLeft = this.#frameLeft - this.#padding;
    const take = Math.min(dataLeft, chunk.length - off);
    const endOfData = take === dataLeft;
    let skip = 0;
    if (endOfData) skip = Math.min(this.#padding, chunk.length - off - take);
    this.#frameLeft -= take + skip;
    if (endOfData) this.#padding -= skip;
    const done = this.#frameLeft === 0;
    if (take > 0 || done) {
      if (done) this.#state = STATE_HEADER;
      this.#sink.onDataPiece(this.#streamId, chunk.subarray(off, off + take), done, done && (this.#flags & Flag.END_STREAM) !== 0, done ? this.#length : 0);
    }
    return off + take + skip;
  }
}

const EMPTY = Buffer.alloc(0);
