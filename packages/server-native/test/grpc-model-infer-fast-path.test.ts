// Unary ModelInfer on the server's fast path (frontends/grpc/model-infer-fast-path.ts): that plain calls
// take it and other streams do not, and that it keeps what grpc-js did for these calls (framing across
// DATA frames, one message per call, the receive limit, deadlines, authentication, status trailers with a
// percent-encoded message, TLS, graceful shutdown), against real servers on 127.0.0.1.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { gzipSync } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { startServer, type RunningServer } from "../src/server.ts";
import { fastModelInferCalls } from "../src/frontends/grpc/model-infer-fast-path.ts";
import { startGrpcFrontend } from "../src/frontends/grpc/grpc-server.ts";
import { encodeGrpcMessage, grpcTimeoutMs } from "../src/frontends/grpc/grpc-call-headers.ts";
import { GrpcCallError } from "../src/frontends/grpc/grpc-call-error.ts";
import { UnaryMessageReader } from "../src/frontends/grpc/unary-message-reader.ts";
import { BodyPool, MIN_POOLED_BODY_BYTES } from "../src/frontends/request-buffers/body-pool.ts";
import { frameInferResponse } from "../src/frontends/grpc/infer-wire.ts";
import { countArrivals, denseMlpRepository, grpcClient, identityConfig, tempRepository, type GrpcTestClient } from "./helpers.ts";
import { answerMessage, decodeInferResponse, encodeInferRequest, grpcFrame, rawCall, rawSession } from "./grpc-raw-call.ts";
import { createTestPki } from "./tls-fixtures.ts";

const values = Float32Array.from({ length: 16 }, (_, i) => i * 0.25 - 1);
const data = Buffer.from(values.buffer);
const request = { model_name: "identity_fp32", inputs: [{ name: "INPUT0", datatype: "FP32", shape: ["16"] }], raw_input_contents: [data] };
const requestMessage = encodeInferRequest(request);
const requestFrame = grpcFrame(requestMessage);

function stallConfig(name: string, stallMs: number): string {
  return `${identityConfig(name, "TYPE_FP32").replace('backend: "identity"', 'backend: "stall"')}
parameters { key: "stall_ms" value: { string_value: "${stallMs}" } }
parameters { key: "period_ms" value: { string_value: "${stallMs + 1}" } }`;
}

/** Counts fast-path calls taken while `fn` runs. */
async function taken<T>(fn: () => Promise<T>): Promise<{ value: T; calls: number }> {
  const before = fastModelInferCalls();
  const value = await fn();
  return { value, calls: fastModelInferCalls() - before };
}

function assertIdentityAnswer(message: Buffer): void {
  const res = decodeInferResponse(message);
  assert.equal(res.model_name, "identity_fp32");
  assert.deepEqual(res.outputs.map((o: any) => [o.name, o.datatype, o.shape]), [["OUTPUT0", "FP32", ["16"]]]);
  assert.ok(Buffer.compare(res.raw_output_contents[0], data) === 0, "output bytes equal input bytes");
}

