// The node:http2 gRPC infer path (grpc.implementation "http2", the default) against grpc-js server peers:
// the same statuses, messages (percent-decoded grpc-message), deadlines, cancellation, metadata,
// compression and connection-failure classification as the grpc-js path gives for the same server.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { createClient, InferenceError, Tensor, type ClientOptions } from "../src/index.ts";
import { inferenceServiceClient } from "../src/transport/grpc/service.ts";
import { connectionFailure } from "../src/transport/connection-failure.ts";
import { MessageReader, rawOutputOffset } from "../src/transport/grpc/h2/message-reader.ts";
import { decodeGrpcMessage, grpcTimeout } from "../src/transport/grpc/h2/status.ts";
import { serializeInferRequest, serializeInferRequestChunks } from "../src/transport/grpc/infer-wire.ts";

interface Seen {
  metadata: Record<string, unknown>;
  request: { model_name: string; raw_input_contents: Buffer[] };
}

type Behaviour = (call: grpc.ServerUnaryCall<Seen["request"], unknown>, cb: grpc.sendUnaryData<unknown>) => void;

/** A grpc-js server whose ModelInfer does what the current test says (`peer.behave`). */
async function grpcPeer(options: grpc.ServerOptions = {}) {
  const service = (inferenceServiceClient() as unknown as { service: grpc.ServiceDefinition }).service;
  const server = new grpc.Server(options);
  const seen: Seen[] = [];
  const peer = {
    url: "",
    seen,
    behave: ((call, cb) => echo(call, cb)) as Behaviour,
    close: async () => server.forceShutdown(),
  };
  server.addService(service, {
    ModelInfer: (call: grpc.ServerUnaryCall<Seen["request"], unknown>, cb: grpc.sendUnaryData<unknown>) => {
      seen.push({ metadata: call.metadata.getMap(), request: call.request });
      peer.behave(call, cb);
    },
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  peer.url = `grpc://127.0.0.1:${port}`;
  return peer;
}

/** Answers with OUTPUT0 = the first input's raw bytes, as FP32. */
function echo(call: grpc.ServerUnaryCall<Seen["request"], unknown>, cb: grpc.sendUnaryData<unknown>): void {
  const raw = call.request.raw_input_contents[0] ?? Buffer.alloc(0);
  cb(null, { model_name: call.request.model_name, outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [raw.length / 4] }], raw_output_contents: [raw] });
}

const fp32 = (values: number[]) => new Tensor("INPUT0", "FP32", [values.length], Float32Array.from(values));

async function failure(p: Promise<unknown>): Promise<InferenceError> {
  const e = await p.then(
    () => assert.fail("expected a rejection"),
    (err: unknown) => err,
  );
  assert.ok(e instanceof InferenceError, String(e));
  return e;
}

