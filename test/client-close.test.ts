// client.close() against the reference server: open gRPC streams are cancelled (pending reads of the
// stream, of responses() and of inferDecoupled reject with "cancelled", "the client was closed"; the
// server counts the cancellation; the endpoint's outstanding count drops; later sends throw), a process
// whose client had a stream open exits after close(), and unary calls in flight on every transport
// (HTTP, gRPC over iaas-h2, node:http2 and grpc-js) still get their answers.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startServer, type RunningServer } from "@iaas/server-native";
import { InferenceError, Tensor, createClient, type ClientOptions, type StreamResponse } from "@iaas/client";
import { expectCode } from "./client-fixtures.ts";

const CLIENT_CLOSED = /the stream was cancelled because the client was closed/;
const CHILD = fileURLToPath(new URL("./client-close-child.ts", import.meta.url));

/** repeat_int32 answering `values` with a 1 ms delay before the first and a minute before each later one. */
function stalledRepeat(values: number[]): Tensor[] {
  return [
    new Tensor("IN", "INT32", [values.length], Int32Array.from(values)),
    new Tensor("DELAY", "UINT32", [values.length], Uint32Array.from(values, (_, i) => (i === 0 ? 1 : 60_000))),
    new Tensor("WAIT", "UINT32", [1], Uint32Array.of(0)),
  ];
}

const simpleInputs = (): Tensor[] => [
  new Tensor("INPUT0", "INT32", [1, 16], Int32Array.from({ length: 16 }, (_, i) => i)),
  new Tensor("INPUT1", "INT32", [1, 16], new Int32Array(16).fill(1)),
];

