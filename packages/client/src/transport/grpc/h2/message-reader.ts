// Reads the one length-prefixed gRPC message of a unary response from the stream's DATA chunks without
// joining them: a message that arrives inside one chunk is a view of it; otherwise one buffer sized from
// the 5-byte prefix receives each chunk as it comes (one copy, chunks released at once), placed so that a
// chosen field's bytes start 8-byte aligned (typed-array views of tensors then need no further copy).

/** Offset within the message at which the bytes to align start, read from its first bytes; 0 when unknown. */
export type AlignProbe = (head: Buffer, start: number, end: number) => number;

export class MessageReader {
  /** Set when the stream carried something other than one well-formed message. */
  problem: string | undefined;
  compressed = false;
  messages = 0;
  readonly #maxLength: number;
  readonly #align: AlignProbe | undefined;
  #prefix: Buffer | undefined;
  #prefixFilled = 0;
  #length = -1;
  #body: Buffer | undefined;
  #filled = 0;

  constructor(maxLength: number, align?: AlignProbe) {
    this.#maxLength = maxLength;
    this.#align = align;
  }

  /** The complete message, or undefined when none (or only part of one) arrived. */
  message(): Buffer | undefined {
    return this.#body !== undefined && this.#filled === this.#length ? this.#body : undefined;
  }

  /** Whether a message was started but not finished. */
  get partial(): boolean {
    return this.#length >= 0 && this.#filled < this.#length;
  }

  push(chunk: Buffer): void {
    let off = 0;
    const n = chunk.length;
    while (off < n && this.problem === undefined) {
      if (this.#length < 0 || this.#filled === this.#length) {
        if (this.#length >= 0) {
          // A second message on a unary call.
          this.problem = "Too many responses received";
          return;
        }
        off = this.#readPrefix(chunk, off);
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
        const probe = this.#align?.(chunk, off, n) ?? 0;
        const shift = (8 - (probe % 8)) % 8;
        const store = Buffer.allocUnsafe(this.#length + shift);
        this.#body = store.subarray(shift, shift + this.#length);
      }
      chunk.copy(this.#body, this.#filled, off, off + take);
      this.#filled += take;
      off += take;
    }
  }

  #readPrefix(chunk: Buffer, off: number): number {
    let flag: number;
    let length: number;
    if (this.#prefixFilled === 0 && chunk.length - off >= 5) {
      flag = chunk[off]!;
      length = chunk.readUInt32BE(off + 1);
      off += 5;
    } else {
      this.#prefix ??= Buffer.allocUnsafe(5);
      const take = Math.min(5 - this.#prefixFilled, chunk.length - off);
      chunk.copy(this.#prefix, this.#prefixFilled, off, off + take);
      this.#prefixFilled += take;
      off += take;
      if (this.#prefixFilled < 5) return off;
      flag = this.#prefix[0]!;
      length = this.#prefix.readUInt32BE(1);
    }
    this.messages++;
    if (flag > 1) {
      this.problem = `Invalid message flag ${flag}`;
      return off;
    }
    if (length > this.#maxLength) {
      this.problem = `Received message larger than max (${length} vs. ${this.#maxLength})`;
      return off;
    }
    this.compressed = flag === 1;
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
