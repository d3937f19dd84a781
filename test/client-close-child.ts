// Child process of client-close.test.ts: opens a gRPC stream to the server at argv[2], sends a request
// to repeat_int32 whose second response is minutes away, reads the first, then calls client.close()
// with the next read pending. Prints what the pending read rejected with as one JSON line and returns
// without process.exit(): the process ends only if close() left no handle open.
import { InferenceError, Tensor, createClient } from "@iaas/client";

const url = process.argv[2];
if (!url) throw new Error("usage: client-close-child.ts <grpc host:port>");
const client = createClient({ url: `grpc://${url}`, retry: false });
const stream = client.stream();
stream.send("repeat_int32", [
  new Tensor("IN", "INT32", [2], Int32Array.of(1, 2)),
  new Tensor("DELAY", "UINT32", [2], Uint32Array.of(1, 600_000)),
  new Tensor("WAIT", "UINT32", [1], Uint32Array.of(0)),
]);
const reads = stream[Symbol.asyncIterator]();
const first = await reads.next();
const pending = reads.next();
await client.close();
const outcome = await pending.then(
  () => ({ rejected: false }),
  (e: unknown) => ({ rejected: true, code: e instanceof InferenceError ? e.code : String(e), message: (e as Error).message }),
);
console.log(JSON.stringify({ first: first.done ? "done" : first.value.type, ...outcome }));
