// Response bodies, compressed with gzip or deflate when the client's Accept-Encoding asks for it (as
// Triton does). Clients that send no Accept-Encoding (tritonclient, @iaas/client by default) take the
// uncompressed fast path: no copy, chunks written as they are.
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { createDeflate, createGzip, type Gzip } from "node:zlib";

export type ContentCoding = "gzip" | "deflate";

/** Smaller answers go uncompressed: zlib's set-up costs more than the bytes saved (Express's default threshold). */
export const MIN_COMPRESS_BYTES = 1024;

/**
 * The coding to answer with for an Accept-Encoding header: gzip before deflate, honouring q-values
 * (q=0 refuses a coding) and `*`. Undefined: send the body as it is.
 */
export function negotiateEncoding(accept: string | string[] | undefined): ContentCoding | undefined {
  if (accept === undefined) return undefined;
  const text = Array.isArray(accept) ? accept.join(",") : accept;
  if (text.trim() === "") return undefined;
  const weights = new Map<string, number>();
  for (const part of text.split(",")) {
    const [name, ...params] = part.split(";");
    const coding = name!.trim().toLowerCase();
    if (coding === "") continue;
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
      if (m) q = Number(m[1]);
    }
    weights.set(coding, Number.isFinite(q) ? q : 0);
  }
  const weight = (coding: string): number => weights.get(coding) ?? weights.get("*") ?? 0;
  const gzip = weight("gzip");
  const deflate = weight("deflate");
  if (gzip > 0 && gzip >= deflate) return "gzip";
  if (deflate > 0) return "deflate";
  return undefined;
}

/** Multi-chunk answers up to this size are joined into one buffer before writing. */
const JOIN_BELOW_BYTES = 16 * 1024;

function joinChunks(chunks: readonly (string | Uint8Array)[], byteLength: number): Buffer {
  const out = Buffer.allocUnsafe(byteLength);
  let at = 0;
  for (const c of chunks) {
    if (typeof c === "string") at += out.write(c, at, "utf8");
    else {
      out.set(c, at);
      at += c.byteLength;
    }
  }
  return out;
}

function compress(coding: ContentCoding, chunks: readonly (string | Uint8Array)[]): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const z: Gzip = coding === "gzip" ? createGzip() : createDeflate();
    const out: Buffer[] = [];
    z.on("data", (c: Buffer) => out.push(c));
    z.once("end", () => resolve(out));
    z.once("error", reject);
    for (const c of chunks) z.write(c);
    z.end();
  });
}

/**
 * Writes a complete response. `headers` must not carry Content-Length or Content-Encoding; both are set
 * here from what is actually sent.
 */
export function sendBody(
  res: ServerResponse,
  status: number,
  headers: OutgoingHttpHeaders,
  chunks: readonly (string | Uint8Array)[],
  byteLength: number,
): void {
  const coding = byteLength >= MIN_COMPRESS_BYTES ? negotiateEncoding(res.req?.headers["accept-encoding"]) : undefined;
  if (coding === undefined) {
    res.writeHead(status, { ...headers, "Content-Length": byteLength });
    if (chunks.length === 1) {
      res.end(chunks[0]);
      return;
    }
    if (byteLength <= JOIN_BELOW_BYTES) {
      // Small answers go out as one buffer: joining costs less than a string chunk in a writev.
      res.end(joinChunks(chunks, byteLength));
      return;
    }
    res.cork();
    for (const c of chunks) res.write(c);
    res.end();
    return;
  }
  compress(coding, chunks).then(
    (out) => {
      let size = 0;
      for (const c of out) size += c.byteLength;
      res.writeHead(status, { ...headers, "Content-Encoding": coding, Vary: "Accept-Encoding", "Content-Length": size });
      res.cork();
      for (const c of out) res.write(c);
      res.end();
    },
    (err: unknown) => res.destroy(err as Error),
  );
}
