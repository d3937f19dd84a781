// Every example runs against the reference server, as a user would run it.
import { runExample } from "./run-example.ts";
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "@iaas/server-native";


test("simple-infer.ts prints simple's sum and difference over HTTP and gRPC", async () => {
  const server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0 });
  try {
    for (const [url, protocol] of [[server.httpUrl, "http"], [server.grpcUrl, "grpc"]] as const) {
      const r = await runExample("./simple-infer.ts", [url, protocol]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /OUTPUT0 = \[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16\]/, protocol);
      assert.match(r.out, /OUTPUT1 = \[-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14\]/, protocol);
    }
    const down = await runExample("./simple-infer.ts", ["http://127.0.0.1:1", "http"]);
    assert.equal(down.code, 1);
    assert.match(down.out, /simple-infer: unavailable/);
  } finally {
    await server.close();
  }
});
