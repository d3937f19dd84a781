// Reads the one length-prefixed gRPC message of a unary response from the stream's DATA chunks without
// joining them: a message that arrives inside one chunk is a view of it; otherwise one buffer sized from
// the 5-byte prefix receives each chunk as it comes (one copy, chunks released at once), placed so that a
// chosen field's bytes start 8-byte aligned (typed-array views of tensors then need no further copy).

/** Offset within the message at which the bytes to align start, read from its first bytes; 0 when unknown. */
export type AlignProbe = (head: Buffer, start: number, end: number) => number;

/** What a reader needs to know of its call: the largest message accepted, and where to align the body. */
export interface ReaderLimits {
  readonly maxMessageLength: number;
  readonly align?: AlignProbe | undefined;
}

/** Messages at least this large may be filled in place (MessageReader.inPlace). */
export const IN_PLACE_MIN_BYTES = 256 * 1024;
/** Room after the end of such a message's body: at least one HTTP/2 frame header. */
const IN_PLACE_SLACK = 16;

/** MessageReader.bits: the message is compressed (flag 1 in its prefix). */
const COMPRESSED = 1;
/** MessageReader.bits: the stream carried something other than one well-formed message (its text is in #body). */
const PROBLEM = 2;
/** The lowest bit of MessageReader.bits that subclasses may use (SettlingCall, WireCall). */
export const FIRST_FREE_BIT = 4;

export class MessageReader<L extends ReaderLimits = ReaderLimits> {
  /**
   * Boolean state of the reader and of the calls built on it, one bit each (COMPRESSED and PROBLEM here,
   * the rest from FIRST_FREE_BIT up): a field per flag costs 8 bytes a call in flight.
   */
  protected bits = 0;
  /** One object that calls of the same kind share (a subclass keeps more of the call's settings in it). */
  protected readonly limits: L;
  /** The message's length from its prefix; -1 until the prefix is read. */
  #length = -1;
  /**
   * The message; while #length < 0, the bytes of a prefix split over chunks (with #filled counting them);
   * with PROBLEM, the problem's text. One slot for the three: a field costs every call in flight 8 bytes.
   */
  #body: Buffer | string | undefined;
  #filled = 0;

  /** `limits`: the shared settings, or the largest message accepted (with `align`). */
  constructor(limits: L | number, align?: AlignProbe) {
    this.limits = typeof limits === "number" ? ({ maxMessageLength: limits, align } as ReaderLimits as L) : limits;
  }

  get compressed(): boolean {
    return (this.bits & COMPRESSED) !== 0;
  }

