// Reads a request body under a size limit (checked against Content-Length up front and while
// streaming), inflating gzip/deflate bodies with the same limit on the inflated size.
import type { IncomingMessage } from "node:http";
import { promisify } from "node:util";
import { gunzip, inflate } from "node:zlib";
import { ServerError } from "../../core/errors.ts";
import { MAX_POOLED_BODY_BYTES, MIN_POOLED_BODY_BYTES, type BodyPool } from "../request-buffers/body-pool.ts";

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

export class BodyTooLargeError extends ServerError {
  constructor(limit: number, what: string) {
    super("INVALID_ARG", `request body ${what} exceeds the maximum of ${limit} bytes (server option maxBodyBytes)`);
    this.name = "BodyTooLargeError";
  }
}

/**
 * The request body (inflated when Content-Encoding says so). Not an async function: an identity body, the
 * common case, is the collecting promise itself, without another promise and turn per request.
 */
export function readBody(req: IncomingMessage, limit: number, pool?: BodyPool): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) {
    req.resume();
    return Promise.reject(new BodyTooLargeError(limit, `of ${declared} bytes (Content-Length)`));
  }
  const encoding = (req.headers["content-encoding"] ?? "identity").toLowerCase().trim();
  if (encoding === "identity" || encoding === "") return collectBody(req, limit, pool);
  // A compressed body is inflated into a new buffer at once: not worth pooling.
  return collectBody(req, limit, undefined).then((b) => inflateBody(b, encoding, limit));
}

/**
 * The body's chunks joined: into a buffer of `pool` when given and the body is large enough to pool (the
 * caller gives it back with pool.give once nothing reads the body any more), else a new one. A single
 * chunk is copied into the pool too: Node's chunk buffer would otherwise live as long as the request, which
 * is what makes V8 promote bodies (body-pool.ts); the copy of a few dozen KiB costs microseconds. Chunks
 * copied into the result are freed at once (releaseChunk); a single chunk that is the result is kept.
 */
function join(chunks: Buffer[], size: number, pool: BodyPool | undefined): Buffer {
  if (pool === undefined || size < MIN_POOLED_BODY_BYTES || size > MAX_POOLED_BODY_BYTES) {
    if (chunks.length === 1) return chunks[0]!;
    const joined = Buffer.concat(chunks, size);
    for (const c of chunks) releaseChunk(c);
    return joined;
  }
  const out = pool.take(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
    releaseChunk(c);
  }
  return out;
}

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

function collectBody(req: IncomingMessage, limit: number, pool: BodyPool | undefined): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let overflow = false;
    const onData = (chunk: Buffer): void => {
      if (overflow) return; // keep draining so the 413 answer reaches the client
      size += chunk.byteLength;
      if (size > limit) {
        overflow = true;
        chunks.length = 0;
        reject(new BodyTooLargeError(limit, `of more than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => {
      if (!overflow) resolve(join(chunks, size, pool));
    });
    req.once("error", reject);
  });
}

async function inflateBody(body: Buffer, encoding: string, limit: number): Promise<Buffer> {
  try {
    if (encoding === "gzip") return await gunzipAsync(body, { maxOutputLength: limit });
    if (encoding === "deflate") return await inflateAsync(body, { maxOutputLength: limit });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw new BodyTooLargeError(limit, "after decompression");
    throw new ServerError("INVALID_ARG", `cannot decompress ${encoding} request body: ${(err as Error).message}`);
  }
  throw new ServerError("UNSUPPORTED", `unsupported Content-Encoding '${encoding}' (supported: gzip, deflate, identity)`);
}
