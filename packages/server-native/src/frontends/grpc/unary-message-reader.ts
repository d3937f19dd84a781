// The one length-prefixed message of a unary gRPC call, assembled from the request's DATA chunks as
// node:http2 hands them over. A message that arrives in one chunk is returned as a view of that chunk
// (no copy; node:http2 gives every socket read its own memory); one split across chunks is copied once
// into a buffer of its announced size. Mirrors grpc-js's StreamDecoder limits and messages, so callers
// see the same errors on either path.
import { status } from "@grpc/grpc-js";
import { GrpcCallError } from "./grpc-call-error.ts";

const PREFIX_BYTES = 5;

export class UnaryMessageReader {
  private readonly maxBytes: number;
  /** Prefix bytes seen so far (0-5); 5 once the length is known. */
  private prefixSeen = 0;
  /** Only for a prefix split across chunks (rare): allocated then. */
  private prefix: Buffer | undefined = undefined;
  private length = 0;
  /** The assembled message: a view of one chunk, or a buffer being filled (`filled` bytes so far). */
  private message: Buffer | undefined;
  private filled = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
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
        // The common case: the whole message in this chunk.
        if (chunk.length - at === this.length) {
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
    if (this.message === undefined) this.message = Buffer.allocUnsafe(this.length);
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
