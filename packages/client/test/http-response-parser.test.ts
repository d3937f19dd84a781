// The fast HTTP path's response parser on byte sequences split at every position, chunked bodies with
// extensions and trailers, pipelined answers, 1xx heads, close-delimited bodies and malformed input.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ResponseParseError, ResponseParser, type ResponseHeaders } from "../src/transport/http/fast/response-parser.ts";

interface Message {
  status: number;
  headers: ResponseHeaders;
  body: Buffer;
  keepAlive: boolean;
}

/** Feeds `pieces` to a parser; `reuse`: each piece is overwritten after execute (a shared read buffer). */
function parse(pieces: Buffer[], options: { reuse?: boolean; head?: boolean } = {}): { messages: Message[]; parser: ResponseParser } {
  const messages: Message[] = [];
  let current: { status: number; headers: ResponseHeaders; chunks: Buffer[] } | undefined;
  const parser = new ResponseParser(
    {
      onHead(status, headers) {
        current = { status, headers, chunks: [] };
      },
      onBody(chunk) {
        // A sink that keeps chunks must copy them when they are transient, as Exchange does.
        current!.chunks.push(options.reuse ? Buffer.from(chunk) : chunk);
      },
      onComplete(keepAlive) {
        messages.push({ status: current!.status, headers: current!.headers, body: Buffer.concat(current!.chunks), keepAlive });
        current = undefined;
      },
    },
    options.reuse === true,
  );
  parser.expect(options.head === true);
  for (const p of pieces) {
    const shared = options.reuse ? Buffer.from(p) : p;
    parser.execute(shared);
    if (options.reuse) shared.fill(0x58); // "X": anything the parser kept a view of is now garbage
  }
  return { messages, parser };
}

/** Every split of `bytes` into two pieces, and byte-by-byte. */
function splits(bytes: Buffer): Buffer[][] {
  const out: Buffer[][] = [[bytes]];
  for (let i = 1; i < bytes.byteLength; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  out.push(Array.from({ length: bytes.byteLength }, (_, i) => bytes.subarray(i, i + 1)));
  return out;
}

const fixed = Buffer.from(
  "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nInference-Header-Content-Length: 7\r\nContent-Length: 13\r\n" +
    "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nKeep-Alive: timeout=5\r\n\r\n{\"a\":1}binary",
  "latin1",
);

test("Content-Length bodies parse the same whatever the split, also from a reused read buffer", () => {
  for (const reuse of [false, true]) {
    for (const pieces of splits(fixed)) {
      const { messages, parser } = parse(pieces, { reuse });
      assert.equal(messages.length, 1);
      const m = messages[0]!;
      assert.equal(m.status, 200);
      assert.equal(m.body.toString("latin1"), "{\"a\":1}binary");
      assert.equal(m.headers["inference-header-content-length"], "7");
      assert.equal(m.headers["content-type"], "application/octet-stream");
      assert.deepEqual(m.headers["set-cookie"], ["a=1", "b=2"]);
      assert.equal(m.keepAlive, true);
      assert.equal(parser.started, false, "ready for the next response");
    }
  }
});

const chunked = Buffer.from(
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n" +
    "4\r\n{\"ok\r\n" +
    "A;name=value\r\n\": true, \"\r\n" +
    "7\r\nx\": 12}\r\n" +
    "0\r\nTrailer-One: 1\r\nTrailer-Two: 2\r\n\r\n",
  "latin1",
);

test("chunked bodies with extensions and trailers parse the same whatever the split", () => {
  for (const reuse of [false, true]) {
    for (const pieces of splits(chunked)) {
      const { messages } = parse(pieces, { reuse });
      assert.equal(messages.length, 1, `split ${pieces.map((p) => p.byteLength).join("+")}`);
      assert.deepEqual(JSON.parse(messages[0]!.body.toString("utf8")), { ok: true, x: 12 });
      assert.equal(messages[0]!.keepAlive, true);
    }
  }
});

test("pipelined answers in one chunk, 1xx heads skipped, 204 and HEAD without body", () => {
  const bytes = Buffer.from(
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
      "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc" +
      "HTTP/1.1 204 No Content\r\n\r\n" +
      "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nConnection: close\r\n\r\n",
    "latin1",
  );
  for (const pieces of splits(bytes)) {
    const { messages } = parse(pieces);
    assert.deepEqual(
      messages.map((m) => [m.status, m.body.toString(), m.keepAlive]),
      [
        [201, "abc", true],
        [204, "", true],
        [404, "", false],
      ],
    );
  }
  const head = parse([Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n")], { head: true });
  assert.equal(head.messages[0]!.body.byteLength, 0);
});

test("bodies without framing run until the connection closes; HTTP/1.0 keeps alive only when asked", () => {
  const { messages, parser } = parse([Buffer.from("HTTP/1.1 200 OK\r\n\r\npart one, "), Buffer.from("part two")]);
  assert.equal(messages.length, 0);
  assert.equal(parser.readsUntilClose, true);
  assert.equal(parser.finish(), true);
  assert.equal(messages[0]!.body.toString(), "part one, part two");
  assert.equal(messages[0]!.keepAlive, false);

  assert.equal(parse([Buffer.from("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx")]).messages[0]!.keepAlive, false);
  assert.equal(parse([Buffer.from("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx")]).messages[0]!.keepAlive, true);
  assert.equal(parse([Buffer.from("HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\nContent-Length: 1\r\n\r\nx")]).messages[0]!.keepAlive, false);

  // A connection that ends inside a Content-Length body is cut short.
  const cut = parse([Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")]);
  assert.equal(cut.parser.finish(), false);
});

test("malformed answers throw ResponseParseError naming what is wrong", () => {
  const bad = (text: string, pattern: RegExp): void => {
    assert.throws(() => parse([Buffer.from(text, "latin1")]), (e: unknown) => e instanceof ResponseParseError && pattern.test((e as Error).message));
  };
  bad("\x15\x03\x03\x00\x02\x02\x46\r\n\r\n", /status line .* is not "HTTP\/1\.x NNN reason"/);
  bad("HTTP/2 200 OK\r\n\r\n", /status line/);
  bad("HTTP/1.1 20 OK\r\n\r\n", /status line/);
  bad("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", /has no name/);
  bad("HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n", /Content-Length "1e3" is not a byte count/);
  bad("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", /conflicting Content-Length/);
  bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", /chunk size "zz"/);
  bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", /longer than its chunk size/);
  bad("HTTP/1.1 101 Switching Protocols\r\n\r\n", /switched protocols/);
  assert.throws(() => parse([Buffer.from(`HTTP/1.1 200 OK\r\nX: ${"a".repeat(70 * 1024)}`)]), /response head exceeds/);
});
