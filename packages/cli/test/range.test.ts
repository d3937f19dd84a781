import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRange, MAX_LEVEL } from "../src/range.ts";

test("a single value is one level", () => {
  assert.deepEqual(parseRange("8"), [8]);
  assert.deepEqual(parseRange(" 1 "), [1]);
});

test("A..B doubles from A and includes B", () => {
  assert.deepEqual(parseRange("1..64"), [1, 2, 4, 8, 16, 32, 64]);
  assert.deepEqual(parseRange("1..2"), [1, 2]);
  assert.deepEqual(parseRange("4..4"), [4]);
  assert.deepEqual(parseRange("1..48"), [1, 2, 4, 8, 16, 32, 48]);
  assert.deepEqual(parseRange("3..20"), [3, 6, 12, 20]);
});

test("A..B:S steps linearly and stops at B", () => {
  assert.deepEqual(parseRange("4..16:4"), [4, 8, 12, 16]);
  assert.deepEqual(parseRange("1..10:4"), [1, 5, 9]);
  assert.deepEqual(parseRange("2..2:1"), [2]);
});

test("bad ranges are rejected with a message saying what is wrong", () => {
  assert.throws(() => parseRange("0..4"), /start 0 .*must be at least 1/);
  assert.throws(() => parseRange("8..2"), /start 8 is greater than end 2/);
  assert.throws(() => parseRange("x"), /invalid value "x".*expected N, A\.\.B/);
  assert.throws(() => parseRange(""), /empty range/);
  assert.throws(() => parseRange("1..64:0"), /step 0 .*at least 1/);
  assert.throws(() => parseRange("1.."), /invalid end ""/);
  assert.throws(() => parseRange("-1..4"), /invalid start "-1"/);
  assert.throws(() => parseRange("1.5"), /invalid value "1.5"/);
  assert.throws(() => parseRange(`1..${MAX_LEVEL + 1}`), /at most/);
});
