// athena-event-loop.ts runs as a user would: in-process server, and against a server given by URL.
import { runExample as runScript } from "./run-example.ts";
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "@iaas/server-native";


function eventIndices(out: string): number[] {
  return [...out.matchAll(/^event (\d+): (\d+) hits, (\d+) values back/gm)].map((m) => {
    assert.equal(Number(m[3]), Number(m[2]) * 3, `event ${m[1]} returns 3 values a hit`);
    return Number(m[1]);
  });
}

test("athena-event-loop.ts starts its own server and prints every event in order", async () => {
  const r = await runExample(["--events", "40", "--in-flight", "6"]);
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(eventIndices(r.out), Array.from({ length: 40 }, (_, i) => i));
  assert.match(r.out, /40 events in [\d.]+ s: [\d.]+ events\/s, \d+ hits\/s; 0 failed/);
  assert.match(r.out, /all events returned in order, outputs match inputs/);
});

test("athena-event-loop.ts against a running server over HTTP and gRPC; an unreachable URL fails cleanly", async () => {
  const server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0 });
  try {
    for (const [url, protocol] of [[server.httpUrl, "http"], [server.grpcUrl, "grpc"]] as const) {
      const r = await runExample([url, "--protocol", protocol, "--events", "30", "--in-flight", "16"]);
      assert.equal(r.code, 0, r.out);
      assert.deepEqual(eventIndices(r.out), Array.from({ length: 30 }, (_, i) => i), protocol);
      assert.match(r.out, /outputs match inputs/, protocol);
    }
  } finally {
    await server.close();
  }
  const down = await runExample(["http://127.0.0.1:1", "--events", "3"]);
  assert.equal(down.code, 1, down.out);
  assert.match(down.out, /event 0: \d+ hits, failed: /);
  assert.match(down.out, /athena-event-loop: unknown: 3 of 3 events failed/);
});

function runExample(args: string[]) {
  return runScript("./athena-event-loop.ts", args);
}
