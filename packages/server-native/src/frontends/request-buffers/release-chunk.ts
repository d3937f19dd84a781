// Detaching HTTP body chunks that were copied elsewhere, so their memory goes at once. (node:http2's DATA
// chunks are slices of shared read buffers: never whole, so never detached; see grpc/unary-message-reader.ts.)

/**
 * Frees a body chunk's memory now instead of at the next garbage collection: node:http copies every body
 * chunk into an ArrayBuffer of its own (about 64 KiB per read), and once copied into the pooled body
 * nothing reads it. Left to V8, these buffers pile up as external memory between scavenges and push V8
 * into extra collections (bench/README.md, scheduling section). Detaching (transfer(0)) drops the backing
 * store at once. The parser's copies are whole ArrayBuffers of their own; a chunk that is only part of an
 * ArrayBuffer (a slice of Node's shared Buffer pool, or of anything else) is left alone.
 */
export function releaseChunk(c: Buffer): void {
  const ab = c.buffer;
  if (c.byteOffset !== 0 || ab.byteLength !== c.byteLength || !(ab instanceof ArrayBuffer)) return;
  const own = ab as unknown as DetachableArrayBuffer;
  if (own.detached) return;
  try {
    own.transfer(0);
  } catch {
    // A buffer its creator made non-detachable: it is only kept until the next collection, as before.
  }
}

/** The ES2024 ArrayBuffer members used here (Node >= 22 has them; the project's TypeScript lib predates them). */
interface DetachableArrayBuffer {
  readonly detached: boolean;
  transfer(newLength?: number): ArrayBuffer;
}
