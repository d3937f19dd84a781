// gRPC inference streams behind one client with several real reference servers: each stream lands on the
// endpoint the policy picks and stays there (read back from each server's own statistics), an open stream
// counts as an outstanding call for least-outstanding, a refused endpoint is ejected and the stream goes on
// on another one with what was already sent, and a server killed mid-run is skipped by new streams until
// the probes bring it back.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import type { RunningServer } from "@iaas/server-native";
import { createClient, type InferStream, type InferenceClient, type StreamResponse } from "@iaas/client";
import { MODEL, freePort, inferenceCount, input, makeRepository, serve, urlOf, waitFor } from "./resilience-helpers.ts";

const repo = makeRepository();
after(() => repo.remove());

async function drain(stream: InferStream): Promise<StreamResponse[]> {
  const items: StreamResponse[] = [];
  for await (const item of stream) items.push(item);
  return items;
}

/** Opens a stream, sends `n` requests (values 1..n), ends it and checks every answer. */
async function streamOf(client: InferenceClient, n: number): Promise<void> {
  const stream = client.stream();
  for (let i = 1; i <= n; i++) stream.send(MODEL, [input(i)], { id: `r${i}` });
  stream.end();
  const items = await drain(stream);
  assert.deepEqual(
    items.map((item) => (item.type === "result" ? [item.requestId, (item.result.output("OUTPUT0").data as Float32Array)[0]] : item.error.message)),
    Array.from({ length: n }, (_, k) => [`r${k + 1}`, k + 1]),
  );
}

const grpcUrl = (s: RunningServer): string => urlOf("grpc", s.grpcPort);

test("round-robin: streams alternate between the servers; each stream's requests stay on its server", async () => {
  const [a, b] = await Promise.all([serve(repo.dir, "grpc"), serve(repo.dir, "grpc")]);
  const client = createClient({ url: [grpcUrl(a!), grpcUrl(b!)], balance: "round-robin" });
  try {
    // Streams of 1, 2, 3, 4, 5, 6 requests: a gets the odd-sized ones, b the even-sized ones.
    for (let n = 1; n <= 6; n++) await streamOf(client, n);
    assert.equal(await inferenceCount(a!), 1n + 3n + 5n);
    assert.equal(await inferenceCount(b!), 2n + 4n + 6n);
    assert.deepEqual(
      client.endpoints().map((s) => [s.state, s.requests, s.outstanding]),
      [
        ["healthy", 3, 0],
        ["healthy", 3, 0],
      ],
    );
  } finally {
    await client.close();
    await Promise.all([a!.close(), b!.close()]);
  }
});

test("least-outstanding: an open stream counts as outstanding until it closes; new streams and calls go to the idle server", async () => {
  const [a, b] = await Promise.all([serve(repo.dir, "grpc"), serve(repo.dir, "grpc")]);
  const client = createClient({ url: [grpcUrl(a!), grpcUrl(b!)], balance: "least-outstanding" });
  const long = client.stream();
  try {
    const pinned = client.sequence(MODEL, { stream: long });
    assert.equal((await pinned.infer([input(1)])).output("OUTPUT0").data[0], 1);
    assert.deepEqual(client.endpoints().map((s) => s.outstanding), [1, 0]);

    // Round-robin would alternate; least-outstanding keeps everything off the server holding the stream.
    for (let n = 1; n <= 4; n++) await streamOf(client, 1);
    for (let i = 0; i < 3; i++) await client.infer(MODEL, [input(i)]);
    assert.deepEqual(client.endpoints().map((s) => s.outstanding), [1, 0]);

    // The long stream's later requests stay on its server.
    assert.equal((await pinned.infer([input(2)])).output("OUTPUT0").data[0], 2);
    assert.equal((await pinned.end([input(3)])).output("OUTPUT0").data[0], 3);
    long.end();
    await long.closed;
    assert.deepEqual(client.endpoints().map((s) => s.outstanding), [0, 0]);
    assert.equal(await inferenceCount(a!), 3n);
    assert.equal(await inferenceCount(b!), 4n + 3n);
  } finally {
    // Left open by a failed assertion, the stream would keep the servers from closing.
    long.cancel();
    await client.close();
    await Promise.all([a!.close(), b!.close()]);
  }
});

test("a refused endpoint: the stream moves on with the requests already sent, the endpoint is ejected and skipped", async () => {
  const b = await serve(repo.dir, "grpc");
  const dead = await freePort();
  // No probes: the ejection must come from the stream's own connection failure.
  const client = createClient({ url: [urlOf("grpc", dead), grpcUrl(b)], balance: "round-robin", healthCheck: false, retry: false });
  try {
    // Requests are sent before the refusal is known: they go out again on the live server.
    for (let i = 0; i < 4; i++) await streamOf(client, 2);
    assert.equal(await inferenceCount(b), 8n);
    const [down, up] = client.endpoints();
    assert.equal(down?.state, "ejected");
    assert.equal(down?.ejections, 1);
    assert.equal(down?.requests, 1, "tried once, then skipped");
    assert.match(down?.lastError ?? "", /connection failed: .*ECONNREFUSED/);
    assert.equal(up?.requests, 4);
    assert.equal(up?.outstanding, 0);
  } finally {
    await client.close();
    await b.close();
  }
});

test("a single refused endpoint: the stream fails with 'unavailable' (nowhere to move on to)", async () => {
  const client = createClient({ url: urlOf("grpc", await freePort()), retry: false });
  try {
    const stream = client.stream();
    stream.send(MODEL, [input()]);
    stream.end();
    await assert.rejects(drain(stream), { code: "unavailable" });
    assert.equal(client.endpoints()[0]?.outstanding, 0);
  } finally {
    await client.close();
  }
});

test("a server killed mid-run: new streams go to the survivor without failing, and spread again once it is back", async () => {
  let a = await serve(repo.dir, "grpc");
  const b = await serve(repo.dir, "grpc");
  const portA = a.grpcPort;
  const client = createClient({ url: [grpcUrl(a), grpcUrl(b)], balance: "round-robin", retry: false, healthCheck: { intervalMs: 100, timeoutMs: 500 } });
  try {
    for (let i = 0; i < 4; i++) await streamOf(client, 1);
    assert.equal(await inferenceCount(a), 2n);
    await a.close();

    // Whether a probe or a refused stream notices first, no stream fails and the survivor takes them all.
    const bBefore = await inferenceCount(b);
    for (let i = 0; i < 6; i++) await streamOf(client, 1);
    assert.equal((await inferenceCount(b)) - bBefore, 6n);
    await waitFor("the killed server to be ejected", () => client.endpoints()[0]?.state === "ejected");
    assert.match(client.endpoints()[0]?.lastError ?? "", /ECONNREFUSED|connection failed|not ready|No connection/);
    const triedA = client.endpoints()[0]!.requests;
    for (let i = 0; i < 4; i++) await streamOf(client, 1);
    assert.equal(client.endpoints()[0]!.requests, triedA, "ejected: no new stream tries it");

    a = await serve(repo.dir, "grpc", portA);
    await waitFor("the restarted server to be healthy again", () => client.endpoints()[0]?.state === "healthy");
    for (let i = 0; i < 4; i++) await streamOf(client, 1);
    assert.equal(await inferenceCount(a), 2n);
  } finally {
    await client.close();
    await Promise.all([a.close(), b.close()]);
  }
});
