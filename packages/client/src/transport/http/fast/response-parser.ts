// HTTP/1.1 response parsing for the fast infer path: status line and headers, then a body framed by
// Content-Length, by chunked transfer coding, or by the end of the connection. Bytes arrive as socket
// chunks split anywhere; body bytes are handed on as views of those chunks (never copied here).

/** Response headers as undici reports them: lower-case names, repeated headers as lists. */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface ResponseSink {
  /** A final (status >= 200) response head; 1xx heads are skipped. */
  onHead(statusCode: number, headers: ResponseHeaders): void;
  /** Body bytes, a view of the socket chunk. */
  onBody(chunk: Buffer): void;
  /** The message is complete; `keepAlive` says whether the connection may carry another request. */
  onComplete(keepAlive: boolean): void;
}

/** A response the parser cannot read; the connection cannot be used any more. */
export class ResponseParseError extends Error {
  readonly code = "HPE_INVALID_RESPONSE";
  constructor(message: string) {
    super(`malformed HTTP response: ${message}`);
    this.name = "ResponseParseError";
  }
}

/** Longest response head (status line + headers) accepted (undici and Node stop at 16 KiB; this is laxer). */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Longest chunk-size line (with extensions) or trailer section accepted. */
const MAX_LINE_BYTES = 4096;

const HEAD = 0;
const FIXED = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_END = 4;
const TRAILERS = 5;
const UNTIL_CLOSE = 6;
const DONE = 7;

const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
const EMPTY = Buffer.alloc(0);
const CR = 13;
const LF = 10;
const HEX = /^[0-9a-fA-F]+$/;

// Servers send the same few header names on every answer: their lower-case forms are looked up, not
// rebuilt, and property stores then use the same (internalised) key strings every time.
const LOWER_NAMES = new Map<string, string>();
const MAX_CACHED_NAMES = 256;

const isOws = (c: number): boolean => c === 32 || c === 9;

/** The status code of "HTTP/1.x NNN reason", read by character codes (this runs once per response). */
function statusOf(text: string, lineEnd: number): number {
  const v = text.charCodeAt(7);
  const d1 = text.charCodeAt(9) - 48;
  const d2 = text.charCodeAt(10) - 48;
  const d3 = text.charCodeAt(11) - 48;
  if (
    lineEnd < 12 ||
    !text.startsWith("HTTP/1.") ||
    (v !== 48 && v !== 49) ||
    text.charCodeAt(8) !== 32 ||
    !(d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9 && d3 >= 0 && d3 <= 9) ||
    (lineEnd > 12 && text.charCodeAt(12) !== 32)
  )
    throw new ResponseParseError(`status line ${JSON.stringify(text.slice(0, Math.min(lineEnd, 80)))} is not "HTTP/1.x NNN reason"`);
  return d1 * 100 + d2 * 10 + d3;
}

const CLOSE_TOKEN = /(?:^|,)\s*close\s*(?:,|$)/i;
const KEEP_ALIVE_TOKEN = /(?:^|,)\s*keep-alive\s*(?:,|$)/i;

/** HTTP/1.1 connections persist unless the server says close; HTTP/1.0 ones only if it says keep-alive. */
function keepAliveOf(http10: boolean, connection: string | undefined): boolean {
  if (connection === undefined) return !http10;
  if (connection === "keep-alive") return true;
  if (connection === "close") return false;
  return http10 ? KEEP_ALIVE_TOKEN.test(connection) : !CLOSE_TOKEN.test(connection);
}

function byteCount(text: string): number {
  if (text.length === 0 || text.length > 15) throw new ResponseParseError(`Content-Length ${JSON.stringify(text)} is not a byte count`);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) throw new ResponseParseError(`Content-Length ${JSON.stringify(text)} is not a byte count`);
    n = n * 10 + d;
  }
  return n;
}

/** What a response head says (a final or an informational one). */
interface ParsedHead {
  /** The head's bytes as received (status line and fields, without the blank line); empty for 1xx heads. */
  bytes: Buffer;
  status: number;
  http10: boolean;
  headers: Readonly<ResponseHeaders>;
  contentLength: string | undefined;
  transferEncoding: string | undefined;
  connection: string | undefined;
}

export class ResponseParser {
  readonly #sink: ResponseSink;
  /** Chunks are reused once execute returns: bytes kept for later (a split head or line) are copied. */
  readonly #transient: boolean;
  #state = HEAD;
  /** Head bytes (or a chunk-size / trailer line) split across socket chunks. */
  #pending: Buffer | undefined = undefined;
  /** Bytes of the current fixed-length body or chunk still to come. */
  #remaining = 0;
  #keepAlive = true;
  /** The request was HEAD: the response has no body whatever its headers say. */
  #noBody = false;
  /** The last final head parsed, reused while the next one is the same text. */
  #lastHead: ParsedHead | undefined = undefined;

  constructor(sink: ResponseSink, transient = false) {
    this.#sink = sink;
    this.#transient = transient;
  }