test("framing helpers: every split of a frame gives the same message; limits, flags and counts are refused", () => {
  for (let a = 0; a <= requestFrame.length; a++) {
    for (const b of [a, Math.min(requestFrame.length, a + 3), requestFrame.length]) {
      const reader = new UnaryMessageReader(1 << 20);
      for (const part of [requestFrame.subarray(0, a), requestFrame.subarray(a, b), requestFrame.subarray(b)]) reader.push(part);
      assert.ok(Buffer.compare(reader.finish(), requestMessage) === 0, `split at ${a}/${b}`);
    }
  }
  const code = (fn: () => unknown): number => {
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof GrpcCallError);
      return err.code;
    }
    return -1;
  };
  assert.equal(code(() => new UnaryMessageReader(10).push(grpcFrame(Buffer.alloc(11)))), grpc.status.RESOURCE_EXHAUSTED);
  assert.equal(code(() => new UnaryMessageReader(1 << 20).push(Buffer.concat([requestFrame, grpcFrame(Buffer.alloc(0))]))), grpc.status.UNIMPLEMENTED);
  assert.equal(code(() => new UnaryMessageReader(1 << 20).finish()), grpc.status.UNIMPLEMENTED);
  assert.equal(code(() => new UnaryMessageReader(1 << 20).push(grpcFrame(Buffer.alloc(3), 1))), grpc.status.INTERNAL);
  const cut = new UnaryMessageReader(1 << 20);
  cut.push(requestFrame.subarray(0, 9));
  assert.equal(code(() => cut.finish()), grpc.status.INTERNAL);
  const empty = new UnaryMessageReader(1 << 20);
  empty.push(grpcFrame(Buffer.alloc(0)));
  assert.equal(empty.finish().length, 0);

  assert.equal(encodeGrpcMessage("plain text: ok"), "plain text: ok");
  assert.equal(encodeGrpcMessage("100% modèle\n"), "100%25 mod%C3%A8le%0A");
  assert.equal(decodeURIComponent(encodeGrpcMessage("100% modèle\n")), "100% modèle\n");
  assert.deepEqual(["1S", "250m", "2M", "1H", "500u", "2500u", "9n", "x"].map(grpcTimeoutMs), [1000, 250, 120_000, 3_600_000, 0, 2, 0, undefined]);
  assert.equal(grpcTimeoutMs("99999999H"), 99_999_999 * 3_600_000, "no 32-bit wrap-around");

  const response = { model_name: "m", model_version: "1", id: "", outputs: [{ name: "O", datatype: "FP32", shape: [2] }], raw_output_contents: [Buffer.alloc(8, 1)] };
  const serialize = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
  const framed = frameInferResponse(response, serialize);
  assert.equal(framed[0], 0);
  assert.equal(framed.readUInt32BE(1), framed.length - 5);
  const withParams = frameInferResponse({ ...response, parameters: { a: { bool_param: true } } }, serialize);
  assert.equal(withParams.subarray(5).toString(), JSON.stringify({ ...response, parameters: { a: { bool_param: true } } }), "messages the fast encoder does not take go through the fallback");
});

test("pooled messages: a 64 KiB message is read into a buffer of the pool and keeps none of its chunks", () => {
  const big = Buffer.from(Float32Array.from({ length: 16384 }, (_, i) => i).buffer);
  const frame = grpcFrame(encodeInferRequest({ ...request, inputs: [{ name: "INPUT0", datatype: "FP32", shape: ["16384"] }], raw_input_contents: [big] }));
  for (const cuts of [[], [3], [frame.length >> 1], [5, 40_000]]) {
    const bounds = [0, ...cuts, frame.length];
    // Each chunk its own ArrayBuffer (node:http2's are slices of shared read buffers: either way the message must not be a view).
    const chunks = bounds.slice(1).map((end, i) => {
      const c = Buffer.allocUnsafeSlow(end - bounds[i]!);
      frame.copy(c, 0, bounds[i], end);
      return c;
    });
    const pool = new BodyPool();
    const reader = new UnaryMessageReader(1 << 24, pool);
    for (const c of chunks) reader.push(c);
    assert.ok(reader.pooled);
    const message = reader.finish();
    assert.ok(Buffer.compare(message, frame.subarray(5)) === 0, `cuts ${cuts}: the message as sent`);
    for (const c of chunks) assert.notEqual(message.buffer, c.buffer, `cuts ${cuts}: the message is no view of a chunk`);
    pool.give(message);
    assert.ok(pool.freeByteCount >= message.length, "the message came from the pool and went back to it");
  }
  // Below the pool's range a whole message stays a view of its chunk (no copy).
  const small = Buffer.allocUnsafeSlow(requestFrame.length);
  requestFrame.copy(small);
  const reader = new UnaryMessageReader(1 << 20, new BodyPool());
  reader.push(small);
  assert.ok(requestFrame.length < MIN_POOLED_BODY_BYTES && !reader.pooled);
  assert.equal(reader.finish().buffer, small.buffer);
});

describe("pooled request messages on a running server", () => {
  const repo = tempRepository({ identity_fp32: identityConfig("identity_fp32", "TYPE_FP32") });
  let srv: RunningServer;
  let client: GrpcTestClient;
  before(async () => {
    srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, metrics: false });
    client = grpcClient(srv.grpcUrl);
  });
  after(async () => {
    client.close();
    await srv.close();
    repo.remove();
  });

  test("64 KiB calls, 8 at a time, each answered with its own bytes while the buffers are reused", async () => {
    const call = (k: number) => {
      const input = Buffer.from(Float32Array.from({ length: 16384 }, (_, i) => k * 100_000 + i).buffer);
      return taken(() => client.call("ModelInfer", { ...request, inputs: [{ name: "INPUT0", datatype: "FP32", shape: ["16384"] }], raw_input_contents: [input] })).then(
        ({ value, calls }) => {
          assert.equal(calls >= 1, true);
          assert.ok(Buffer.compare(value.raw_output_contents[0], input) === 0, `call ${k}: its own bytes back`);
        },
      );
    };
    for (let round = 0; round < 5; round++) await Promise.all(Array.from({ length: 8 }, (_, j) => call(round * 8 + j)));
  });
});

