// examples/shared-memory.ts against the reference server with system shared memory enabled, as a user runs it.
import { runExample as runScript } from "./run-example.ts";
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { startServer } from "@iaas/server-native";


test("shared-memory.ts runs simple with its tensors in shared memory over HTTP and gRPC, and cleans up", async () => {
  const server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0, sharedMemory: "system" });
  try {
    for (const [url, protocol] of [[server.httpUrl, "http"], [server.grpcUrl, "grpc"]] as const) {
      const r = await runExample([url, protocol]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /OUTPUT0 \(region example_out @0\) = \[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16\]/, protocol);
      assert.match(r.out, /OUTPUT1 \(region example_out @64\) = \[-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14\]/, protocol);
    }
    assert.deepEqual(server.server.systemSharedMemory!.status(), [], "the example unregistered its regions");
  } finally {
    await server.close();
  }
  assert.deepEqual(readdirSync("/dev/shm").filter((f) => f.startsWith("iaas_example_")), [], "the example unlinked its objects");
});

test("shared-memory.ts explains a server without the extension", async () => {
  const server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0 });
  try {
    const r = await runExample([server.httpUrl, "http"]);
    assert.equal(r.code, 1);
    assert.match(r.out, /shared-memory: unimplemented: the server at .* does not offer system shared memory \(start it with --allow-shared-memory\)/);
  } finally {
    await server.close();
  }
});

function runExample(args: string[]) {
  return runScript("./shared-memory.ts", args);
}
