// BYTES tensors on the wire: each element is a 4-byte little-endian length followed by its bytes.

const utf8 = new TextEncoder();

/** Serialized size of BYTES elements. */
export function bytesWireSize(elements: readonly (Uint8Array | string)[]): number {
  let size = 0;
  for (const e of elements) size += 4 + (typeof e === "string" ? Buffer.byteLength(e) : e.byteLength);
  return size;
}

/** Serializes BYTES elements (strings are UTF-8 encoded) into one buffer. */
export function encodeBytesElements(elements: readonly (Uint8Array | string)[]): Buffer {
  const out = Buffer.allocUnsafe(bytesWireSize(elements));
  let off = 0;
  for (const e of elements) {
    if (typeof e === "string") {
      const n = out.write(e, off + 4, "utf8");
      out.writeUInt32LE(n, off);
      off += 4 + n;
    } else {
      out.writeUInt32LE(e.byteLength, off);
      out.set(e, off + 4);
      off += 4 + e.byteLength;
    }
  }
  return out;
}

/**
 * Splits serialized BYTES into elements (views into `raw`, no copies).
 * Throws a RangeError naming the element when a length runs past the end or the count is off.
 */
export function decodeBytesElements(raw: Uint8Array, expectedCount?: number): Uint8Array[] {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < raw.byteLength) {
    if (off + 4 > raw.byteLength) throw new RangeError(`BYTES element ${out.length}: truncated length prefix at byte ${off}`);
    const n = view.getUint32(off, true);
    if (off + 4 + n > raw.byteLength)
      throw new RangeError(`BYTES element ${out.length}: length ${n} at byte ${off} runs past the end of ${raw.byteLength} bytes`);
    out.push(raw.subarray(off + 4, off + 4 + n));
    off += 4 + n;
  }
  if (expectedCount !== undefined && out.length !== expectedCount)
    throw new RangeError(`BYTES data holds ${out.length} elements, shape needs ${expectedCount}`);
  return out;
}

export { utf8 as utf8Encoder };
