// Ragged events: flattening into values + row offsets, splitting back per event, zero-copy views.
import { test } from "node:test";
import assert from "node:assert/strict";
import { flattenRagged, splitByCounts, splitByOffsets } from "../src/ragged.ts";
import { Tensor } from "../src/tensor.ts";
import { InferenceError } from "../src/errors.ts";

test("nested hits x features events flatten to [hits, 3] with INT64 row offsets", () => {
  const events = [
    [
      [1, 2, 3],
      [4, 5, 6],
    ],
    [],
    [[7, 8, 9]],
  ];
  const r = flattenRagged("FEATURES", "FP32", events);
  assert.deepEqual(r.values.shape, [3, 3]);
  assert.deepEqual(Array.from(r.values.data as Float32Array), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(r.offsets.name, "FEATURES_OFFSETS");
  assert.equal(r.offsets.datatype, "INT64");
  assert.deepEqual(Array.from(r.offsets.data as BigInt64Array), [0n, 2n, 2n, 3n]);
  assert.deepEqual(r.counts, [2, 0, 1]);
});

test("flat TypedArray events with a width; INT32 offsets on request", () => {
  const a = Float32Array.of(1, 2, 3, 4, 5, 6);
  const b = Float32Array.of(7, 8, 9);
  const r = flattenRagged("X", "FP32", [a, b], { width: 3, offsetsType: "INT32", offsetsName: "ROW_SPLITS" });
  assert.deepEqual(r.values.shape, [3, 3]);
  assert.equal(r.offsets.datatype, "INT32");
  assert.equal(r.offsets.name, "ROW_SPLITS");
  assert.deepEqual(Array.from(r.offsets.data as Int32Array), [0, 2, 3]);
  // Separate arrays: copied once into new memory.
  assert.notEqual((r.values.data as Float32Array).buffer, a.buffer);
  assert.throws(() => flattenRagged("X", "FP32", [Float32Array.of(1, 2)], { width: 3 }), /event 0 has 2 elements, not a multiple of the row width 3/);
});

test("events that lie back to back in one buffer flatten without a copy", () => {
  const all = new Float32Array(12).map((_, i) => i);
  const events = [all.subarray(0, 3), all.subarray(3, 3), all.subarray(3, 12)];
  const r = flattenRagged("X", "FP32", events, { width: 3 });
  const data = r.values.data as Float32Array;
  assert.equal(data.buffer, all.buffer);
  assert.equal(data.byteOffset, 0);
  assert.deepEqual(r.counts, [1, 0, 3]);
  // Shared memory: writing the source shows through.
  all[11] = 100;
  assert.equal(data[11], 100);
  // A single event is always a view.
  const one = flattenRagged("Y", "FP32", [all.subarray(6)]);
  assert.equal((one.values.data as Float32Array).buffer, all.buffer);
  assert.equal((one.values.data as Float32Array).byteOffset, 24);
});

test("split by offsets and by counts gives views of the flattened output per event", () => {
  const labels = new Tensor("LABELS", "INT64", [5], BigInt64Array.of(0n, 0n, 1n, 2n, 2n));
  const parts = splitByOffsets(labels, BigInt64Array.of(0n, 2n, 2n, 5n));
  assert.equal(parts.length, 3);
  assert.deepEqual(parts.map((p) => p.shape), [[2], [0], [3]]);
  assert.deepEqual(Array.from(parts[2]!.data as BigInt64Array), [1n, 2n, 2n]);
  for (const p of parts) assert.equal((p.data as BigInt64Array).buffer, (labels.data as BigInt64Array).buffer);
  assert.equal((parts[2]!.data as BigInt64Array).byteOffset, 16);

  const features = new Tensor("F", "FP32", [12], new Float32Array(12).map((_, i) => i));
  const byCount = splitByCounts(features, [1, 3], { width: 3 });
  assert.deepEqual(byCount.map((p) => p.shape), [[1, 3], [3, 3]]);
  assert.deepEqual(Array.from(byCount[1]!.data as Float32Array), [3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const offsetsTensor = new Tensor("O", "INT32", [3], Int32Array.of(0, 1, 4));
  const byOffsets = splitByOffsets(new Tensor("F", "FP32", [4, 3], features.data as Float32Array), offsetsTensor);
  assert.deepEqual(byOffsets.map((p) => p.shape), [[1, 3], [3, 3]]);
});

test("flatten then split round-trips ragged events, BYTES included", () => {
  const events = [["a", "bc"], [], ["def"]];
  const r = flattenRagged("S", "BYTES", events);
  assert.deepEqual(r.values.shape, [3]);
  const back = splitByOffsets(r.values, r.offsets);
  assert.deepEqual(back.map((t) => t.strings()), events);

  const ints = [Int32Array.of(1, 2), Int32Array.of(3)];
  const flat = flattenRagged("I", "INT32", ints);
  const split = splitByCounts(flat.values, flat.counts);
  assert.deepEqual(split.map((t) => Array.from(t.data as Int32Array)), [[1, 2], [3]]);
  // Re-flattening the split views is zero-copy (they lie back to back).
  const again = flattenRagged("I", "INT32", split);
  assert.equal((again.values.data as Int32Array).buffer, (flat.values.data as Int32Array).buffer);
});

test("plain number events for INT64 and Tensor events", () => {
  const r = flattenRagged("N", "INT64", [[1, 2], [3]]);
  assert.deepEqual(Array.from(r.values.data as BigInt64Array), [1n, 2n, 3n]);
  const t1 = new Tensor("hits", "FP32", [2, 3], new Float32Array(6).fill(1));
  const t2 = new Tensor("hits", "FP32", [1, 3], new Float32Array(3).fill(2));
  const rt = flattenRagged("FEATURES", "FP32", [t1, t2]);
  assert.deepEqual(rt.values.shape, [3, 3]);
  assert.deepEqual(rt.counts, [2, 1]);
});

test("mismatches are named: row widths, offsets, counts, datatypes, values", () => {
  const err = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof InferenceError && e.code === "invalid_argument" && re.test(e.message));
  err(() => flattenRagged("F", "FP32", [[[1, 2, 3]], [[1, 2]]]), /event 1 has rows of shape \[2\], earlier events \[3\]/);
  err(() => flattenRagged("F", "FP32", [[[1, 2, 3], [1, 2]]]), /event 0 row 1 has 2 elements, rows need 3/);
  err(() => flattenRagged("F", "INT32", [[1.5, "x"]] as never), /event 0 element 1: string is not a INT32 value/);
  err(() => flattenRagged("F", "INT64", [[1.5]]), /1.5 is not an exact integer for INT64/);
  err(
    () => flattenRagged("F", "FP32", [new Tensor("t", "INT32", [1], Int32Array.of(1))]),
    /event 0 is a INT32 tensor, expected FP32/,
  );
  const v = new Tensor("V", "FP32", [4], new Float32Array(4));
  err(() => splitByOffsets(v, [0, 3]), /offsets end at 3, the tensor has 4 rows/);
  err(() => splitByOffsets(v, [1, 4]), /offsets start at 1, expected 0/);
  err(() => splitByOffsets(v, [0, 3, 2, 4]), /offsets decrease at entry 2/);
  err(() => splitByCounts(v, [1, 1]), /counts add up to 2 rows, the tensor has 4/);
  err(() => splitByCounts(v, [1, -1, 4]), /entry 1 is -1/);
  err(() => splitByCounts(v, [1], { width: 3 }), /4 elements are not a whole number of rows of width 3/);
  assert.throws(() => flattenRagged("F", "INT32", [Int32Array.of(1)], { offsetsType: "INT16" as never }), /offsetsType must be/);
});
