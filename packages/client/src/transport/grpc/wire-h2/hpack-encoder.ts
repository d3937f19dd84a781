// HPACK encoders for request headers (RFC 7541), strings raw (no Huffman).
// - encodeHeaderBlock: stateless; exact static-table matches as one indexed byte, everything else a literal
//   without indexing. Used for one-off blocks (tests' answers) that must not touch a dynamic table.
// - HpackEncoder: one per connection. The headers that repeat on every call of a connection (:path,
//   :authority, content-type, te, user-agent, grpc-accept-encoding) enter the dynamic table the first time
//   and are one indexed byte afterwards, so a plain call's block shrinks from ~155 bytes to 8 (less to
//   write and for the server to parse). Per-call values (grpc-timeout, traceparent, metadata) stay
//   literals without indexing; credentials are never-indexed. Blocks must reach the socket in the order
//   they were encoded (the session encodes as it writes each HEADERS frame).
import { STATIC_COUNT, STATIC_NAME_INDEX, STATIC_PAIRS } from "./hpack-static.ts";

/** Largest dynamic table this encoder uses, whatever larger size the server allows. */
export const ENCODER_TABLE_LIMIT = 4096;
/** The table size both sides assume until SETTINGS_HEADER_TABLE_SIZE says otherwise (RFC 9113 6.5.2). */
const DEFAULT_TABLE_SIZE = 4096;
/** RFC 7541 section 4.1: an entry's size is its name and value octets plus 32. */
const ENTRY_OVERHEAD = 32;

/** Names whose values are the same for every call of a connection: worth a table entry. */
const INDEXED_NAMES: ReadonlySet<string> = new Set([":authority", ":path", "content-type", "te", "user-agent", "grpc-accept-encoding"]);
/** Credentials: never-indexed literals, so no intermediary stores them in a table (RFC 7541 section 7.1.3). */
const SENSITIVE_NAMES: ReadonlySet<string> = new Set(["authorization", "proxy-authorization", "cookie"]);

/** Output bytes of the block being built: one growing scratch buffer, the block copied out at the end. */
let scratch = Buffer.allocUnsafeSlow(1024);
let at = 0;

function room(n: number): void {
  if (at + n <= scratch.length) return;
  const bigger = Buffer.allocUnsafeSlow(Math.max(scratch.length * 2, at + n));
  scratch.copy(bigger, 0, 0, at);
  scratch = bigger;
}

