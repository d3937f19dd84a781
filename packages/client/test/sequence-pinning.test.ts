// Requests of one sequence (sequence_id) behind a balancing client: all reach the same endpoint, are not
// failed over to another one, and retryInfer does not replay them once sent. Recording HTTP peers show
// which endpoint each request reached.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { createClient, InferenceError, Tensor } from "../src/index.ts";

interface Peer {
  url: string;
  /** sequence_id of each infer received ("" when none). */
  seen: string[];
  close(): Promise<void>;
}

async function peer(): Promise<Peer> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { parameters?: { sequence_id?: unknown } };
      seen.push(String(body.parameters?.sequence_id ?? ""));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ model_name: "m", id: "", outputs: [] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function closedPort(): Promise<string> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

const input = new Tensor("INPUT0", "FP32", [1], new Float32Array([1]));
// JSON bodies, so that the peers can read the parameters.
const json = { binaryInputs: false, binaryOutputs: false };

let a: Peer;
let b: Peer;
before(async () => {
  [a, b] = await Promise.all([peer(), peer()]);
});
after(async () => {
  await a.close();
  await b.close();
});

test("each sequence stays on one endpoint; requests without a sequence take turns", async () => {
  a.seen.length = 0;
  b.seen.length = 0;
  const client = createClient({ url: [a.url, b.url], balance: "round-robin", ...json });
  try {
    for (let step = 0; step < 4; step++)
      for (const id of [11, 12, 13, 14, 15, 16]) await client.infer("m", [input], { sequenceId: id, sequenceStart: step === 0 });
    for (let i = 0; i < 4; i++) await client.infer("m", [input]);
    for (const id of ["11", "12", "13", "14", "15", "16"]) {
      const onA = a.seen.filter((s) => s === id).length;
      const onB = b.seen.filter((s) => s === id).length;
      assert.ok((onA === 4 && onB === 0) || (onA === 0 && onB === 4), `sequence ${id}: ${onA} on a, ${onB} on b`);
    }
    // Six ids spread over two endpoints: both get some (FNV-1a of "n:11".."n:16").
    assert.ok(a.seen.some((s) => s !== "") && b.seen.some((s) => s !== ""), `a: ${a.seen.join(",")} b: ${b.seen.join(",")}`);
    assert.equal(a.seen.filter((s) => s === "").length, 2);
    assert.equal(b.seen.filter((s) => s === "").length, 2);
  } finally {
    await client.close();
  }
});

test("a sequence whose endpoint is down fails instead of moving, even with retryInfer", async () => {
  a.seen.length = 0;
  b.seen.length = 0;
  // Find an id that maps to the first of two endpoints.
  const probe = createClient({ url: [a.url, b.url], ...json });
  let id = 0;
  try {
    for (let candidate = 100; candidate < 200 && id === 0; candidate++) {
      const before = a.seen.length;
      await probe.infer("m", [input], { sequenceId: candidate });
      if (a.seen.length > before) id = candidate;
    }
  } finally {
    await probe.close();
  }
  assert.ok(id > 0);
  b.seen.length = 0;
  const client = createClient({ url: [await closedPort(), b.url], ...json, retry: { attempts: 3, initialDelayMs: 1, retryInfer: true } });
  try {
    const e = await client.infer("m", [input], { sequenceId: id }).then(
      () => assert.fail("the sequence's endpoint is down: the request must fail"),
      (err: unknown) => err,
    );
    assert.ok(e instanceof InferenceError && e.code === "unavailable", String(e));
    // Not sent anywhere, so retried on the same endpoint: 3 attempts, none reached b.
    assert.equal(e.attempts, 3);
    assert.deepEqual(b.seen, []);
    // Without a sequence the same client fails over to b.
    await client.infer("m", [input]);
    assert.deepEqual(b.seen, [""]);
  } finally {
    await client.close();
  }
});
