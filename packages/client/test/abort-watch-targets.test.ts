// abort-watch.ts keeps the calls on one signal in an array (swap removal) and moves them to a Set once
// more than ARRAY_LIMIT are watched at once. Either way an abort must reach exactly the calls still
// watched, once each, and the signal must carry one listener while any call is watched and none after.
// And calls joining and leaving must not drag dead calls into the old generation (a Set did: see the file).
import { test } from "node:test";
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { spawnSync } from "node:child_process";
import { watchAbort, unwatchAbort, type AbortTarget } from "../src/transport/abort-watch.ts";

class Target implements AbortTarget {
  readonly id: number;
  aborts = 0;
  constructor(id: number) {
    this.id = id;
  }
  aborted(): void {
    this.aborts++;
  }
}

/** A deterministic shuffle (xorshift), so that a failure can be reproduced. */
function shuffled<T>(items: T[], seed: number): T[] {
  const out = items.slice();
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function checkAbort(controller: AbortController, live: Set<Target>, all: Target[]): void {
  controller.abort();
  for (const t of all) assert.equal(t.aborts, live.has(t) ? 1 : 0, `target ${t.id}: ${t.aborts} aborts, watched ${live.has(t)}`);
  assert.equal(getEventListeners(controller.signal, "abort").length, 0);
}

test("abort-watch, few calls: churn in any order, an abort reaches exactly the calls still watched", () => {
  const controller = new AbortController();
  const signal = controller.signal;
  const all: Target[] = [];
  const live = new Set<Target>();
  let next = 0;
  for (let i = 0; i < 64; i++) {
    const t = new Target(next++);
    all.push(t);
    live.add(t);
    watchAbort(signal, t);
  }
  // 5,000 rounds of: a few calls end in shuffled order, as many new ones start (a closed loop's pattern).
  for (let round = 0; round < 5000; round++) {
    const ending = shuffled([...live], round + 1).slice(0, 1 + (round % 7));
    for (const t of ending) {
      unwatchAbort(signal, t);
      live.delete(t);
    }
    // Leaving twice, or a call never watched, changes nothing.
    unwatchAbort(signal, ending[0]!);
    unwatchAbort(signal, new Target(-1));
    for (let i = 0; i < ending.length; i++) {
      const t = new Target(next++);
      all.push(t);
      live.add(t);
      watchAbort(signal, t);
    }
    assert.equal(getEventListeners(signal, "abort").length, 1);
  }
  checkAbort(controller, live, all);
});

test("abort-watch, many calls on one signal: past the array's limit and back, an abort reaches exactly the calls still watched", () => {
  const controller = new AbortController();
  const signal = controller.signal;
  const all = Array.from({ length: 1000 }, (_, i) => new Target(i));
  const live = new Set<Target>();
  // Some leave while the array holds them, then more join than the array takes, then others leave.
  for (const t of all.slice(0, 200)) {
    watchAbort(signal, t);
    live.add(t);
  }
  for (const t of shuffled(all.slice(0, 200), 7).slice(0, 90)) {
    unwatchAbort(signal, t);
    live.delete(t);
  }
  for (const t of all.slice(200)) {
    watchAbort(signal, t);
    live.add(t);
  }
  for (const t of shuffled([...live], 11).slice(0, 400)) {
    unwatchAbort(signal, t);
    live.delete(t);
  }
  assert.equal(getEventListeners(signal, "abort").length, 1);
  checkAbort(controller, live, all);
});

test("abort-watch: the listener goes when the last call leaves and comes back with the next call", () => {
  const controller = new AbortController();
  const signal = controller.signal;
  const a = new Target(1);
  const b = new Target(2);
  watchAbort(signal, a);
  watchAbort(signal, b);
  unwatchAbort(signal, b);
  unwatchAbort(signal, a);
  assert.equal(getEventListeners(signal, "abort").length, 0);
  watchAbort(signal, b);
  assert.equal(getEventListeners(signal, "abort").length, 1);
  checkAbort(controller, new Set([b]), [a, b]);
});

// In a child with --expose-gc: 300,000 calls join and leave one signal, 64 at a time, each holding ~0.5 KB.
// With a Set the old generation grew by 2-6 MB (replaced hash tables keep their young successors alive
// through scavenges), with the array by ~80 KB.
const CHURN = `
import v8 from "node:v8";
const { watchAbort, unwatchAbort } = await import(process.argv[1]);
const oldUsed = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === "old_space").space_used_size;
const signal = new AbortController().signal;
const live = [];
for (let i = 0; i < 64; i++) { const t = { aborted() {}, payload: new Array(64).fill(i) }; live.push(t); watchAbort(signal, t); }
gc();
const before = oldUsed();
let seed = 1;
for (let i = 0; i < 300000; i++) {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  const k = seed % 64;
  unwatchAbort(signal, live[k]);
  const t = { aborted() {}, payload: new Array(64).fill(i) };
  live[k] = t;
  watchAbort(signal, t);
}
gc({ type: "minor" });
process.stdout.write(String(oldUsed() - before));
`;

test("abort-watch: calls joining and leaving one signal do not promote the calls that left", () => {
  const module = new URL("../src/transport/abort-watch.ts", import.meta.url).href;
  const r = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", CHURN, module], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const grew = Number(r.stdout);
  assert.ok(Number.isFinite(grew), `child printed ${JSON.stringify(r.stdout)}`);
  assert.ok(grew < 1024 * 1024, `old generation grew by ${(grew / 1024).toFixed(0)} KB over 300,000 joins and leaves`);
});