  /** Whether a response is being read (head or body), as opposed to waiting for one. */
  get started(): boolean {
    return this.#state !== HEAD || this.#pending !== undefined;
  }

  /** Whether the response body runs until the connection closes (no Content-Length, not chunked). */
  get readsUntilClose(): boolean {
    return this.#state === UNTIL_CLOSE;
  }

  /** Prepares for the response to the next request (`head`: the request was a HEAD request). */
  expect(head: boolean): void {
    this.#state = HEAD;
    this.#pending = undefined;
    this.#noBody = head;
  }

  /** Parses one socket chunk; throws ResponseParseError on bytes that are not an HTTP/1.x response. */
  execute(chunk: Buffer): void {
    let pos = 0;
    const end = chunk.byteLength;
    while (pos < end) {
      switch (this.#state) {
        case HEAD:
          pos = this.#head(chunk, pos);
          break;
        case FIXED: {
          const n = Math.min(this.#remaining, end - pos);
          this.#sink.onBody(pos === 0 && n === end ? chunk : chunk.subarray(pos, pos + n));
          pos += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#complete();
          break;
        }
        case CHUNK_SIZE:
          pos = this.#chunkSize(chunk, pos);
          break;
        case CHUNK_DATA: {
          const n = Math.min(this.#remaining, end - pos);
          this.#sink.onBody(chunk.subarray(pos, pos + n));
          pos += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = CHUNK_DATA_END;
          break;
        }
        case CHUNK_DATA_END:
          pos = this.#chunkDataEnd(chunk, pos);
          break;
        case TRAILERS:
          pos = this.#trailers(chunk, pos);
          break;
        case UNTIL_CLOSE:
          this.#sink.onBody(pos === 0 ? chunk : chunk.subarray(pos));
          pos = end;
          break;
        default:
          throw new ResponseParseError(`${end - pos} bytes after the end of the response`);
      }
    }
  }

  /** The connection ended: completes a body that runs until close; false if a message was cut short. */
  finish(): boolean {
    if (this.#state === UNTIL_CLOSE) {
      this.#complete();
      return true;
    }
    return this.#state === HEAD && this.#pending === undefined;
  }

  #complete(): void {
    this.#state = DONE;
    this.#pending = undefined;
    this.#sink.onComplete(this.#keepAlive);
    // Another response may follow on the same bytes (pipelined or a parser test): read it as such.
    if (this.#state === DONE) this.#state = HEAD;
  }

  /** Bytes from `from` on, to be joined with the next chunk (a copy unless they are ours already). */
  #keep(buf: Buffer, from: number, owned: boolean): Buffer {
    const rest = buf.subarray(from);
    return this.#transient && !owned ? Buffer.from(rest) : rest;
  }

  #head(chunk: Buffer, pos: number): number {
    const p = this.#pending;
    let buf = chunk;
    let from = pos;
    let search = pos;
    if (p !== undefined) {
      this.#pending = undefined;
      buf = Buffer.concat([p, chunk.subarray(pos)]);
      from = 0;
      // The terminator may straddle the old and new bytes.
      search = Math.max(0, p.byteLength - 3);
    }
    const at = buf.indexOf(HEAD_END, search);
    if ((at < 0 ? buf.byteLength : at) - from > MAX_HEAD_BYTES) throw new ResponseParseError(`response head exceeds ${MAX_HEAD_BYTES} bytes`);
    if (at < 0) {
      this.#pending = this.#keep(buf, from, p !== undefined);
      return chunk.byteLength;
    }
    // A server answers the same head again and again on one connection (its Date changes once a second):
    // the parse of an identical head (compared as bytes, no string made) is reused, headers object
    // included (frozen: answers share it).
    const known = this.#lastHead;
    if (known !== undefined && known.bytes.byteLength === at - from && known.bytes.compare(buf, from, at) === 0) this.#applyHead(known);
    else this.#applyHead(this.#readHead(buf.toString("latin1", from, at), buf, from, at));
    return p === undefined ? at + 4 : pos + at + 4 - p.byteLength;
  }

