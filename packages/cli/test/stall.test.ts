// The open loop against a model that stalls 100 ms every 500 ms (the server's "stall" backend, in a temporary
// model repository). With --max-outstanding 1 the client holds the requests due during a stall: latency from
// their scheduled send time shows the stall, latency from the actual send hides it (coordinated omission).
// Without the cap the requests wait in the server's queue instead, and both latencies show it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer } from "@iaas/server-native";
import { iaas, tempDir } from "./support/cli-process.ts";

type Server = Awaited<ReturnType<typeof startServer>>;
let server: Server;
let dir: string;
const STALL_MS = 100;

before(async () => {
  dir = tempDir("iaas-stall-");
  const repo = join(dir, "models");
  mkdirSync(join(repo, "stall_fp32", "1"), { recursive: true });
  writeFileSync(
    join(repo, "stall_fp32", "config.pbtxt"),
    `name: "stall_fp32"
backend: "stall"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
instance_group [ { kind: KIND_CPU count: 1 } ]
parameters { key: "stall_ms" value: { string_value: "${STALL_MS}" } }
parameters { key: "period_ms" value: { string_value: "500" } }
`,
  );
  server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0, modelRepository: repo });
});
after(() => server.close());

async function run(maxOutstanding: number) {
  const out = join(dir, `r${maxOutstanding}.json`);
  const r = await iaas([
    "bench", "-u", server.httpUrl, "-m", "stall_fp32", "--shape", "INPUT0:4", "--request-rate", "400",
    "--max-outstanding", String(maxOutstanding), "--warmup-ms", "200", "-p", "1000", "--stability-windows", "2", "--max-trials", "2",
    "--json", out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(readFileSync(out, "utf8")).levels[0];
}

test("cap 1: p99 from the scheduled time shows the stall, p99 from the send does not", async () => {
  const level = await run(1);
  const scheduled = level.latencyUs.p99;
  const sent = level.openLoop.latencyFromSendUs.p99;
  assert.ok(level.capDelayed > 0, "requests were held by the cap during the stalls");
  // ~20% of the requests fall due during a stall and wait up to 100 ms for the one slot.
  assert.ok(scheduled >= STALL_MS * 1000 * 0.7, `p99 from schedule ${scheduled} us, stall ${STALL_MS} ms`);
  // Only one request per stall waits at the server (0.5% of 200 per period): the send-time p99 misses it.
  assert.ok(sent < scheduled / 3, `p99 from send ${sent} us vs from schedule ${scheduled} us`);
  assert.ok(level.openLoop.latencyFromSendUs.max >= STALL_MS * 1000 * 0.5, "the stalled request itself is in the send-time max");
});

test("no cap: the requests queue at the server, so the send-time p99 shows the stall too", async () => {
  const level = await run(512);
  assert.equal(level.capDelayed, 0);
  assert.ok(level.maxInFlight > 10, `${level.maxInFlight} in flight during a stall`);
  assert.ok(level.latencyUs.p99 >= STALL_MS * 1000 * 0.7, `p99 from schedule ${level.latencyUs.p99} us`);
  assert.ok(level.openLoop.latencyFromSendUs.p99 >= STALL_MS * 1000 * 0.5, `p99 from send ${level.openLoop.latencyFromSendUs.p99} us`);
});