function int(value: number, prefix: number, first: number): void {
  room(6);
  const mask = (1 << prefix) - 1;
  if (value < mask) {
    scratch[at++] = first | value;
    return;
  }
  scratch[at++] = first | mask;
  value -= mask;
  while (value >= 128) {
    scratch[at++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  scratch[at++] = value;
}

function str(s: string): void {
  // Header names and values are ASCII/latin1 (one octet per character).
  int(s.length, 7, 0);
  room(s.length);
  at += scratch.write(s, at, "latin1");
}

function take(): Buffer {
  const block = Buffer.allocUnsafe(at);
  scratch.copy(block, 0, 0, at);
  at = 0;
  return block;
}

/** An exact static-table match as one indexed byte; false when the pair is not in the static table. */
function staticPair(name: string, value: string): boolean {
  const exact = STATIC_PAIRS.get(name)?.get(value);
  if (exact === undefined) return false;
  int(exact, 7, 0x80);
  return true;
}

/** The header block of a raw header list [name, value, ...] (names lower-case), without the dynamic table. */
export function encodeHeaderBlock(list: readonly string[]): Buffer {
  at = 0;
  for (let i = 0; i + 1 < list.length; i += 2) {
    const name = list[i]!;
    const value = list[i + 1]!;
    if (staticPair(name, value)) continue;
    const nameIndex = STATIC_NAME_INDEX.get(name);
    if (nameIndex !== undefined) int(nameIndex, 4, 0x00);
    else {
      int(0, 4, 0x00);
      str(name);
    }
    str(value);
  }
  return take();
}

interface CachedBlock {
  block: Buffer;
  epoch: number;
}

/** A connection's HPACK encoder with a dynamic table mirrored from what the server's decoder holds. */
export class HpackEncoder {
  /** The table's maximum size as the server's decoder knows it (after our size updates). */
  #max = DEFAULT_TABLE_SIZE;
  #size = 0;
  /** Entries oldest first; entry k (insertion number) is at k - #first. */
  #names: string[] = [];
  #values: string[] = [];
  #first = 0;
  #inserted = 0;
  /** name -> value -> the newest insertion number holding that pair; name -> the newest holding the name. */
  readonly #pairs = new Map<string, Map<string, number>>();
  readonly #byName = new Map<string, number>();
  /** Size updates owed at the start of the next block (the smallest first, RFC 7541 section 4.2). */
  #updates: number[] | undefined;
  /** Bumped by every table change: a cached block is valid only while it matches. */
  #epoch = 0;
  readonly #cache = new WeakMap<readonly string[], CachedBlock>();

  /** Entries in the dynamic table (tests). */
  get entries(): number {
    return this.#names.length;
  }

  /** The table's maximum size as the server knows it (tests). */
  get maxSize(): number {
    return this.#max;
  }

  /**
   * The server's SETTINGS_HEADER_TABLE_SIZE arrived (before our SETTINGS ACK goes out): the table shrinks
   * to fit at once and the next block starts with the size update that tells the server.
   */
  setLimit(limit: number): void {
    const size = Math.min(limit, ENCODER_TABLE_LIMIT);
    if (size === this.#max && this.#updates === undefined) return;
    const updates = (this.#updates ??= []);
    // A shrink below a later size must still be signalled: keep the smallest, then the final size.
    if (updates.length === 0 || size < updates[0]!) updates[0] = size;
    updates[1] = size;
    if (updates[0] === updates[1]) updates.length = 1;
    this.#max = size;
    this.#evictTo(size);
    this.#epoch++;
  }

  /**
   * The block of `list` as the next block on the connection. `shared`: the list is reused by many calls
   * (never mutated), so its block is kept while the table does not change.
   */
  encode(list: readonly string[], shared: boolean): Buffer {
    if (shared) {
      const cached = this.#cache.get(list);
      if (cached !== undefined && cached.epoch === this.#epoch) return cached.block;
    }
    const epoch = this.#epoch;
    const block = this.#encode(list);
    // A block that changed the table (inserted entries) means something else when sent again: the next
    // one, all indices, is what is kept.
    if (shared && this.#epoch === epoch) this.#cache.set(list, { block, epoch });
    return block;
  }

  #encode(list: readonly string[]): Buffer {
    at = 0;
    const updates = this.#updates;
    if (updates !== undefined) {
      for (let i = 0; i < updates.length; i++) int(updates[i]!, 5, 0x20);
      this.#updates = undefined;
    }
    for (let i = 0; i + 1 < list.length; i += 2) {
      const name = list[i]!;
      const value = list[i + 1]!;
      if (staticPair(name, value)) continue;
      if (INDEXED_NAMES.has(name)) {
        const k = this.#pairs.get(name)?.get(value);
        if (k !== undefined) {
          int(this.#index(k), 7, 0x80);
          continue;
        }
        const entrySize = name.length + value.length + ENTRY_OVERHEAD;
        if (entrySize <= this.#max) {
          // Literal with incremental indexing: the name by index where the tables have it.
          this.#nameRef(name, 6, 0x40);
          str(value);
          this.#insert(name, value, entrySize);
          continue;
        }
      }
      this.#nameRef(name, 4, SENSITIVE_NAMES.has(name) ? 0x10 : 0x00);
      str(value);
    }
    return take();
  }

  /** A literal's name: static or dynamic index in a `prefix`-bit integer, else the name itself. */
  #nameRef(name: string, prefix: number, first: number): void {
    const s = STATIC_NAME_INDEX.get(name);
    if (s !== undefined) return int(s, prefix, first);
    const k = this.#byName.get(name);
    if (k !== undefined) return int(this.#index(k), prefix, first);
    int(0, prefix, first);
    str(name);
  }

  /** HPACK index of insertion number k: the newest entry is STATIC_COUNT + 1. */
  #index(k: number): number {
    return STATIC_COUNT + this.#inserted - k;
  }

  #insert(name: string, value: string, entrySize: number): void {
    this.#evictTo(this.#max - entrySize);
    const k = this.#inserted++;
    this.#names.push(name);
    this.#values.push(value);
    this.#size += entrySize;
    let values = this.#pairs.get(name);
    if (values === undefined) this.#pairs.set(name, (values = new Map()));
    values.set(value, k);
    this.#byName.set(name, k);
    this.#epoch++;
  }

  /** Drops the oldest entries until the table holds at most `size` octets. */
  #evictTo(size: number): void {
    while (this.#size > size && this.#names.length > 0) {
      const k = this.#first++;
      const name = this.#names.shift()!;
      const value = this.#values.shift()!;
      this.#size -= name.length + value.length + ENTRY_OVERHEAD;
      const values = this.#pairs.get(name);
      if (values?.get(value) === k) values.delete(value);
      if (this.#byName.get(name) === k) this.#byName.delete(name);
      this.#epoch++;
    }
  }
}
