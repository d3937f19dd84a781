// The HTTP infer path's compact requests (session 4): requests queued for a connection hold their JSON
// header text and the tensors' typed arrays only (fast/exchange.ts) and keep FIFO order, abort and
// deadline semantics; a repeated request reuses its model's JSON header and head bytes
// (infer-json-reuse.ts) and goes out byte-identical to a freshly encoded one; the layers end a call through
// one InferEnd (transport.ts) with the balancer's accounting intact. Against a scripted node:net peer that
// records every request and answers as an identity model, holding answers while told to.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createClient, InferenceError, Tensor } from "../src/index.ts";
import { encodeInferParts } from "../src/transport/http/infer-codec.ts";
import { InferJsonReuse } from "../src/transport/http/infer-json-reuse.ts";
import { forwardAll } from "../src/transport/forwarding.ts";
import type { InferRequest } from "../src/transport/transport.ts";
import { type SeenRequest } from "./support/http-request-peer.ts";
import { holdingEchoPeer } from "./support/holding-echo-peer.ts";



const input = (values: number[], name = "INPUT0") => new Tensor(name, "INT32", [1, values.length], Int32Array.from(values));
const values = (r: { outputs: Tensor[] }) => Array.from(r.outputs[0]!.data as Int32Array);
const firstValue = (s: SeenRequest) => {
  const headerLength = Number(/\r\ninference-header-content-length: *(\d+)/i.exec(s.head)![1]);
  return s.body.readInt32LE(headerLength);
};