describe("a plain server", () => {
  const repo = tempRepository({ identity_fp32: identityConfig("identity_fp32", "TYPE_FP32"), stall_fp32: stallConfig("stall_fp32", 1500) });
  let srv: RunningServer;
  let client: GrpcTestClient;
  before(async () => {
    srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, maxGrpcReceiveBytes: 4096, shutdownGraceMs: 200 });
    client = grpcClient(srv.grpcUrl);
  });
  after(async () => {
    client.close();
    await srv.close();
    repo.remove();
  });

  test("a plain ModelInfer takes the fast path: HEADERS, one DATA frame with the message, grpc-status 0", async () => {
    const session = rawSession(srv.grpcUrl);
    try {
      const { value: reply, calls } = await taken(() => rawCall(session, { chunks: [requestFrame] }));
      assert.equal(calls, 1);
      assert.equal(reply.headers[":status"], 200);
      assert.match(String(reply.headers["content-type"]), /^application\/grpc/);
      assert.equal(reply.trailers["grpc-status"], "0");
      assertIdentityAnswer(answerMessage(reply));
    } finally {
      session.close();
    }
    const viaGrpcJs = await taken(() => client.call("ModelInfer", request));
    assert.equal(viaGrpcJs.calls, 1, "a grpc-js client's call takes it too");
    assert.ok(Buffer.compare(viaGrpcJs.value.raw_output_contents[0], data) === 0);
  });

  test("a message split across DATA frames, the prefix included, is read whole", async () => {
    const session = rawSession(srv.grpcUrl);
    try {
      const n = requestFrame.length;
      for (const cuts of [[1], [3, 5], [5], [7, 20], [n - 1], [2, 4, 6, 30, n - 2]]) {
        const bounds = [0, ...cuts, n];
        const chunks = bounds.slice(1).map((end, i) => requestFrame.subarray(bounds[i], end));
        const { value: reply, calls } = await taken(() => rawCall(session, { chunks }));
        assert.equal(calls, 1);
        assert.equal(reply.status, 0, `cuts ${cuts}: ${reply.message}`);
        assertIdentityAnswer(answerMessage(reply));
      }
    } finally {
      session.close();
    }
  });

  test("compressed calls and other RPCs are left to grpc-js", async () => {
    const session = rawSession(srv.grpcUrl);
    try {
      const gz = await taken(() => rawCall(session, { headers: { "grpc-encoding": "gzip" }, chunks: [grpcFrame(gzipSync(requestMessage), 1)] }));
      assert.equal(gz.calls, 0);
      assert.equal(gz.value.status, 0, gz.value.message);
      assertIdentityAnswer(answerMessage(gz.value));
    } finally {
      session.close();
    }
    const other = await taken(() => client.call("ServerLive", {}));
    assert.equal(other.calls, 0);
    assert.equal(other.value.live, true);
  });

  test("a message above maxGrpcReceiveBytes: RESOURCE_EXHAUSTED, and the server answers after", async () => {
    const session = rawSession(srv.grpcUrl);
    try {
      const big = grpcFrame(Buffer.alloc(5000));
      const { value: reply, calls } = await taken(() => rawCall(session, { chunks: [big.subarray(0, 100), big.subarray(100)] }));
      assert.equal(calls, 1);
      assert.equal(reply.status, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(decodeURIComponent(reply.message), /larger than max \(5000 vs 4096\)/);
      assertIdentityAnswer(answerMessage(await rawCall(session, { chunks: [requestFrame] })));
    } finally {
      session.close();
    }
  });

  test("malformed calls end with their status and message; the server keeps answering", async () => {
    const session = rawSession(srv.grpcUrl);
    try {
      const cases: { what: string; chunks: Buffer[]; headers?: Record<string, string>; code: grpc.status; message: RegExp }[] = [
        { what: "not protobuf", chunks: [grpcFrame(Buffer.from([0xff, 0xff, 0xff]))], code: grpc.status.INTERNAL, message: /Error deserializing request/ },
        { what: "truncated field", chunks: [grpcFrame(Buffer.from([0x3a, 0x80]))], code: grpc.status.INTERNAL, message: /Error deserializing request/ },
        {
          what: "unknown datatype",
          chunks: [grpcFrame(encodeInferRequest({ ...request, inputs: [{ name: "INPUT0", datatype: "FP33", shape: ["16"] }] }))],
          code: grpc.status.INVALID_ARGUMENT,
          message: /unknown datatype 'FP33'/,
        },
        {
          what: "wrong byte size",
          chunks: [grpcFrame(encodeInferRequest({ ...request, raw_input_contents: [data.subarray(4)] }))],
          code: grpc.status.INVALID_ARGUMENT,
          message: /byte size/,
        },
        { what: "no message", chunks: [], code: grpc.status.UNIMPLEMENTED, message: /no request message/ },
        { what: "two messages", chunks: [requestFrame, requestFrame], code: grpc.status.UNIMPLEMENTED, message: /second request message/ },
        { what: "cut short", chunks: [requestFrame.subarray(0, 20)], code: grpc.status.INTERNAL, message: /ended inside a message/ },
        { what: "cut in the prefix", chunks: [requestFrame.subarray(0, 3)], code: grpc.status.INTERNAL, message: /prefix/ },
        { what: "compressed flag without grpc-encoding", chunks: [grpcFrame(gzipSync(requestMessage), 1)], code: grpc.status.INTERNAL, message: /compressed/ },
        { what: "flag byte 7", chunks: [grpcFrame(requestMessage, 7)], code: grpc.status.INTERNAL, message: /flag byte 7/ },
        { what: "bad grpc-timeout", chunks: [requestFrame], headers: { "grpc-timeout": "soon" }, code: grpc.status.INTERNAL, message: /Invalid grpc-timeout value "soon"/ },
      ];
      for (const c of cases) {
        const { value: reply, calls } = await taken(() => rawCall(session, { chunks: c.chunks, headers: c.headers }));
        assert.equal(calls, 1, c.what);
        assert.equal(reply.status, c.code, `${c.what}: ${reply.message}`);
        assert.match(decodeURIComponent(reply.message), c.message, c.what);
      }
      assertIdentityAnswer(answerMessage(await rawCall(session, { chunks: [requestFrame] })));
    } finally {
      session.close();
    }
  });

  test("seeded random frames (flipped bytes, cuts, trailing bytes, garbage, random splits): a status each, the server unharmed", async () => {
    let seed = 0x5eed;
    const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const pick = (n: number): number => Math.floor(rnd() * n);
    const known = new Set([0, grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.RESOURCE_EXHAUSTED, grpc.status.UNIMPLEMENTED, grpc.status.INTERNAL, grpc.status.DEADLINE_EXCEEDED]);
    const session = rawSession(srv.grpcUrl);
    try {
      const seen = new Map<number, number>();
      for (let i = 0; i < 150; i++) {
        let frame: Buffer = Buffer.from(requestFrame);
        const kind = pick(5);
        if (kind === 0) for (let k = 0; k < 3; k++) frame[pick(frame.length)] = pick(256);
        else if (kind === 1) frame = frame.subarray(0, pick(frame.length));
        else if (kind === 2) frame = Buffer.concat([frame, frame.subarray(0, 1 + pick(frame.length - 1))]);
        else if (kind === 3) frame = Buffer.from(Array.from({ length: pick(40) }, () => pick(256)));
        const cuts = [0, ...Array.from({ length: pick(4) }, () => pick(frame.length)).sort((a, b) => a - b), frame.length];
        const chunks = cuts.slice(1).map((end, j) => frame.subarray(cuts[j], end)).filter((c) => c.length > 0);
        const reply = await rawCall(session, { chunks });
        assert.ok(known.has(reply.status), `frame #${i}: status ${reply.status} ${reply.message}`);
        if (reply.status !== 0) assert.ok(reply.message.length > 0, `frame #${i}: a message with status ${reply.status}`);
        seen.set(reply.status, (seen.get(reply.status) ?? 0) + 1);
      }
      assert.ok(seen.size >= 4, `several outcomes: ${JSON.stringify([...seen])}`);
      assertIdentityAnswer(answerMessage(await rawCall(session, { chunks: [requestFrame] })));
    } finally {
      session.close();
    }
  });

  test("an error's grpc-message is percent-encoded and reads back as sent", async () => {
    const name = "modèle_100%";
    const session = rawSession(srv.grpcUrl);
    try {
      const reply = await rawCall(session, { chunks: [grpcFrame(encodeInferRequest({ ...request, model_name: name }))] });
      assert.equal(reply.status, grpc.status.NOT_FOUND);
      assert.ok(reply.message.includes("mod%C3%A8le_100%25"), reply.message);
    } finally {
      session.close();
    }
    await assert.rejects(client.call("ModelInfer", { ...request, model_name: name }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.NOT_FOUND);
      assert.ok(err.details.includes(name), err.details);
      return true;
    });
  });

  test("grpc-timeout: a call still running at its deadline ends with DEADLINE_EXCEEDED", async () => {
    const session = rawSession(srv.grpcUrl);
    try {
      // The stall model holds a request for up to 1.5 s; a 30 ms deadline passes first (retried in the
      // rare case the request lands in the 31 ms of a period that do not stall that long).
      let reply;
      for (let attempt = 0; attempt < 3; attempt++) {
        reply = await rawCall(session, { headers: { "grpc-timeout": "30m" }, chunks: [grpcFrame(encodeInferRequest({ ...request, model_name: "stall_fp32" }))] });
        if (reply.status !== 0) break;
      }
      assert.equal(reply!.status, grpc.status.DEADLINE_EXCEEDED);
      assert.equal(reply!.message, "Deadline exceeded");
      const inTime = await rawCall(session, { headers: { "grpc-timeout": "10S" }, chunks: [requestFrame] });
      assert.equal(inTime.status, 0);
      assertIdentityAnswer(answerMessage(inTime));
    } finally {
      session.close();
    }
    // A grpc-js client's deadline reaches the server as grpc-timeout.
    let code: grpc.status = grpc.status.OK;
    for (let attempt = 0; attempt < 3 && code === grpc.status.OK; attempt++) {
      code = await new Promise<grpc.status>((resolve) =>
        client.raw.ModelInfer({ ...request, model_name: "stall_fp32" }, { deadline: Date.now() + 30 }, (err: grpc.ServiceError | null) => resolve(err ? err.code : grpc.status.OK)),
      );
    }
    assert.equal(code, grpc.status.DEADLINE_EXCEEDED);
  });
});

