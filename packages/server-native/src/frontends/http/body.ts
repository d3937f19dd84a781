// Reads a request body under a size limit (checked against Content-Length up front and while
// streaming), inflating gzip/deflate bodies with the same limit on the inflated size.
import type { IncomingMessage } from "node:http";
import { promisify } from "node:util";
import { gunzip, inflate } from "node:zlib";
import { ServerError } from "../../core/errors.ts";

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
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) {
    req.resume();
    return Promise.reject(new BodyTooLargeError(limit, `of ${declared} bytes (Content-Length)`));
  }
  const body = collectBody(req, limit);
  const encoding = (req.headers["content-encoding"] ?? "identity").toLowerCase().trim();
  if (encoding === "identity" || encoding === "") return body;
  return body.then((b) => inflateBody(b, encoding, limit));
}

function collectBody(req: IncomingMessage, limit: number): Promise<Buffer> {
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
      if (!overflow) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
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
