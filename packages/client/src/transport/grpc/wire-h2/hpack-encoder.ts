// HPACK encoder for request headers: exact static-table matches as one indexed byte, everything else as a
// literal without indexing (static name index where there is one), strings raw (no Huffman). It never
// touches the dynamic table, so the server's SETTINGS_HEADER_TABLE_SIZE needs no size updates here.
import { STATIC_NAME_INDEX, STATIC_PAIR_INDEX } from "./hpack-static.ts";

function intBytes(out: number[], value: number, prefix: number, first: number): void {
  const mask = (1 << prefix) - 1;
  if (value < mask) {
    out.push(first | value);
    return;
  }
  out.push(first | mask);
  value -= mask;
  while (value >= 128) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

function stringBytes(out: number[], s: string): void {
  const bytes = Buffer.from(s, "latin1");
  intBytes(out, bytes.length, 7, 0);
  for (const b of bytes) out.push(b);
}

/** The header block of a raw header list [name, value, ...] (names lower-case). */
export function encodeHeaderBlock(list: readonly string[]): Buffer {
  const out: number[] = [];
  for (let i = 0; i + 1 < list.length; i += 2) {
    const name = list[i]!;
    const value = list[i + 1]!;
    const exact = STATIC_PAIR_INDEX.get(`${name}\0${value}`);
    if (exact !== undefined) {
      intBytes(out, exact, 7, 0x80);
      continue;
    }
    const nameIndex = STATIC_NAME_INDEX.get(name);
    if (nameIndex !== undefined) intBytes(out, nameIndex, 4, 0x00);
    else {
      out.push(0x00);
      stringBytes(out, name);
    }
    stringBytes(out, value);
  }
  return Buffer.from(out);
}
