// HTTP body compression: request bodies deflated/gzipped before sending (Content-Encoding), and
// gzip/deflate responses inflated after reading, re-aligned so binary outputs stay zero-copy views.
import { constants } from "node:buffer";
import { promisify } from "node:util";
import { createDeflate, createGzip, gunzip, inflate, type Gzip } from "node:zlib";
import type { Compression } from "../../connection-options.ts";
import { InferenceError } from "../../errors.ts";

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

export type Coding = Exclude<Compression, "none">;

/** Smaller bodies go uncompressed: zlib's set-up costs more than the bytes saved (the threshold Express uses). */
export const MIN_COMPRESS_BYTES = 1024;

/** Byte length of a request body, for the threshold (strings counted as UTF-8). */
export function bodyLength(body: string | Uint8Array | readonly Uint8Array[]): number {
  if (typeof body === "string") return Buffer.byteLength(body);
  if (body instanceof Uint8Array) return body.byteLength;
  let n = 0;
  for (const c of body) n += c.byteLength;
  return n;
}

export function checkCompression(value: unknown): Coding | undefined {
  if (value === undefined || value === "none") return undefined;
  if (value === "gzip" || value === "deflate") return value;
  throw new InferenceError("invalid_argument", `createClient: compression must be "gzip", "deflate" or "none", got ${JSON.stringify(value)}`);
}

export interface CompressedBody {
  chunks: Buffer[];
  byteLength: number;
}

/** Compresses a request body given as a string, a buffer or a list of chunks (streamed through zlib, not concatenated). */
export function compressBody(body: string | Uint8Array | readonly Uint8Array[], coding: Coding): Promise<CompressedBody> {
  return new Promise((resolve, reject) => {
    const z: Gzip = coding === "gzip" ? createGzip() : createDeflate();
    const chunks: Buffer[] = [];
    let byteLength = 0;
    z.on("data", (c: Buffer) => {
      chunks.push(c);
      byteLength += c.byteLength;
    });
    z.once("end", () => resolve({ chunks, byteLength }));
    z.once("error", (err) => reject(new InferenceError("internal", `cannot ${coding}-compress the request body: ${err.message}`, { cause: err })));
    if (typeof body === "string" || body instanceof Uint8Array) z.end(body);
    else {
      for (const c of body) z.write(c);
      z.end();
    }
  });
}

/** Copies `data` so that `result.byteOffset + alignAt` is a multiple of 8, unless it already is. */
function aligned(data: Buffer, alignAt: number | undefined): Buffer {
  if (alignAt === undefined || (data.byteOffset + alignAt) % 8 === 0) return data;
  const pad = (8 - (alignAt % 8)) % 8;
  const out = Buffer.allocUnsafe(data.byteLength + pad).subarray(pad);
  out.set(data);
  return out;
}

/** Inflates a response body by its Content-Encoding; identity bodies are returned as they are. */
export async function decodeResponseBody(body: Buffer, contentEncoding: string | string[] | undefined, alignAt?: number): Promise<Buffer> {
  const encoding = (Array.isArray(contentEncoding) ? contentEncoding.join(",") : (contentEncoding ?? "")).trim().toLowerCase();
  if (encoding === "" || encoding === "identity") return body;
  const options = { maxOutputLength: constants.MAX_LENGTH };
  try {
    if (encoding === "gzip" || encoding === "x-gzip") return aligned(await gunzipAsync(body, options), alignAt);
    if (encoding === "deflate") return aligned(await inflateAsync(body, options), alignAt);
  } catch (err) {
    throw new InferenceError("data_loss", `cannot inflate the ${encoding} response body (${body.byteLength} bytes): ${(err as Error).message}`, { cause: err });
  }
  throw new InferenceError("unimplemented", `server answered with Content-Encoding '${encoding}'; this client decodes gzip and deflate`);
}