async function withClient<T>(options: Partial<ClientOptions> & { url: string }, fn: (c: ReturnType<typeof createClient>) => Promise<T>): Promise<T> {
  const c = createClient({ protocol: "grpc", retry: false, ...options });
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

describe("node:http2 gRPC infer against a grpc-js peer", () => {
  let peer: Awaited<ReturnType<typeof grpcPeer>>;
  before(async () => {
    peer = await grpcPeer();
  });
  after(() => peer.close());

  test("round-trips on http2 by default (its user-agent), grpc-js when asked", async () => {
    peer.behave = echo;
    for (const [implementation, agent] of [[undefined, /^iaas-client-h2 /], ["grpc-js", /grpc-node-js/]] as const) {
      peer.seen.length = 0;
      const options = implementation ? { url: peer.url, grpc: { implementation } } : { url: peer.url };
      const r = await withClient(options, (c) => c.infer("m", [fp32([1.5, -2, 3])]));
      assert.deepEqual(Array.from(r.output("OUTPUT0").data as Float32Array), [1.5, -2, 3]);
      assert.match(String(peer.seen[0]!.metadata["user-agent"]), agent);
    }
  });

  test("metadata (headers, auth hook) reaches the server; illegal metadata is invalid_argument", async () => {
    peer.behave = echo;
    peer.seen.length = 0;
    await withClient({ url: peer.url, headers: { "X-Tenant": "t1" }, auth: () => ({ authorization: "Bearer abc" }) }, async (c) => {
      await c.infer("m", [fp32([1])], { headers: { "x-call": "c1" } });
      const e = await failure(c.infer("m", [fp32([1])], { headers: { "bad key": "v" } }));
      assert.equal(e.code, "invalid_argument");
      assert.match(e.message, /Metadata key "bad key" contains illegal characters/);
    });
    const md = peer.seen[0]!.metadata;
    assert.equal(md["x-tenant"], "t1");
    assert.equal(md["x-call"], "c1");
    assert.equal(md.authorization, "Bearer abc");
  });

  test("server statuses keep their code and percent-decoded message, exactly as grpc-js reports them", async () => {
    const details = "tensor 'INPUT0': 100% wrong, expected ✓ [1,2]\nsecond line";
    peer.behave = (_call, cb) => cb({ code: grpc.status.INVALID_ARGUMENT, details });
    const viaH2 = await withClient({ url: peer.url }, (c) => failure(c.infer("m", [fp32([1])])));
    const viaGrpcJs = await withClient({ url: peer.url, grpc: { implementation: "grpc-js" } }, (c) => failure(c.infer("m", [fp32([1])])));
    assert.equal(viaH2.code, "invalid_argument");
    assert.equal(viaH2.grpcCode, 3);
    assert.equal(viaH2.message, details);
    assert.equal(viaH2.message, viaGrpcJs.message);
    for (const [code, name] of [[grpc.status.NOT_FOUND, "not_found"], [grpc.status.UNAVAILABLE, "unavailable"], [grpc.status.RESOURCE_EXHAUSTED, "resource_exhausted"]] as const) {
      peer.behave = (_call, cb) => cb({ code, details: `status ${code}` });
      const e = await withClient({ url: peer.url }, (c) => failure(c.infer("m", [fp32([1])])));
      assert.equal(e.code, name);
      assert.equal(e.message, `status ${code}`);
      // A server's own UNAVAILABLE is an answer, not a connection failure.
      assert.equal(connectionFailure(e), undefined);
    }
  });

  test("the deadline fails the call as deadline_exceeded and is sent as grpc-timeout", async () => {
    let serverDeadline: grpc.Deadline | undefined;
    peer.behave = (call) => {
      serverDeadline = call.getDeadline();
    };
    const sentAt = Date.now();
    const e = await withClient({ url: peer.url }, (c) => failure(c.infer("m", [fp32([1])], { timeoutMs: 150 })));
    assert.equal(e.code, "deadline_exceeded");
    assert.match(e.message, /150 ms/);
    // grpc-js turns the grpc-timeout header into the call's deadline.
    const at = serverDeadline instanceof Date ? serverDeadline.getTime() : Number(serverDeadline);
    assert.ok(Number.isFinite(at) && at >= sentAt && at <= Date.now() + 1000, `server deadline ${String(serverDeadline)}`);
    assert.equal(grpcTimeout(150), "150m");
    assert.equal(grpcTimeout(2e8), "200000S");
  });

  test("an abort cancels the call in flight", async () => {
    peer.behave = () => {};
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const e = await withClient({ url: peer.url }, (c) => failure(c.infer("m", [fp32([1])], { signal: ac.signal })));
    assert.equal(e.code, "cancelled");
  });

  test("gzip and deflate requests arrive compressed and decode at the server", async () => {
    peer.behave = echo;
    for (const compression of ["gzip", "deflate"] as const) {
      const values = Array.from({ length: 4096 }, () => 7);
      const r = await withClient({ url: peer.url, compression }, (c) => c.infer("m", [fp32(values)]));
      assert.deepEqual(Array.from(r.output("OUTPUT0").data as Float32Array), values);
    }
  });

  test("compressed answers are decompressed", async () => {
    const zipping = await grpcPeer({ "grpc.default_compression_algorithm": 2 } as grpc.ServerOptions);
    try {
      const values = Array.from({ length: 1000 }, (_, i) => i);
      const r = await withClient({ url: zipping.url }, (c) => c.infer("m", [fp32(values)]));
      assert.deepEqual(Array.from(r.output("OUTPUT0").data as Float32Array), values);
    } finally {
      await zipping.close();
    }
  });
});

test("a server that goes away mid-call: unavailable, classified as lost; a refused port as not_sent", async () => {
  const peer = await grpcPeer();
  peer.behave = () => {};
  const c = createClient({ url: peer.url, protocol: "grpc", retry: false });
  try {
    const pending = failure(c.infer("m", [fp32([1])]));
    while (peer.seen.length === 0) await new Promise((r) => setTimeout(r, 10));
    await peer.close();
    const e = await pending;
    assert.equal(e.code, "unavailable");
    assert.equal(connectionFailure(e), "lost");
  } finally {
    await c.close();
  }
  const port = await new Promise<number>((res) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => res(p));
    });
  });
  const refused = await withClient({ url: `127.0.0.1:${port}` }, (cl) => failure(cl.infer("m", [fp32([1])])));
  assert.equal(refused.code, "unavailable");
  assert.match(refused.message, new RegExp(`No connection established to grpc://127\\.0\\.0\\.1:${port}`));
  assert.equal(connectionFailure(refused), "not_sent");
});