  /** Parses the status line and header fields of a complete head. */
  #readHead(text: string, buf: Buffer, from: number, to: number): ParsedHead {
    let lineEnd = text.indexOf("\r\n");
    if (lineEnd < 0) lineEnd = text.length;
    const status = statusOf(text, lineEnd);
    const http10 = text.charCodeAt(7) === 48;
    const headers: ResponseHeaders = {};
    let contentLength: string | undefined;
    let transferEncoding: string | undefined;
    let connection: string | undefined;
    let start = lineEnd + 2;
    while (start < text.length) {
      let stop = text.indexOf("\r\n", start);
      if (stop < 0) stop = text.length;
      const colon = text.indexOf(":", start);
      if (colon < 0 || colon > stop || colon === start) throw new ResponseParseError(`header line ${JSON.stringify(text.slice(start, Math.min(stop, start + 80)))} has no name`);
      const raw = text.slice(start, colon);
      let name = LOWER_NAMES.get(raw);
      if (name === undefined) {
        name = raw.toLowerCase();
        if (LOWER_NAMES.size < MAX_CACHED_NAMES) LOWER_NAMES.set(raw, name);
      }
      // Optional whitespace around the value (OWS): spaces and tabs only.
      let vs = colon + 1;
      let ve = stop;
      while (vs < ve && isOws(text.charCodeAt(vs))) vs++;
      while (ve > vs && isOws(text.charCodeAt(ve - 1))) ve--;
      const value = text.slice(vs, ve);
      const prev = headers[name];
      if (prev === undefined) headers[name] = value;
      else if (Array.isArray(prev)) prev.push(value);
      else headers[name] = [prev, value];
      if (name.length === 14 && name === "content-length") {
        if (contentLength !== undefined && contentLength !== value) throw new ResponseParseError(`conflicting Content-Length headers ${contentLength} and ${value}`);
        contentLength = value;
      } else if (name.length === 17 && name === "transfer-encoding") transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
      else if (name.length === 10 && name === "connection") connection = connection === undefined ? value : `${connection}, ${value}`;
      start = stop + 2;
    }
    // A final head is kept for reuse, with a copy of its bytes (the chunk may be a shared read buffer).
    const bytes = status >= 200 ? Buffer.from(buf.subarray(from, to)) : EMPTY;
    const head: ParsedHead = { bytes, status, http10, headers: Object.freeze(headers), contentLength, transferEncoding, connection };
    if (status >= 200) this.#lastHead = head;
    return head;
  }

  #applyHead(head: ParsedHead): void {
    const { status, headers, transferEncoding, contentLength } = head;
    // 1xx: informational, the final answer follows on the same connection.
    if (status < 200) {
      if (status === 101) throw new ResponseParseError("the server switched protocols (101), which this client never asks for");
      return;
    }
    this.#keepAlive = keepAliveOf(head.http10, head.connection);
    this.#sink.onHead(status, headers);
    if (this.#noBody || status === 204 || status === 304) {
      this.#complete();
      return;
    }
    if (transferEncoding !== undefined) {
      if (!/(?:^|,)\s*chunked\s*$/i.test(transferEncoding)) {
        // Any other final coding: the body runs until the connection closes (RFC 9112 6.3).
        this.#keepAlive = false;
        this.#state = UNTIL_CLOSE;
        return;
      }
      this.#state = CHUNK_SIZE;
      return;
    }
    if (contentLength !== undefined) {
      this.#remaining = byteCount(contentLength);
      if (this.#remaining === 0) this.#complete();
      else this.#state = FIXED;
      return;
    }
    this.#keepAlive = false;
    this.#state = UNTIL_CLOSE;
  }

  /** Reads one CRLF-terminated line (possibly split across chunks); undefined when it is not complete yet. */
  #line(chunk: Buffer, pos: number, what: string): { line: string; next: number } | undefined {
    const p = this.#pending;
    let buf = chunk;
    let from = pos;
    if (p !== undefined) {
      this.#pending = undefined;
      buf = Buffer.concat([p, chunk.subarray(pos)]);
      from = 0;
    }
    const lf = buf.indexOf(LF, p === undefined ? pos : p.byteLength);
    if ((lf < 0 ? buf.byteLength : lf) - from > MAX_LINE_BYTES) throw new ResponseParseError(`${what} exceeds ${MAX_LINE_BYTES} bytes`);
    if (lf < 0) {
      this.#pending = this.#keep(buf, from, p !== undefined);
      return undefined;
    }
    if (lf === from || buf[lf - 1] !== CR) throw new ResponseParseError(`${what} does not end with CRLF`);
    const line = buf.toString("latin1", from, lf - 1);
    return { line, next: p === undefined ? lf + 1 : pos + lf + 1 - p.byteLength };
  }

  #chunkSize(chunk: Buffer, pos: number): number {
    const r = this.#line(chunk, pos, "chunk-size line");
    if (r === undefined) return chunk.byteLength;
    const semi = r.line.indexOf(";");
    const hex = (semi < 0 ? r.line : r.line.slice(0, semi)).trim();
    if (!HEX.test(hex) || hex.length > 12) throw new ResponseParseError(`chunk size ${JSON.stringify(hex)} is not a hexadecimal byte count`);
    const size = parseInt(hex, 16);
    if (size === 0) this.#state = TRAILERS;
    else {
      this.#remaining = size;
      this.#state = CHUNK_DATA;
    }
    return r.next;
  }

  #chunkDataEnd(chunk: Buffer, pos: number): number {
    const r = this.#line(chunk, pos, "end of chunk data");
    if (r === undefined) return chunk.byteLength;
    if (r.line !== "") throw new ResponseParseError(`chunk data is longer than its chunk size`);
    this.#state = CHUNK_SIZE;
    return r.next;
  }

  /** Trailer fields after the last chunk are read and dropped; an empty line ends the message. */
  #trailers(chunk: Buffer, pos: number): number {
    const r = this.#line(chunk, pos, "trailer line");
    if (r === undefined) return chunk.byteLength;
    if (r.line === "") this.#complete();
    return r.next;
  }
}
