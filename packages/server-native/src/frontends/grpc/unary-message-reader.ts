// The one length-prefixed message of a unary gRPC call, assembled from the request's DATA chunks as
// node:http2 hands them over. node:http2's chunks are slices of its socket-read buffers (64 KiB each, shared
// by the frames of one read). A message of the pool's range (16 KiB-4 MiB) is copied into a pooled buffer,
// so the request holds no chunk: a view kept for the whole request (queue wait plus execution) kept its read
// buffer alive past scavenges, and those promoted buffers kept V8's worker threads marking (bench/README.md,
// session 6). Smaller messages: a view of the chunk when whole, else one copy into a fresh buffer.
// Mirrors grpc-js's StreamDecoder limits and messages, so callers see the same errors on either path.
import { status } from "@grpc/grpc-js";
import { MAX_POOLED_BODY_BYTES, MIN_POOLED_BODY_BYTES, type BodyPool } from "../request-buffers/body-pool.ts";
import { GrpcCallError } from "./grpc-call-error.ts";

const PREFIX_BYTES = 5;

export class UnaryMessageReader {
  private readonly maxBytes: number;
  private readonly pool: BodyPool | undefined;
  /** Prefix bytes seen so far (0-5); 5 once the length is known. */
  private prefixSeen = 0;
  /** Only for a prefix split across chunks (rare): allocated then. */
  private prefix: Buffer | undefined = undefined;
  private length = 0;
  /** The assembled message: a view of one chunk, or a buffer being filled (`filled` bytes so far). */
  private message: Buffer | undefined;
  private filled = 0;

  constructor(maxBytes: number, pool?: BodyPool) {
    this.maxBytes = maxBytes;
    this.pool = pool;
  }

  /** The message is read into a buffer of the pool (give it back with the pool's give() once done). */
  get pooled(): boolean {
    return this.pool !== undefined && this.length >= MIN_POOLED_BODY_BYTES && this.length <= MAX_POOLED_BODY_BYTES;
  }

  /** Takes the next DATA chunk; throws GrpcCallError for a size above the limit or a second message. */
  push(chunk: Buffer): void {
    let at = 0;
    if (this.prefixSeen === PREFIX_BYTES && this.message !== undefined && this.filled === this.length && chunk.length > 0)
      throw secondMessage();
    if (this.prefixSeen < PREFIX_BYTES) {
      if (this.prefixSeen === 0 && chunk.length >= PREFIX_BYTES) {
        this.readPrefix(chunk[0]!, chunk.readUInt32BE(1));
        at = PREFIX_BYTES;
        // The common case for small messages: the whole message in this chunk.
        if (chunk.length - at === this.length && !this.pooled) {
          this.message = chunk.subarray(at);
          this.filled = this.length;
          return;
        }
      } else {
        const prefix = (this.prefix ??= Buffer.alloc(PREFIX_BYTES));
        const take = Math.min(PREFIX_BYTES - this.prefixSeen, chunk.length);
        chunk.copy(prefix, this.prefixSeen, 0, take);
        this.prefixSeen += take;
        at = take;
        if (this.prefixSeen < PREFIX_BYTES) return;
        this.readPrefix(prefix[0]!, prefix.readUInt32BE(1));
      }
    }
    if (at === chunk.length) return;
    if (this.message === undefined) this.message = this.pooled ? this.pool!.take(this.length) : Buffer.allocUnsafe(this.length);
    const take = Math.min(this.length - this.filled, chunk.length - at);
    chunk.copy(this.message, this.filled, at, at + take);
    this.filled += take;
    if (at + take < chunk.length) throw secondMessage();
  }

  /** At the end of the request stream: the message, or a GrpcCallError when there is none or it is cut short. */
  finish(): Buffer {
    if (this.prefixSeen < PREFIX_BYTES)
      throw this.prefixSeen === 0
        ? new GrpcCallError(status.UNIMPLEMENTED, "Received no request message for unary method ModelInfer")
        : new GrpcCallError(status.INTERNAL, `Request stream ended inside a message's 5-byte prefix (${this.prefixSeen} bytes received)`);
    if (this.filled < this.length)
      throw new GrpcCallError(status.INTERNAL, `Request stream ended inside a message: ${this.filled} of ${this.length} bytes received`);
    return this.message ?? EMPTY;
  }

  private readPrefix(flag: number, length: number): void {
    this.prefixSeen = PREFIX_BYTES;
    if (flag !== 0)
      throw new GrpcCallError(
        status.INTERNAL,
        flag === 1 ? "Received a compressed message but the call's grpc-encoding is identity" : `Invalid gRPC message flag byte ${flag} (expected 0 or 1)`,
      );
    if (length > this.maxBytes) throw new GrpcCallError(status.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs ${this.maxBytes})`);
    this.length = length;
    if (length === 0) this.message = EMPTY;
  }
}

const EMPTY = Buffer.alloc(0);

function secondMessage(): GrpcCallError {
  return new GrpcCallError(status.UNIMPLEMENTED, "Received a second request message for unary method ModelInfer");
}
