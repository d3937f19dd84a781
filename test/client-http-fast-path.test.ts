// @iaas/client's own HTTP/1.1 path (transport/http/fast): keep-alive reuse against the reference server
// (connections counted by a recording proxy), and against scripted node:net peers the server behaviours
// a client must survive: chunked answers, 1xx heads, Connection: close, idle connections closed by the
// server, a connection dropped before any answer (GET retried, POST reported as lost), aborts mid-answer,
// body timeouts and 100+ MB bodies both ways.
import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { InferenceError, Tensor } from "@iaas/client";
import { connectionFailure } from "../packages/client/src/transport/connection-failure.ts";
import { startHttpRecordingProxy } from "./recording-proxy.ts";
import { referenceServerForFile, withClient } from "./client-fixtures.ts";

interface PeerRequest {
  head: string;
  body: Buffer;
}

/**
 * A scripted HTTP/1.1 peer: reads each request (Content-Length bodies) and calls `answer` with the socket,
 * the request and its index on that connection. Counts connections and requests.
 */
async function scriptedPeer(answer: (socket: net.Socket, req: PeerRequest, index: number) => void) {
  const sockets = new Set<net.Socket>();
  const state = { connections: 0, requests: 0, closedByClient: 0, url: "", close: async () => {} };
  const server = net.createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    let buf: Buffer = Buffer.alloc(0);
    // Body bytes are gathered as a list and joined once complete (large bodies arrive in many chunks).
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let index = 0;
    let need = -1;
    let head = "";
    socket.on("data", (chunk: Buffer) => {
      if (need > 0 && pendingBytes + chunk.byteLength < need) {
        pending.push(chunk);
        pendingBytes += chunk.byteLength;
        return;
      }
      if (pending.length > 0) {
        buf = Buffer.concat([...pending, chunk]);
        pending = [];
        pendingBytes = 0;
      } else buf = buf.byteLength === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        if (need < 0) {
          const end = buf.indexOf("\r\n\r\n");
          if (end < 0) return;
          head = buf.toString("latin1", 0, end);
          need = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          buf = buf.subarray(end + 4);
        }
        if (buf.byteLength < need) {
          pending = [buf];
          pendingBytes = buf.byteLength;
          buf = Buffer.alloc(0);
          return;
        }
        const body = buf.subarray(0, need);
        buf = buf.subarray(need);
        need = -1;
        state.requests++;
        answer(socket, { head, body }, index++);
      }
    });
    socket.on("error", () => {});
    socket.on("end", () => state.closedByClient++);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return state;
}

const metadata = JSON.stringify({ name: "scripted", version: "1", extensions: [] });
const okHead = (length: number, extra = ""): string => `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n${extra}\r\n`;

const ctx = referenceServerForFile();

const small = () => [new Tensor("INPUT0", "FP32", [3], Float32Array.of(1, 2, 3))];

describe("against the reference server", () => {
  test("keep-alive: sequential calls share one connection, concurrent ones stay within `connections`", async () => {
    const proxy = await startHttpRecordingProxy(ctx.srv.httpUrl);
    try {
      await withClient({ url: proxy.url, connections: 3 }, async (c) => {
        for (let i = 0; i < 10; i++) assert.deepEqual(Array.from((await c.infer("identity_fp32", small())).output("OUTPUT0").data as Float32Array), [1, 2, 3]);
        assert.equal(proxy.connections, 1, "ten calls in a row, one connection");
        const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => c.infer("identity_fp32", [new Tensor("INPUT0", "FP32", [1], Float32Array.of(i))])));
        answers.forEach((a, i) => assert.equal((a.output("OUTPUT0").data as Float32Array)[0], i));
        assert.ok(proxy.connections <= 3, `${proxy.connections} connections for connections: 3`);
        assert.equal(proxy.exchanges.length, 40);
      });
    } finally {
      await proxy.close();
    }
  });

  test("abort while queued behind busy connections rejects at once and leaves the pool usable", async () => {
    await withClient({ url: ctx.srv.httpUrl, connections: 1 }, async (c) => {
      const ac = new AbortController();
      const calls = Array.from({ length: 8 }, (_, i) => c.infer("identity_fp32", small(), i === 5 ? { signal: ac.signal } : {}));
      ac.abort();
      const settled = await Promise.allSettled(calls);
      assert.equal(settled[5]!.status, "rejected");
      assert.equal(((settled[5] as PromiseRejectedResult).reason as InferenceError).code, "cancelled");
      assert.equal(settled.filter((s) => s.status === "fulfilled").length, 7);
      assert.equal(await c.isServerLive(), true);
    });
  });
});

