// HPACK decoder (RFC 7541): indexed fields, literals with / without / never indexing, dynamic table size
// updates, eviction by the 32-byte entry overhead, Huffman and raw string literals. One decoder per
// connection: every header block must pass through it in order (also those of streams nobody waits for),
// or the dynamic table drifts from the server's.
import { HuffmanError, huffmanDecode } from "./huffman.ts";
import { STATIC_COUNT, STATIC_TABLE } from "./hpack-static.ts";

/** A header block the decoder cannot read: a connection error (COMPRESSION_ERROR) in HTTP/2. */
export class HpackError extends Error {}

const ENTRY_OVERHEAD = 32;

export class HpackDecoder {
  /** Dynamic table, newest first: names[0] / values[0] is index STATIC_COUNT + 1. */
  readonly #names: string[] = [];
  readonly #values: string[] = [];
  #size = 0;
  /** Current maximum (set by the encoder's size updates, at most #limit). */
  #max: number;
  /** What we announced (SETTINGS_HEADER_TABLE_SIZE). */
  readonly #limit: number;
  #pos = 0;

  constructor(limit = 4096) {
    this.#limit = limit;
    this.#max = limit;
  }

  get tableSize(): number {
    return this.#size;
  }

  get tableLength(): number {
    return this.#names.length;
  }

  /** Entry `index` of the combined table (1-based, static first), for tests. */
  entry(index: number): [string, string] {
    return this.#lookup(index);
  }

  /**
   * Decodes one complete header block into [name, value, name, value, ...]: into `out` when given (emptied
   * first; the connection reuses one list, its readers copy what they keep), else a new list.
   */
  decode(buf: Uint8Array, start: number, end: number, out: string[] = []): string[] {
    out.length = 0;
    this.#pos = start;
    let fieldsSeen = false;
    while (this.#pos < end) {
      const b = buf[this.#pos]!;
      if (b & 0x80) {
        // Indexed header field.
        const index = this.#int(buf, end, 7);
        if (index === 0) throw new HpackError("indexed header field with index 0");
        if (index <= STATIC_COUNT) {
          const e = STATIC_TABLE[index]!;
          out.push(e[0], e[1]);
        } else {
          const d = this.#dynamicIndex(index);
          out.push(this.#names[d]!, this.#values[d]!);
        }
        fieldsSeen = true;
      } else if (b & 0x40) {
        // Literal with incremental indexing.
        const [name, value] = this.#literal(buf, end, 6);
        this.#add(name, value);
        out.push(name, value);
        fieldsSeen = true;
      } else if (b & 0x20) {
        // Dynamic table size update: only at the start of a block (RFC 7541 section 4.2).
        if (fieldsSeen) throw new HpackError("dynamic table size update after a header field");
        const size = this.#int(buf, end, 5);
        if (size > this.#limit) throw new HpackError(`dynamic table size update to ${size} exceeds the announced ${this.#limit}`);
        this.#max = size;
        this.#evict(0);
      } else {
        // Literal without indexing (0000) or never indexed (0001): same layout, 4-bit prefix.
        const [name, value] = this.#literal(buf, end, 4);
        out.push(name, value);
        fieldsSeen = true;
      }
    }
    return out;
  }

  #lookup(index: number): [string, string] {
    if (index <= STATIC_COUNT) {
      const e = STATIC_TABLE[index]!;
      return [e[0], e[1]];
    }
    const d = this.#dynamicIndex(index);
    return [this.#names[d]!, this.#values[d]!];
  }

  #dynamicIndex(index: number): number {
    const d = index - STATIC_COUNT - 1;
    if (d >= this.#names.length) throw new HpackError(`header table index ${index} beyond the table (${STATIC_COUNT + this.#names.length} entries)`);
    return d;
  }

  #name(index: number): string {
    return index <= STATIC_COUNT ? STATIC_TABLE[index]![0] : this.#names[this.#dynamicIndex(index)]!;
  }

  #literal(buf: Uint8Array, end: number, prefix: number): [string, string] {
    const nameIndex = this.#int(buf, end, prefix);
    const name = nameIndex === 0 ? this.#string(buf, end) : this.#name(nameIndex);
    return [name, this.#string(buf, end)];
  }

  /** Prefix-coded integer (RFC 7541 section 5.1) starting at #pos. */
  #int(buf: Uint8Array, end: number, prefix: number): number {
    const mask = (1 << prefix) - 1;
    let value = buf[this.#pos++]! & mask;
    if (value < mask) return value;
    let mul = 1;
    for (;;) {
      if (this.#pos >= end) throw new HpackError("truncated integer");
      const b = buf[this.#pos++]!;
      value += (b & 0x7f) * mul;
      if (value > 0xffffffff) throw new HpackError("integer beyond 2^32");
      if ((b & 0x80) === 0) return value;
      mul *= 128;
    }
  }

  #string(buf: Uint8Array, end: number): string {
    if (this.#pos >= end) throw new HpackError("truncated string literal");
    const huffman = (buf[this.#pos]! & 0x80) !== 0;
    const length = this.#int(buf, end, 7);
    const s = this.#pos;
    if (s + length > end) throw new HpackError(`string literal of ${length} bytes overruns the header block`);
    this.#pos = s + length;
    if (!huffman) return latin1(buf, s, s + length);
    try {
      return huffmanDecode(buf, s, s + length);
    } catch (e) {
      if (e instanceof HuffmanError) throw new HpackError(e.message);
      throw e;
    }
  }

  #add(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (size > this.#max) {
      // An entry larger than the table empties it and is not added (RFC 7541 section 4.4).
      this.#names.length = 0;
      this.#values.length = 0;
      this.#size = 0;
      return;
    }
    this.#evict(size);
    this.#names.unshift(name);
    this.#values.unshift(value);
    this.#size += size;
  }

  /** Drops the oldest entries until `incoming` more bytes fit under the maximum. */
  #evict(incoming: number): void {
    while (this.#size + incoming > this.#max && this.#names.length > 0) {
      const name = this.#names.pop()!;
      const value = this.#values.pop()!;
      this.#size -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }
}

function latin1(buf: Uint8Array, start: number, end: number): string {
  if (end - start < 32) {
    let s = "";
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
    return s;
  }
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString("latin1");
}
