// The per-window progress line: written in place on a terminal, never on a pipe.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createProgress, formatWindow } from "../src/report/progress.ts";
import type { WindowStats } from "../src/load/window.ts";
import { iaas, SHORT } from "./support/cli-process.ts";

const stats = {
  durationMs: 500,
  requests: 1200,
  throughput: 2400,
  latencyUs: { p50: 310, selected: { percentile: 99, value: 880 } },
  errorCount: 2,
  errors: { unavailable: 2 },
} as unknown as WindowStats;

test("a terminal gets one line per window, rewritten in place and erased before the table row", () => {
  const written: string[] = [];
  const progress = createProgress({ isTTY: true, write: (t: string) => written.push(t) });
  progress.window("concurrency 4", stats, 0);
  progress.window("concurrency 4", stats, 1);
  progress.clear();
  progress.clear();
  assert.equal(written.length, 3, "the second clear writes nothing");
  assert.equal(written[0], `\r${formatWindow("concurrency 4", stats, 0)}\x1b[K`);
  assert.match(written[1]!, /^\rconcurrency 4 window 2: 2400\.0 infer\/s, p50 310 us, p99 880 us, 1200 requests, 2 errors\x1b\[K$/);
  assert.equal(written[2], "\r\x1b[K");
});

test("a pipe gets no progress line", () => {
  const written: string[] = [];
  const progress = createProgress({ isTTY: false, write: (t: string) => written.push(t) });
  progress.window("concurrency 4", stats, 0);
  progress.clear();
  assert.deepEqual(written, []);
});

test("iaas bench writes no carriage returns into piped output", async () => {
  const r = await iaas(["bench", "-c", "1", ...SHORT]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stderr.includes("\r") && !r.stdout.includes("\r"), "no progress control characters on a pipe");
  assert.match(r.stdout, /^\s+1\s+\d/m, "the table row is there");
});