test("IAAS_GRPC_FAST_INFER=0 leaves ModelInfer to grpc-js", async () => {
  const repo = tempRepository({ identity_fp32: identityConfig("identity_fp32", "TYPE_FP32") });
  process.env.IAAS_GRPC_FAST_INFER = "0";
  let srv: RunningServer;
  try {
    srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0 });
  } finally {
    delete process.env.IAAS_GRPC_FAST_INFER;
  }
  const client = grpcClient(srv.grpcUrl);
  try {
    const { value, calls } = await taken(() => client.call("ModelInfer", request));
    assert.equal(calls, 0);
    assert.ok(Buffer.compare(value.raw_output_contents[0], data) === 0);
  } finally {
    client.close();
    await srv.close();
    repo.remove();
  }
});

describe("authentication on the fast path", () => {
  const repo = tempRepository({ identity_fp32: identityConfig("identity_fp32", "TYPE_FP32") });
  const seen: Record<string, string | undefined>[] = [];
  let bearer: RunningServer;
  let verify: RunningServer;
  before(async () => {
    bearer = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, auth: { bearerTokens: ["tok-1"] } });
    verify = await startServer({
      modelRepository: repo.dir,
      httpPort: 0,
      grpcPort: 0,
      auth: {
        verify: async (r) => {
          seen.push({ ...r.headers });
          await sleep(1);
          if (r.headers["x-user"] === "boom") throw new Error("user store offline");
          return r.protocol === "grpc" && r.operation === "/inference.GRPCInferenceService/ModelInfer" && r.headers["x-user"] === "alice";
        },
      },
    });
  });
  after(async () => {
    await Promise.all([bearer.close(), verify.close()]);
    repo.remove();
  });

  test("bearer tokens: none or a wrong one -> UNAUTHENTICATED; the right one is answered", async () => {
    const session = rawSession(bearer.grpcUrl);
    try {
      for (const headers of [{}, { authorization: "Bearer nope" }]) {
        const { value: reply, calls } = await taken(() => rawCall(session, { headers, chunks: [requestFrame] }));
        assert.equal(calls, 1);
        assert.equal(reply.status, grpc.status.UNAUTHENTICATED);
        assert.equal(reply.body.length, 0, "no answer message");
      }
      const ok = await rawCall(session, { headers: { authorization: "Bearer tok-1" }, chunks: [requestFrame] });
      assert.equal(ok.status, 0);
      assertIdentityAnswer(answerMessage(ok));
    } finally {
      session.close();
    }
  });

  test("an asynchronous verify: refusal, a throw (INTERNAL) and admission; it sees metadata as grpc-js showed it", async () => {
    const session = rawSession(verify.grpcUrl);
    try {
      const refused = await rawCall(session, { headers: { "x-user": "mallory" }, chunks: [requestFrame] });
      assert.equal(refused.status, grpc.status.UNAUTHENTICATED);
      const boom = await rawCall(session, { headers: { "x-user": "boom" }, chunks: [requestFrame] });
      assert.equal(boom.status, grpc.status.INTERNAL);
      assert.match(decodeURIComponent(boom.message), /authentication check failed: user store offline/);
      seen.length = 0;
      const ok = await rawCall(session, { headers: { "x-user": "alice", "grpc-timeout": "10S", "x-trace-bin": "AAEC" }, chunks: [requestFrame] });
      assert.equal(ok.status, 0, ok.message);
      assertIdentityAnswer(answerMessage(ok));
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!["x-user"], "alice");
      for (const hidden of [":path", "content-type", "te", "grpc-timeout", "x-trace-bin"]) assert.equal(seen[0]![hidden], undefined, hidden);
    } finally {
      session.close();
    }
  });
});

