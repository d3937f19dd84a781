// The fast HTTP infer path (transport/http/transport.ts #fastInfer, fast/exchange.ts, infer-header-cache.ts):
// request heads built from a per-model prefix, the answer decoded by the pool as it completes (one promise
// per call), and JSON headers that repeat decoded from a kept layout. Against a scripted node:net peer
// that records every request and answers as a KServe v2 identity model would.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { createClient, InferenceError, Tensor } from "../src/index.ts";
import { InferHeaderCache } from "../src/transport/http/infer-header-cache.ts";
import { decodeInferResponse } from "../src/transport/http/infer-codec.ts";
import { ResponseParser, type ResponseHeaders } from "../src/transport/http/fast/response-parser.ts";
import { httpRequestPeer, type HttpRequestPeer } from "./support/http-request-peer.ts";

/** The answer body for `outputs` (binary extension) with an optional id / parameters in the JSON header. */
function binaryAnswer(outputs: { name: string; data: Int32Array }[], extra: Record<string, unknown> = {}): { json: string; body: Buffer } {
  const json = JSON.stringify({
    model_name: "echo",
    model_version: "1",
    ...extra,
    outputs: outputs.map((o) => ({ name: o.name, datatype: "INT32", shape: [1, o.data.length], parameters: { binary_data_size: o.data.byteLength } })),
  });
  return { json, body: Buffer.concat([Buffer.from(json), ...outputs.map((o) => Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength))]) };
}

/**
 * An HTTP/1.1 peer: model "echo" answers INPUT0 back as OUTPUT0 (plus an `id` when the request had one),
 * "bad" answers 400 with a JSON error, "hold" never answers. Records each request's head and body.
 */
