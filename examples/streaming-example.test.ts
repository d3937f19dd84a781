// examples/streaming.ts runs against the reference server, as a user would run it.
import { runExample } from "./run-example.ts";
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "@iaas/server-native";


test("streaming.ts prints repeat_int32's responses in order and simple_sequence's running sums", async () => {
  const server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0 });
  try {
    const r = await runExample("./streaming.ts", [server.grpcUrl]);
    assert.equal(r.code, 0, r.out);
    const responses = [...r.out.matchAll(/repeat_int32 response (\d+): OUT = (-?\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    assert.deepEqual(responses, [[0, 4], [1, 8], [2, 15], [3, 16], [4, 23], [5, 42]]);
    assert.match(r.out, /simple_sequence running sums = \[11, 18, 23, 26, 28\]/);
  } finally {
    await server.close();
  }
  const down = await runExample("./streaming.ts", ["127.0.0.1:1"]);
  assert.equal(down.code, 1);
  assert.match(down.out, /streaming: unavailable/);
});