describe("against scripted peers", () => {
  test("chunked answers, 1xx heads before the answer, and Connection: close answers", async () => {
    const peer = await scriptedPeer((socket, req, index) => {
      if (req.head.startsWith("GET /v2/health/live")) {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
        socket.end();
        return;
      }
      const half = metadata.length >> 1;
      socket.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n");
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nX-Index: ${index}\r\n\r\n`);
      socket.write(`${half.toString(16)}\r\n${metadata.slice(0, half)}\r\n`);
      setTimeout(() => socket.write(`${(metadata.length - half).toString(16)};ext=1\r\n${metadata.slice(half)}\r\n0\r\nX-Trailer: t\r\n\r\n`), 5);
    });
    try {
      await withClient({ url: peer.url }, async (c) => {
        for (let i = 0; i < 3; i++) assert.equal((await c.serverMetadata()).name, "scripted");
        assert.equal(peer.connections, 1, "chunked answers keep the connection");
        for (let i = 0; i < 3; i++) assert.equal(await c.isServerLive(), true);
        // Connection: close: that connection is not reused; the next call opens a new one.
        assert.equal((await c.serverMetadata()).name, "scripted");
        assert.equal(peer.connections, 4);
      });
    } finally {
      await peer.close();
    }
  });

  test("an idle connection the server closed is not reused", async () => {
    const peer = await scriptedPeer((socket) => {
      socket.write(okHead(metadata.length) + metadata);
      setTimeout(() => socket.end(), 30); // the server's idle timeout, with no Keep-Alive hint
    });
    try {
      await withClient({ url: peer.url }, async (c) => {
        assert.equal((await c.serverMetadata()).name, "scripted");
        await sleep(150);
        assert.equal((await c.serverMetadata()).name, "scripted");
        assert.equal(peer.connections, 2);
      });
    } finally {
      await peer.close();
    }
  });

  test("a reused connection dropped before any answer: GET is sent again, POST fails as lost", async () => {
    // Answers the first request of each connection; drops the connection on the second without a byte.
    const peer = await scriptedPeer((socket, _req, index) => {
      if (index === 0) socket.write(okHead(metadata.length) + metadata);
      else socket.destroy();
    });
    try {
      await withClient({ url: peer.url }, async (c) => {
        assert.equal((await c.serverMetadata()).name, "scripted");
        assert.equal((await c.serverMetadata()).name, "scripted", "the GET went out again on a fresh connection");
        assert.equal(peer.connections, 2);
        await assert.rejects(
          c.infer("identity_fp32", small()),
          (e: InferenceError) => e.code === "unavailable" && connectionFailure(e) === "lost" && /closed/.test(e.message),
        );
      });
    } finally {
      await peer.close();
    }
  });

  test("abort mid-answer rejects as cancelled and drops that connection; body timeout bounds a stalled body", async () => {
    const peer = await scriptedPeer((socket, req) => {
      if (req.head.includes("/v2/health/live")) {
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      // Head and half the body, then nothing.
      socket.write(okHead(metadata.length) + metadata.slice(0, 10));
    });
    try {
      await withClient({ url: peer.url, http: { bodyTimeoutMs: 300 } }, async (c) => {
        const ac = new AbortController();
        const call = c.serverMetadata({ signal: ac.signal });
        await sleep(50);
        ac.abort();
        await assert.rejects(call, (e: InferenceError) => e.code === "cancelled");
        await sleep(50);
        assert.equal(peer.closedByClient, 1, "the connection with the abandoned answer was closed");
        assert.equal(await c.isServerLive(), true);
        assert.equal(peer.connections, 2);
        await assert.rejects(c.serverMetadata(), (e: InferenceError) => e.code === "deadline_exceeded" && /bodyTimeoutMs/.test(e.message));
        // The per-call deadline is independent of the body timeout.
        await assert.rejects(c.serverMetadata({ timeoutMs: 60 }), (e: InferenceError) => e.code === "deadline_exceeded" && /60 ms/.test(e.message));
      });
    } finally {
      await peer.close();
    }
  });

  test("a 100+ MB request body goes out whole and a 100+ MB answer comes back whole", async () => {
    const MB = 1024 * 1024;
    const elements = (104 * MB) / 4;
    let received = 0;
    const peer = await scriptedPeer((socket, req) => {
      received = req.body.byteLength;
      const header = JSON.stringify({
        model_name: "big",
        outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [elements], parameters: { binary_data_size: elements * 4 } }],
      });
      const out = new Float32Array(elements);
      for (let i = 0; i < elements; i += 4096) out[i] = i;
      socket.write(
        `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nInference-Header-Content-Length: ${header.length}\r\nContent-Length: ${header.length + out.byteLength}\r\n\r\n`,
      );
      socket.write(header);
      socket.write(Buffer.from(out.buffer));
    });
    try {
      await withClient({ url: peer.url }, async (c) => {
        const input = new Float32Array(elements).fill(0.5);
        const r = await c.infer("big", [new Tensor("INPUT0", "FP32", [elements], input)], { binaryInputs: true, binaryOutputs: true });
        assert.ok(received > 104 * MB, `peer received ${received} bytes`);
        const data = r.output("OUTPUT0").data as Float32Array;
        assert.equal(data.length, elements);
        for (let i = 0; i < elements; i += 4096) assert.equal(data[i], i);
        assert.equal(data[elements - 1], 0);
      });
    } finally {
      await peer.close();
    }
  });

  test("unreachable server: every waiting call fails as not sent, none hangs", async () => {
    const peer = await scriptedPeer(() => {});
    const url = peer.url;
    await peer.close();
    await withClient({ url, connections: 4 }, async (c) => {
      const settled = await Promise.allSettled(Array.from({ length: 12 }, () => c.infer("identity_fp32", small())));
      for (const s of settled) {
        assert.equal(s.status, "rejected");
        assert.equal(connectionFailure((s as PromiseRejectedResult).reason as InferenceError), "not_sent");
      }
    });
  });
});