function echoPeer(): Promise<HttpRequestPeer> {
  return httpRequestPeer(({ head, path, body }, socket) => {
    if (path.includes("/hold/")) return;
    const headerLength = Number(/\r\ninference-header-content-length: *(\d+)/i.exec(head)?.[1]);
    if (path.includes("/bad/") || Number.isNaN(headerLength)) {
      const msg = JSON.stringify({ error: "bad input" });
      socket.write(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${msg.length}\r\n\r\n${msg}`);
      return;
    }
    const request = JSON.parse(body.toString("utf8", 0, headerLength)) as { id?: string; inputs: { binary_data_size?: number; parameters?: { binary_data_size: number } }[] };
    const size = request.inputs[0]!.parameters!.binary_data_size;
    const raw = body.subarray(headerLength, headerLength + size);
    const data = new Int32Array(new Uint8Array(raw).buffer);
    const answer = binaryAnswer([{ name: "OUTPUT0", data }], request.id ? { id: request.id } : {});
    socket.write(
      `HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ninference-header-content-length: ${Buffer.byteLength(answer.json)}\r\n` +
        `content-length: ${answer.body.byteLength}\r\n\r\n`,
    );
    socket.write(answer.body);
  });
}

const input = (values: number[]) => new Tensor("INPUT0", "INT32", [1, values.length], Int32Array.from(values));

describe("fast HTTP infer path", () => {
  let peer: HttpRequestPeer;
  before(async () => {
    peer = await echoPeer();
  });
  after(() => peer.close());

  test("request head from the per-model prefix: request line, Host, content type, header and body lengths", async () => {
    const client = createClient({ url: peer.url, protocol: "http", retry: { attempts: 1 } });
    try {
      peer.seen.length = 0;
      const r = await client.infer("echo", [input([1, 2, 3])]);
      assert.deepEqual(Array.from(r.outputs[0]!.data as Int32Array), [1, 2, 3]);
      const versioned = await client.infer("echo", [input([4])], { version: "2" });
      assert.deepEqual(Array.from(versioned.outputs[0]!.data as Int32Array), [4]);
      const [first, second] = peer.seen;
      const lines = first!.head.split("\r\n");
      assert.equal(lines[0], "POST /v2/models/echo/infer HTTP/1.1");
      const headers = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      assert.equal(headers.host, `127.0.0.1:${peer.port}`);
      assert.equal(headers["content-type"], "application/octet-stream");
      const headerLength = Number(headers["inference-header-content-length"]);
      assert.equal(Number(headers["content-length"]), first!.body.byteLength);
      assert.equal(first!.body.byteLength, headerLength + 12);
      assert.equal(JSON.parse(first!.body.toString("utf8", 0, headerLength)).inputs[0].name, "INPUT0");
      assert.equal(second!.head.split("\r\n")[0], "POST /v2/models/echo/versions/2/infer HTTP/1.1");
    } finally {
      await client.close();
    }
  });

  test("per-call headers and JSON bodies still go out with the request", async () => {
    const client = createClient({ url: peer.url, protocol: "http", retry: { attempts: 1 } });
    try {
      peer.seen.length = 0;
      await client.infer("echo", [input([7])], { headers: { "x-tenant": "blue" } });
      assert.match(peer.seen[0]!.head, /\r\nx-tenant: blue(\r\n|$)/);
      assert.match(peer.seen[0]!.head, /\r\ninference-header-content-length: \d+/);
      // A JSON-only body (no binary inputs) has no header-length line and the JSON content type.
      await client.infer("echo", [input([8])], { binaryInputs: false }).catch(() => undefined);
      assert.match(peer.seen[1]!.head, /\r\ncontent-type: application\/json(\r\n|$)/);
      assert.doesNotMatch(peer.seen[1]!.head, /inference-header-content-length/);
    } finally {
      await client.close();
    }
  });

  test("errors: HTTP status, cancellation, deadline, and an unreachable server keep their codes", async () => {
    const client = createClient({ url: peer.url, protocol: "http", retry: { attempts: 1 } });
    try {
      await assert.rejects(client.infer("bad", [input([1])]), (e: unknown) => e instanceof InferenceError && e.httpStatus === 400 && e.message === "bad input");
      const ac = new AbortController();
      const held = client.infer("hold", [input([1])], { signal: ac.signal });
      setTimeout(() => ac.abort(), 20);
      await assert.rejects(held, (e: unknown) => e instanceof InferenceError && e.code === "cancelled");
      await assert.rejects(client.infer("hold", [input([1])], { timeoutMs: 30 }), (e: unknown) => e instanceof InferenceError && e.code === "deadline_exceeded");
      // The pool still answers after those.
      const r = await client.infer("echo", [input([5])]);
      assert.deepEqual(Array.from(r.outputs[0]!.data as Int32Array), [5]);
    } finally {
      await client.close();
    }
    const closed = await echoPeer();
    await closed.close();
    const unreachable = createClient({ url: closed.url, protocol: "http", retry: { attempts: 1 } });
    try {
      await assert.rejects(unreachable.infer("echo", [input([1])]), (e: unknown) => e instanceof InferenceError && e.code === "unavailable" && /refused/i.test(e.message));
    } finally {
      await unreachable.close();
    }
  });

  test("calls sharing one AbortSignal: one listener on it while they run, none after; aborting it cancels them all", async () => {
    const client = createClient({ url: peer.url, protocol: "http", retry: { attempts: 1 }, connections: 4 });
    try {
      const ac = new AbortController();
      const done = await Promise.all(Array.from({ length: 6 }, (_, i) => client.infer("echo", [input([i])], { signal: ac.signal })));
      assert.deepEqual(done.map((r) => (r.outputs[0]!.data as Int32Array)[0]), [0, 1, 2, 3, 4, 5]);
      assert.equal(getEventListeners(ac.signal, "abort").length, 0);
      // Six held calls, four on connections and two queued: all cancelled by one abort.
      const held = Array.from({ length: 6 }, () => client.infer("hold", [input([1])], { signal: ac.signal }));
      await new Promise((r) => setTimeout(r, 30));
      assert.equal(getEventListeners(ac.signal, "abort").length, 1);
      ac.abort();
      const outcomes = await Promise.allSettled(held);
      assert.ok(outcomes.every((o) => o.status === "rejected" && o.reason instanceof InferenceError && o.reason.code === "cancelled"));
      // The connections of the cancelled calls are replaced: the pool answers again.
      const r = await client.infer("echo", [input([9])], { signal: new AbortController().signal });
      assert.deepEqual(Array.from(r.outputs[0]!.data as Int32Array), [9]);
    } finally {
      await client.close();
    }
  });

  test("answers with an id (a header that differs every time) decode each their own", async () => {
    const client = createClient({ url: peer.url, protocol: "http", retry: { attempts: 1 } });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await client.infer("echo", [input([i, i + 1])], { id: `req-${i}` });
        assert.equal(r.id, `req-${i}`);
        assert.deepEqual(Array.from(r.outputs[0]!.data as Int32Array), [i, i + 1]);
      }
    } finally {
      await client.close();
    }
  });
});

describe("InferHeaderCache", () => {
  test("a repeated header is decoded from the kept layout: own data, own shapes, same result as a parse", () => {
    const cache = new InferHeaderCache();
    const a = binaryAnswer([{ name: "OUTPUT0", data: Int32Array.from([1, 2]) }, { name: "OUTPUT1", data: Int32Array.from([3, 4]) }]);
    const b = binaryAnswer([{ name: "OUTPUT0", data: Int32Array.from([5, 6]) }, { name: "OUTPUT1", data: Int32Array.from([7, 8]) }]);
    assert.equal(a.json, b.json);
    const hl = Buffer.byteLength(a.json);
    const first = cache.decode(a.body, hl, undefined);
    assert.equal(cache.size, 1);
    // Placed so that the binary section is 4-byte aligned: outputs are then views, not copies.
    const bBody = Buffer.from(new ArrayBuffer(b.body.byteLength + 8), (8 - (hl % 8)) % 8, b.body.byteLength);
    b.body.copy(bBody);
    const second = cache.decode(bBody, hl, undefined);
    assert.equal(cache.size, 1);
    assert.deepEqual(second, decodeInferResponse(bBody, hl, undefined));
    assert.deepEqual(Array.from(first.outputs[1]!.data as Int32Array), [3, 4]);
    assert.deepEqual(Array.from(second.outputs[0]!.data as Int32Array), [5, 6]);
    assert.equal(second.modelVersion, "1");
    assert.notEqual(first.outputs[0]!.shape, second.outputs[0]!.shape);
    assert.notEqual(first.parameters, second.parameters);
    // The outputs are views of the body, not copies.
    assert.equal((second.outputs[0]!.data as Int32Array).buffer, bBody.buffer);
  });

  test("a body too short for a kept layout fails as a parse would", () => {
    const cache = new InferHeaderCache();
    const a = binaryAnswer([{ name: "OUTPUT0", data: Int32Array.from([1, 2]) }]);
    const hl = Buffer.byteLength(a.json);
    cache.decode(a.body, hl, undefined);
    const short = a.body.subarray(0, a.body.byteLength - 4);
    assert.throws(() => cache.decode(short, hl, undefined), /needs 8 bytes/);
  });

  test("answers with an id, parameters, JSON data or shared-memory outputs are not kept", () => {
    const cache = new InferHeaderCache();
    const withId = binaryAnswer([{ name: "OUTPUT0", data: Int32Array.from([1]) }], { id: "x" });
    assert.equal(cache.decode(withId.body, Buffer.byteLength(withId.json), undefined).id, "x");
    const withParams = binaryAnswer([{ name: "OUTPUT0", data: Int32Array.from([1]) }], { parameters: { sequence_end: true } });
    assert.deepEqual(cache.decode(withParams.body, Buffer.byteLength(withParams.json), undefined).parameters, { sequence_end: true });
    const json = Buffer.from(JSON.stringify({ model_name: "m", outputs: [{ name: "O", datatype: "INT32", shape: [1], data: [9] }] }));
    assert.deepEqual(Array.from(cache.decode(json, json.byteLength, undefined).outputs[0]!.data as Int32Array), [9]);
    const plain = binaryAnswer([{ name: "OUTPUT0", data: Int32Array.from([1]) }]);
    const inRegion = [{ name: "OUTPUT0", binary: true, sharedMemory: { region: "r", offset: 0, byteSize: 4 } }];
    cache.decode(plain.body, Buffer.byteLength(plain.json), inRegion);
    assert.equal(cache.size, 0);
  });
});

describe("ResponseParser head reuse", () => {
  test("an identical head reuses its parse (one frozen headers object); a changed head is parsed afresh", () => {
    const seen: { status: number; headers: ResponseHeaders; body: string; keepAlive: boolean }[] = [];
    let current: { status: number; headers: ResponseHeaders; body: string } | undefined;
    const parser = new ResponseParser({
      onHead: (status, headers) => (current = { status, headers, body: "" }),
      onBody: (chunk) => (current!.body += chunk.toString("latin1")),
      onComplete: (keepAlive) => seen.push({ ...current!, keepAlive }),
    });
    const answer = (date: string, body: string, extra = "") =>
      Buffer.from(`HTTP/1.1 200 OK\r\nDate: ${date}\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`, "latin1");
    for (const [date, body, extra] of [
      ["Mon, 23 Nov 2026 13:00:00 GMT", "abc", ""],
      ["Mon, 23 Nov 2026 13:00:00 GMT", "xyz", ""],
      ["Mon, 23 Nov 2026 13:00:01 GMT", "def", ""],
      ["Mon, 23 Nov 2026 13:00:01 GMT", "ghi", "Connection: close\r\n"],
    ] as const) {
      parser.expect(false);
      parser.execute(answer(date, body, extra));
    }
    assert.deepEqual(seen.map((m) => m.body), ["abc", "xyz", "def", "ghi"]);
    assert.equal(seen[0]!.headers, seen[1]!.headers);
    assert.ok(Object.isFrozen(seen[0]!.headers));
    assert.notEqual(seen[1]!.headers, seen[2]!.headers);
    assert.equal(seen[2]!.headers.date, "Mon, 23 Nov 2026 13:00:01 GMT");
    assert.deepEqual(seen.map((m) => m.keepAlive), [true, true, true, false]);
    assert.equal(seen[3]!.headers.connection, "close");
  });
});