test("TLS: the fast path serves the same secure server", async () => {
  const pki = createTestPki();
  const repo = tempRepository({ identity_fp32: identityConfig("identity_fp32", "TYPE_FP32") });
  const srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, tls: { cert: pki.serverCert, key: pki.serverKey } });
  const session = rawSession(srv.grpcUrl, pki.ca);
  try {
    assert.match(srv.grpcUrl, /^grpcs:\/\//);
    const { value: reply, calls } = await taken(() => rawCall(session, { chunks: [requestFrame] }));
    assert.equal(calls, 1);
    assert.equal(reply.status, 0);
    assertIdentityAnswer(answerMessage(reply));
  } finally {
    session.close();
    await srv.close();
    repo.remove();
    pki.remove();
  }
});

describe("shutdown", () => {
  test("close() lets fast-path calls in flight finish with their answers", async () => {
    const repo = denseMlpRepository();
    const srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0 });
    const client = grpcClient(srv.grpcUrl);
    try {
      const arrivals = countArrivals(srv);
      const x = Buffer.alloc(64 * 256 * 4);
      const before = fastModelInferCalls();
      const inflight = Array.from({ length: 8 }, () =>
        client.call("ModelInfer", { model_name: "dense_mlp", inputs: [{ name: "INPUT0", datatype: "FP32", shape: ["64", "256"] }], raw_input_contents: [x] }),
      );
      while (arrivals.count < 8) await sleep(1);
      assert.equal(fastModelInferCalls() - before, 8);
      const closed = srv.close();
      const replies = await Promise.all(inflight);
      await closed;
      assert.equal(replies.length, 8);
      for (const r of replies) assert.equal(r.model_name, "dense_mlp");
    } finally {
      client.close();
      await srv.close();
      repo.remove();
    }
  });

  test("the gRPC front end's close() waits for an inference whose client went away (no stream holds its session)", async () => {
    const repo = tempRepository({ stall_fp32: stallConfig("stall_fp32", 1000) });
    const srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0 });
    // A front end of its own on the same core, so its close() is seen apart from the core's (which drains models).
    const frontend = await startGrpcFrontend(srv.server, { host: "127.0.0.1", port: 0 });
    let settledAt = 0;
    let running = 0;
    const infer = srv.server.infer.bind(srv.server);
    srv.server.infer = (...args) => {
      running++;
      return infer(...args).finally(() => {
        running--;
        settledAt = performance.now();
      });
    };
    const session = rawSession(`127.0.0.1:${frontend.port}`);
    try {
      const stream = session.request({ ":method": "POST", ":path": "/inference.GRPCInferenceService/ModelInfer", "content-type": "application/grpc", te: "trailers" });
      stream.on("error", () => {});
      stream.end(grpcFrame(encodeInferRequest({ ...request, model_name: "stall_fp32" })));
      while (running === 0) await sleep(1);
      stream.close(0x8); // RST_STREAM CANCEL
      await new Promise((resolve) => stream.on("close", resolve));
      session.close();
      await sleep(5);
      // The stall holds the inference for up to 1 s (not at all only in 1 ms of each 1001).
      if (running > 0) {
        await frontend.close(5000);
        const closedAt = performance.now();
        assert.equal(running, 0, "the inference settled before close() resolved");
        assert.ok(closedAt >= settledAt);
      }
    } finally {
      session.close();
      await frontend.close();
      await srv.close();
      repo.remove();
    }
  });
});