async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("HTTP infer: queued requests, reused headers, one InferEnd through the layers", () => {
  let peer: Awaited<ReturnType<typeof holdingEchoPeer>>;
  before(async () => {
    peer = await holdingEchoPeer();
  });
  after(() => peer.close());

  test("requests queued for the one connection go out in order, each with its own data; aborted and timed-out ones reject and are never sent", async () => {
    const client = createClient({ url: peer.url, protocol: "http", connections: 1, retry: { attempts: 1 } });
    try {
      peer.seen.length = 0;
      peer.state.hold = true;
      const first = client.infer("echo", [input([1, 1])]);
      await until(() => peer.seen.length === 1, "the first request");
      // Everything below waits in the client's queue behind the first request.
      const aborter = new AbortController();
      const calls = [
        client.infer("echo", [input([2, 2])]),
        client.infer("echo", [input([3, 3])], { signal: aborter.signal }),
        client.infer("echo", [input([4, 4])], { timeoutMs: 30 }),
        client.infer("echo", [input([5, 5, 5])]),
        client.infer("echo", [input([6, 6])], { headers: { "x-call": "six" } }),
      ];
      const settled = Promise.allSettled(calls);
      aborter.abort();
      // The deadline of call 4 passes while it is queued.
      await new Promise((r) => setTimeout(r, 80));
      assert.equal(peer.seen.length, 1, "nothing else reached the peer while the connection was busy");
      peer.release();
      assert.deepEqual(values(await first), [1, 1]);
      const [two, three, four, five, six] = await settled;
      assert.equal(two.status, "fulfilled");
      assert.deepEqual(values((two as PromiseFulfilledResult<{ outputs: Tensor[] }>).value), [2, 2]);
      assert.ok(three.status === "rejected" && three.reason instanceof InferenceError && three.reason.code === "cancelled", "aborted while queued: cancelled");
      assert.ok(
        four.status === "rejected" && four.reason instanceof InferenceError && four.reason.code === "deadline_exceeded" && /30 ms/.test(four.reason.message),
        "timed out while queued: deadline_exceeded",
      );
      assert.deepEqual(values((five as PromiseFulfilledResult<{ outputs: Tensor[] }>).value), [5, 5, 5]);
      assert.deepEqual(values((six as PromiseFulfilledResult<{ outputs: Tensor[] }>).value), [6, 6]);
      assert.deepEqual(peer.seen.map(firstValue), [1, 2, 5, 6], "FIFO order, the aborted and timed-out requests never sent");
      assert.match(peer.seen[3]!.head, /\r\nx-call: six(\r\n|$)/);
      assert.deepEqual(client.endpoints().map((e) => e.outstanding), [0]);
    } finally {
      peer.release();
      await client.close();
    }
  });

  test("a repeated request reuses the model's header and goes out byte-identical to a fresh encode; any change gets its own header", async () => {
    const client = createClient({ url: peer.url, protocol: "http", retry: { attempts: 1 } });
    try {
      peer.seen.length = 0;
      await client.infer("echo", [input([7, 8])]);
      await client.infer("echo", [input([7, 8])]);
      // Fresh encode and reused bytes: the same request on the wire.
      assert.ok(peer.seen[0]!.raw.equals(peer.seen[1]!.raw), "second (reused) request differs from the first");
      const variants: [Tensor[], Parameters<typeof client.infer>[2]][] = [
        [[input([1, 2, 3])], undefined], // another shape
        [[input([1, 2, 3], "OTHER")], undefined], // another name
        [[new Tensor("INPUT0", "FP32", [1, 3], Float32Array.from([1, 2, 3]))], undefined], // another datatype
        [[input([1, 2, 3])], { id: "req-1" }],
        [[input([1, 2, 3])], { parameters: { tenant: "blue" } }],
        [[input([1, 2, 3])], { binaryOutputs: false }],
        [[input([1, 2, 3])], { outputs: ["OUTPUT0"] }],
        [[input([1, 2, 3])], undefined], // back to the plain request
      ];
      for (const [inputs, options] of variants) {
        peer.seen.length = 0;
        await client.infer("echo", inputs, options);
        const s = peer.seen[0]!;
        const headerLength = Number(/\r\ninference-header-content-length: *(\d+)/i.exec(s.head)![1]);
        const json = JSON.parse(s.body.toString("utf8", 0, headerLength));
        const t = inputs[0]!;
        assert.deepEqual(json.inputs, [{ name: t.name, shape: [...t.shape], datatype: t.datatype, parameters: { binary_data_size: t.byteSize } }]);
        assert.equal(json.id, options?.id);
        assert.equal(json.parameters?.tenant, options?.parameters?.tenant);
        assert.equal(json.parameters?.binary_data_output, options?.outputs || options?.binaryOutputs === false ? undefined : true);
        assert.deepEqual(json.outputs?.map((o: { name: string }) => o.name), options?.outputs);
        assert.equal(Number(/\r\ncontent-length: *(\d+)/i.exec(s.head)![1]), headerLength + t.byteSize);
        assert.deepEqual([...s.body.subarray(headerLength)], [...new Uint8Array(t.toRaw())]);
      }
    } finally {
      await client.close();
    }
  });

  test("InferJsonReuse gives the JSON a fresh encode gives, request after request, shapes compared by value", () => {
    const reuse = new InferJsonReuse("POST /v2/models/m/infer HTTP/1.1\r\nhost: h\r\ncontent-type: application/octet-stream\r\ninference-header-content-length: ");
    const shape = [1, 2];
    const req = (inputs: Tensor[], extra: Partial<InferRequest> = {}): InferRequest => ({ model: "m", inputs, binaryInputs: true, binaryOutputs: true, ...extra });
    const sequence: InferRequest[] = [
      req([new Tensor("A", "INT32", shape, new Int32Array(2))]),
      req([new Tensor("A", "INT32", [1, 2], new Int32Array(2))]),
      req([new Tensor("A", "INT32", [2, 1], new Int32Array(2))]),
      req([new Tensor("A", "INT32", [2, 1], new Int32Array(2)), new Tensor("B", "BYTES", [1], ["xy"])]),
      req([new Tensor("A", "INT32", [2, 1], new Int32Array(2)), new Tensor("B", "BYTES", [1], ["xyz"])]),
      req([new Tensor("A", "INT32", [2, 1], new Int32Array(2))], { binaryOutputs: false }),
      req([new Tensor("A", "INT32", [2, 1], new Int32Array(2))], { parameters: {} }),
      req([new Tensor("A", "INT32", [2, 1], new Int32Array(2))], { binaryInputs: false }),
      req([new Tensor("A", "INT32", [2, 1], new Int32Array(2))]),
    ];
    let prefixes = 0;
    for (const r of sequence) {
      const got = reuse.encode(r);
      const fresh = encodeInferParts(r);
      assert.equal(got.json, fresh.json);
      assert.equal(got.jsonBytes, Buffer.byteLength(fresh.json));
      assert.equal(got.dataBytes, fresh.dataBytes);
      if (got.prefix !== undefined) {
        prefixes++;
        const text = got.prefix.toString("latin1");
        assert.ok(text.endsWith(`\r\n\r\n${fresh.json}`));
        assert.match(text, new RegExp(`inference-header-content-length: ${got.jsonBytes}\\r\\ncontent-length: ${got.jsonBytes + got.dataBytes}\\r\\n`));
      }
    }
    // Reused: the second request (same shape by value) and the parameters: {} one; not the JSON-data one.
    assert.equal(prefixes, 2);
  });

  test("the balancer's accounting holds on the ended road: answers, error answers and aborts all leave nothing outstanding", async () => {
    const client = createClient({ url: peer.url, protocol: "http", retry: { attempts: 1 } });
    try {
      assert.deepEqual(values(await client.infer("echo", [input([9])])), [9]);
      await assert.rejects(client.infer("bad", [input([1])]), (e: unknown) => e instanceof InferenceError && e.httpStatus === 400 && /bad input/.test(e.message));
      peer.state.hold = true;
      const aborter = new AbortController();
      const held = client.infer("echo", [input([10])], { signal: aborter.signal });
      assert.deepEqual(client.endpoints().map((e) => e.outstanding), [1]);
      aborter.abort();
      await assert.rejects(held, (e: unknown) => e instanceof InferenceError && e.code === "cancelled");
      peer.release();
      const [ep] = client.endpoints();
      assert.equal(ep!.outstanding, 0);
      assert.equal(ep!.requests, 3);
      assert.equal(ep!.state, "healthy");
    } finally {
      peer.release();
      await client.close();
    }
  });

  test("layers never forward inferWith blindly: forwardAll leaves it out", () => {
    const inner = { protocol: "http", url: "u", infer: () => 1, inferWith: () => 2 };
    const forwarded = forwardAll(inner) as Record<string, unknown>;
    assert.equal(typeof forwarded.infer, "function");
    assert.equal(forwarded.inferWith, undefined);
  });
});
