// Reading undici response bodies into one Buffer. Binary infer responses are laid out so that the
// binary section starts 8-byte aligned, letting outputs be wrapped as TypedArray views without copies.
import type { Dispatcher } from "undici";

/**
 * Collects the body. With `alignAt` (the byte offset of the binary section), the result is placed so that
 * `result.byteOffset + alignAt` is a multiple of 8; this costs one copy unless the data already lies so.
 */
export async function readBody(body: Dispatcher.ResponseData["body"] | readonly Buffer[], alignAt?: number): Promise<Buffer> {
  if (Array.isArray(body)) return joinChunks(body as readonly Buffer[], alignAt);
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
  return joinChunks(chunks, alignAt);
}

/** One Buffer of the chunks; with `alignAt`, placed as readBody describes. */
export function joinChunks(chunks: readonly Buffer[], alignAt?: number): Buffer {
  let total = 0;
  for (const c of chunks) total += c.byteLength;
  if (chunks.length === 1) {
    const only = chunks[0]!;
    if (alignAt === undefined || (only.byteOffset + alignAt) % 8 === 0) return only;
  }
  if (chunks.length === 0) return Buffer.alloc(0);
  const pad = alignAt === undefined ? 0 : (8 - (alignAt % 8)) % 8;
  // allocUnsafe returns 8-aligned memory (pool slices are aligned; larger sizes get their own ArrayBuffer).
  const out = Buffer.allocUnsafe(total + pad).subarray(pad);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}