test("MessageReader: a prefix split across chunks, a multi-chunk body aligned at the raw output, limits", () => {
  const message = Buffer.from([0x0a, 0x01, 0x6d, 0x32, 0x08, 1, 2, 3, 4, 5, 6, 7, 8]);
  const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
  const one = new MessageReader(1 << 20, rawOutputOffset);
  one.push(framed);
  assert.deepEqual(one.message(), message);
  const split = new MessageReader(1 << 20, rawOutputOffset);
  for (const [a, b] of [[0, 2], [2, 13], [13, 15], [15, framed.length]]) split.push(framed.subarray(a, b));
  const got = split.message()!;
  assert.deepEqual(got, message);
  // Field 6's bytes start at offset 5 of the message; the reader places them 8-byte aligned.
  assert.equal(rawOutputOffset(message, 0, message.length), 5);
  assert.equal((got.byteOffset + 5) % 8, 0);
  const big = new MessageReader(10);
  big.push(Buffer.from([0, 0, 0, 0, 11]));
  assert.match(big.problem!, /Received message larger than max \(11 vs\. 10\)/);
  const two = new MessageReader(100);
  two.push(Buffer.from([0, 0, 0, 0, 1, 9, 0, 0, 0, 0, 1, 9]));
  assert.equal(two.problem, "Too many responses received");
  assert.equal(decodeGrpcMessage("a%20b%E2%9C%93"), "a b✓");
  assert.equal(decodeGrpcMessage("100%"), "100%");
});

test("serializeInferRequestChunks: the chunks join to the same bytes as the one-buffer codec, large tensors uncopied", () => {
  const fail = () => assert.fail("no fallback expected");
  const big = new Uint8Array(200_000).map((_, i) => i & 0xff);
  const small = Uint8Array.of(1, 2, 3, 4);
  const message = {
    model_name: "m",
    inputs: [
      { name: "A", datatype: "UINT8", shape: [big.length] },
      { name: "B", datatype: "UINT8", shape: [4] },
      { name: "C", datatype: "UINT8", shape: [big.length] },
    ],
    raw_input_contents: [big, small, big],
  };
  const chunks = serializeInferRequestChunks(message, fail);
  assert.deepEqual(Buffer.concat(chunks), serializeInferRequest(message, fail));
  // Both large inputs are the caller's own memory, not copies.
  assert.equal(chunks.filter((c) => c === big).length, 2);
  // Small requests stay one buffer.
  const one = serializeInferRequestChunks({ ...message, raw_input_contents: [small, small, small] }, fail);
  assert.equal(one.length, 1);
});