  /** Set when the stream carried something other than one well-formed message. */
  get problem(): string | undefined {
    return (this.bits & PROBLEM) !== 0 ? (this.#body as string) : undefined;
  }

  // Not a #private method: that would put a brand field on every instance (8 bytes a call in flight).
  private setProblem(problem: string): void {
    this.bits |= PROBLEM;
    this.#body = problem;
  }

  /** The complete message, or undefined when none (or only part of one) arrived. */
  message(): Buffer | undefined {
    return (this.bits & PROBLEM) === 0 && this.#body !== undefined && this.#filled === this.#length ? (this.#body as Buffer) : undefined;
  }

  /** The message's length from its prefix; -1 until the prefix was read. */
  get messageLength(): number {
    return this.#length;
  }

  /** Bytes of the stream read so far: the prefix (or the part of it read) and the message's bytes. */
  get receivedBytes(): number {
    return this.#length < 0 ? this.#filled : 5 + this.#filled;
  }

  /** Whether a message was started but not finished. */
  get partial(): boolean {
    return this.#length >= 0 && this.#filled < this.#length;
  }

  /**
   * Where the message's next bytes go, for a connection that reads socket bytes into it itself: a view
   * of the body from the first byte not yet filled. `want`: how many of the stream's next bytes are
   * message data (a DATA frame's rest); `extra`: how many bytes after them the caller would read along
   * (the next frame's header) into room that is overwritten later or lies past the body's end. Data
   * beyond the message's end is not taken (push must see it). Undefined unless a large message has
   * been started and is not yet complete. Then filledInPlace with the same `want`.
   */
  inPlace(want: number, extra: number): Buffer | undefined {
    const body = this.#body;
    if (body === undefined || this.#length < IN_PLACE_MIN_BYTES || (this.bits & PROBLEM) !== 0) return undefined;
    const left = this.#length - this.#filled;
    if (left === 0) return undefined;
    const store = body as Buffer;
    const start = store.byteOffset + this.#filled;
    // The body's store has IN_PLACE_SLACK bytes past the body's end (see push).
    const end = want > left ? start + left : start + want + Math.min(extra, IN_PLACE_SLACK);
    return Buffer.from(store.buffer, start, end - start);
  }

  /**
   * `n` bytes were read into the last inPlace view, given for `want`; returns how many of them are message
   * data (the caller keeps `want`: a field here would cost every call in flight).
   */
  filledInPlace(n: number, want: number): number {
    const data = Math.min(n, want, this.#length - this.#filled);
    this.#filled += data;
    return data;
  }

  push(chunk: Buffer): void {
    let off = 0;
    const n = chunk.length;
    while (off < n && (this.bits & PROBLEM) === 0) {
      if (this.#length < 0 || this.#filled === this.#length) {
        if (this.#length >= 0) {
          // A second message on a unary call.
          this.setProblem("Too many responses received");
          return;
        }
        off = this.readPrefix(chunk, off);
        continue;
      }
      const take = Math.min(this.#length - this.#filled, n - off);
      if (this.#body === undefined) {
        if (take === this.#length) {
          this.#body = chunk.subarray(off, off + take);
          this.#filled = take;
          off += take;
          continue;
        }
        const probe = this.limits.align?.(chunk, off, n) ?? 0;
        const shift = (8 - (probe % 8)) % 8;
        // Large messages get room for a frame header after their end: a connection that reads DATA
        // straight into the body (inPlace) may read the next frame's header along with the last bytes.
        const store = Buffer.allocUnsafe(this.#length + shift + (this.#length >= IN_PLACE_MIN_BYTES ? IN_PLACE_SLACK : 0));
        this.#body = store.subarray(shift, shift + this.#length);
      }
      chunk.copy(this.#body as Buffer, this.#filled, off, off + take);
      this.#filled += take;
      off += take;
    }
  }

  // Not a #private method: that would put a brand field on every instance (8 bytes a call in flight).
  private readPrefix(chunk: Buffer, off: number): number {
    let flag: number;
    let length: number;
    if (this.#filled === 0 && chunk.length - off >= 5) {
      flag = chunk[off]!;
      length = chunk.readUInt32BE(off + 1);
      off += 5;
    } else {
      // A prefix split over chunks: gathered in #body, counted by #filled (#length is still -1).
      const prefix = (this.#body ??= Buffer.allocUnsafe(5)) as Buffer;
      const take = Math.min(5 - this.#filled, chunk.length - off);
      chunk.copy(prefix, this.#filled, off, off + take);
      this.#filled += take;
      off += take;
      if (this.#filled < 5) return off;
      flag = prefix[0]!;
      length = prefix.readUInt32BE(1);
      this.#body = undefined;
    }
    if (flag > 1) {
      this.setProblem(`Invalid message flag ${flag}`);
      return off;
    }
    const maxLength = this.limits.maxMessageLength;
    if (length > maxLength) {
      this.setProblem(`Received message larger than max (${length} vs. ${maxLength})`);
      return off;
    }
    if (flag === 1) this.bits |= COMPRESSED;
    else this.bits &= ~COMPRESSED;
    this.#length = length;
    this.#filled = 0;
    if (length === 0) this.#body = Buffer.alloc(0);
    return off;
  }
}

/** AlignProbe for ModelInferResponse: where the data of the first raw_output_contents (field 6) starts. */
export function rawOutputOffset(head: Buffer, start: number, end: number): number {
  let pos = start;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10 && pos < end; i++) {
      const b = head[pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    return -1;
  };
  while (pos < end) {
    const tag = varint();
    if (tag < 0) return 0;
    const wire = tag & 7;
    if (wire === 2) {
      const len = varint();
      if (len < 0) return 0;
      if (tag >>> 3 === 6) return pos - start;
      pos += len;
    } else if (wire === 0) {
      if (varint() < 0) return 0;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else return 0;
  }
  return 0;
}
