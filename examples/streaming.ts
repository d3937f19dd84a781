// Streaming inference over gRPC: a decoupled model (repeat_int32 answers one request with several
// responses) on a bidirectional stream, then a sequence of the stateful simple_sequence model (a running
// sum per sequence) sent on the same stream.
//   node examples/streaming.ts [HOST:PORT]
// e.g. against `./iaas serve`: node examples/streaming.ts 127.0.0.1:8001
import { createClient, InferenceError, Tensor } from "@iaas/client";

const url = process.argv[2] ?? "127.0.0.1:8001";
const client = createClient({ url, protocol: "grpc", timeoutMs: 10_000 });

try {
  const stream = client.stream();

  // repeat_int32: one response per IN element, DELAY[i] ms apart, then the final (empty) response.
  const values = [4, 8, 15, 16, 23, 42];
  const id = stream.send("repeat_int32", [
    new Tensor("IN", "INT32", [values.length], Int32Array.from(values)),
    new Tensor("DELAY", "UINT32", [values.length], new Uint32Array(values.length).fill(20)),
    new Tensor("WAIT", "UINT32", [1], Uint32Array.of(0)),
  ]);
  for await (const result of stream.responses(id)) {
    const out = (result.output("OUT").data as Int32Array)[0];
    const idx = (result.output("IDX").data as Uint32Array)[0];
    console.log(`repeat_int32 response ${idx}: OUT = ${out}`);
  }

  // simple_sequence: START on the first request, END on the last; each answer is the sum so far.
  const sequence = client.sequence("simple_sequence", { id: "example-sequence", stream });
  const sums: number[] = [];
  const inputs = [11, 7, 5, 3, 2];
  for (const [i, v] of inputs.entries()) {
    const input = [new Tensor("INPUT", "INT32", [1, 1], Int32Array.of(v))];
    const result = i === inputs.length - 1 ? await sequence.end(input) : await sequence.infer(input);
    sums.push((result.output("OUTPUT").data as Int32Array)[0]!);
  }
  console.log(`simple_sequence running sums = [${sums.join(", ")}]`);

  stream.end();
  await stream.closed;
} catch (err) {
  const e = InferenceError.from(err);
  console.error(`streaming: ${e.code}: ${e.message}`);
  process.exitCode = 1;
} finally {
  await client.close();
}
