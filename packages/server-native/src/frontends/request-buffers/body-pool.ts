// Reusable buffers for infer request bodies of MIN_POOLED_BODY_BYTES..MAX_POOLED_BODY_BYTES: the chunks
// node:http delivers (one, or several for bodies over about 64 KiB), and the DATA chunks of a unary gRPC
// ModelInfer message (grpc/unary-message-reader.ts: slices of node:http2's read buffers), are copied into a
// pooled buffer.
//
// Why: a fresh ArrayBuffer per body lives as long as its request (queue wait plus execution), so the bodies
// in flight at each scavenge are promoted to the old generation, and on a busy server V8 then ran full
// mark-compact collections back to back (one every 50-300 ms, each about 5-15 ms on the JS thread plus
// 15-20 ms of marking on V8's worker threads). That, not copying bytes, was the server's per-KiB front-end
// CPU: at 380 requests/s of FP32 [64,256] main thread plus V8 workers cost 371 us per request against
// 138 us with pooled bodies (bench/README.md, scheduling section).
//
// A pooled body must be given back only once nothing reads it any more: the HTTP infer route and the gRPC
// ModelInfer fast path give it back after the inference settled (native executions have finished with
// their input views by then) and the answer no longer needs it (answers are written from output buffers,
// never from the request body).

/** Bodies smaller than this are joined with Buffer.concat as before (cheap, and often from Node's pool). */
export const MIN_POOLED_BODY_BYTES = 16 * 1024;
/** Larger bodies are not pooled: rare, and keeping such buffers would hold much memory. */
export const MAX_POOLED_BODY_BYTES = 4 * 1024 * 1024;
/** At most this many bytes of free buffers are kept (over all size classes). */
export const MAX_POOL_FREE_BYTES = 32 * 1024 * 1024;

export class BodyPool {
  /** Free buffers by capacity (powers of two from MIN_POOLED_BODY_BYTES up). */
  private readonly free = new Map<number, Buffer[]>();
  /** Slabs handed out and not yet given back: give() ignores anything else, and a second give() of one. */
  private readonly lent = new WeakSet<ArrayBufferLike>();
  private freeBytes = 0;

  /** A buffer of exactly `size` bytes: a view of a pooled slab when `size` is in the pooled range. */
  take(size: number): Buffer {
    if (size < MIN_POOLED_BODY_BYTES || size > MAX_POOLED_BODY_BYTES) return Buffer.allocUnsafe(size);
    let capacity = MIN_POOLED_BODY_BYTES;
    while (capacity < size) capacity *= 2;
    const slab = this.free.get(capacity)?.pop();
    if (slab !== undefined) this.freeBytes -= capacity;
    // allocUnsafeSlow: a slab of its own (offset 0), never a slice of Node's shared pool.
    const buf = slab ?? Buffer.allocUnsafeSlow(capacity);
    this.lent.add(buf.buffer);
    return buf.subarray(0, size);
  }

  /** Gives back a buffer from take(); anything else (or a second give of the same one) is ignored. */
  give(body: Buffer): void {
    const ab = body.buffer;
    if (!this.lent.delete(ab)) return;
    const capacity = ab.byteLength;
    if (this.freeBytes + capacity > MAX_POOL_FREE_BYTES) return;
    let list = this.free.get(capacity);
    if (list === undefined) this.free.set(capacity, (list = []));
    list.push(Buffer.from(ab, 0, capacity));
    this.freeBytes += capacity;
  }

  /** Bytes held in free buffers (for tests). */
  get freeByteCount(): number {
    return this.freeBytes;
  }
}