describe("client.close()", () => {
  let server: RunningServer;

  before(async () => {
    server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0 });
  });
  after(() => server.close());

  /** repeat_int32's count of responses cancelled while response 1 (the stalled one) was being made. */
  const cancels = (): number => Number(server.server.statistics("repeat_int32")[0]!.response_stats["1"]?.cancel.count ?? 0n);
  const secondResponses = (): number => Number(server.server.statistics("repeat_int32")[0]!.response_stats["1"]?.success.count ?? 0n);

  /** Waits (polling, up to 5 s) until the server counted `expected` cancellations. */
  async function serverCancels(expected: number): Promise<number> {
    for (let waited = 0; cancels() < expected && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    return cancels();
  }

  const grpcClient = (options: Partial<ClientOptions> = {}) => createClient({ url: `grpc://${server.grpcUrl}`, retry: false, ...options });

  test("cancels an open stream: the pending read and closed reject, the server sees CANCELLED, sends throw", async () => {
    const before = cancels();
    const seconds = secondResponses();
    const client = grpcClient();
    const stream = client.stream();
    stream.send("repeat_int32", stalledRepeat([1, 2, 3]));
    const reads = stream[Symbol.asyncIterator]();
    const first = await reads.next();
    assert.equal(first.done, false);
    assert.equal((first.value as StreamResponse).type, "result");
    const pending = reads.next();
    assert.equal(client.endpoints()[0]!.outstanding, 1, "the open stream counts as outstanding");

    await client.close();
    const error = await expectCode(pending, "cancelled", CLIENT_CLOSED);
    assert.equal(await stream.closed.then(() => undefined, (e: unknown) => e), error, "closed rejects with the same error");
    assert.equal(client.endpoints()[0]!.outstanding, 0, "the stream is no longer open");
    assert.throws(
      () => stream.send("repeat_int32", stalledRepeat([4])),
      (e: unknown) => e instanceof InferenceError && e.code === "cancelled" && /stream\.send: cannot send to model 'repeat_int32'/.test(e.message) && CLIENT_CLOSED.test(e.message),
    );
    assert.throws(() => client.stream(), (e: unknown) => e instanceof InferenceError && e.code === "failed_precondition" && /client is closed/.test(e.message));
    assert.equal(await serverCancels(before + 1), before + 1, "the server cancelled the request on the stream");
    assert.equal(secondResponses() - seconds, 0, "no response after the cancellation");
  });

  test("ends responses(), inferDecoupled and idle streams alike; a stream the caller cancelled keeps its own error", async () => {
    const before = cancels();
    const client = grpcClient();

    const decoupled = client.inferDecoupled("repeat_int32", stalledRepeat([5, 6]))[Symbol.asyncIterator]();
    assert.equal((await decoupled.next()).done, false);
    const decoupledPending = decoupled.next();

    const stream = client.stream();
    const id = stream.send("repeat_int32", stalledRepeat([7, 8]));
    const own = stream.responses(id)[Symbol.asyncIterator]();
    assert.equal((await own.next()).done, false);
    const ownPending = own.next();

    const idle = client.stream();
    const cancelled = client.stream();
    cancelled.cancel();
    assert.equal(client.endpoints()[0]!.outstanding, 4);

    // Both calls share one shutdown.
    await Promise.all([client.close(), client.close()]);
    await expectCode(decoupledPending, "cancelled", CLIENT_CLOSED);
    await expectCode(ownPending, "cancelled", CLIENT_CLOSED);
    await expectCode(stream.closed, "cancelled", CLIENT_CLOSED);
    await expectCode(idle.closed, "cancelled", CLIENT_CLOSED);
    const own_ = await expectCode(cancelled.closed, "cancelled");
    assert.doesNotMatch(own_.message, /client was closed/);
    assert.equal(client.endpoints()[0]!.outstanding, 0);
    assert.equal(await serverCancels(before + 2), before + 2, "both stalled requests were cancelled on the server");
  });

  test("a process whose client had a read pending on a stream exits after close()", async () => {
    const before = cancels();
    const child = spawn(process.execPath, [CHILD, server.grpcUrl], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    // Generous: the child only has to start Node and make two round trips; a handle left open keeps it forever.
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on("exit", (c, s) => resolve([c, s])));
    clearTimeout(timer);
    assert.equal(signal, null, `the child did not exit by itself (killed); stderr: ${stderr}`);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout.trim()) as { first: string; rejected: boolean; code?: string; message?: string };
    assert.equal(report.first, "result");
    assert.equal(report.rejected, true);
    assert.equal(report.code, "cancelled");
    assert.match(report.message!, CLIENT_CLOSED);
    assert.equal(await serverCancels(before + 1), before + 1, "the server saw the child's stream cancelled");
  });

  const transports: [string, () => ClientOptions][] = [
    ["HTTP", () => ({ url: server.httpUrl })],
    ["gRPC (iaas-h2)", () => ({ url: `grpc://${server.grpcUrl}` })],
    ["gRPC (node:http2)", () => ({ url: `grpc://${server.grpcUrl}`, grpc: { implementation: "http2" } })],
    ["gRPC (grpc-js)", () => ({ url: `grpc://${server.grpcUrl}`, grpc: { implementation: "grpc-js" } })],
  ];
  for (const [name, options] of transports) {
    test(`${name}: unary calls made before close() get their answers, close() resolves after them; later calls reject`, async () => {
      const client = createClient({ retry: false, ...options() });
      const order: string[] = [];
      // Made in the same turn as close(): not started on the connection yet (and the first call opens it).
      const inflight = client.infer("simple", simpleInputs()).finally(() => order.push("infer"));
      const metadata = client.modelMetadata("simple").finally(() => order.push("metadata"));
      await client.close().then(() => order.push("close"));
      const result = await inflight;
      assert.deepEqual(Array.from(result.output("OUTPUT0").data as Int32Array), Array.from({ length: 16 }, (_, i) => i + 1));
      assert.equal((await metadata).name, "simple");
      assert.equal(order.at(-1), "close", `close() resolved after the calls settled: ${order.join(", ")}`);
      await expectCode(client.infer("simple", simpleInputs()), "failed_precondition", /infer: the client is closed/);
    });
  }
});
