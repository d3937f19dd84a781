// JSON tensor data errors name the element exactly, also for integers past 2^53 (parsed as bigint).
import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonToRaw, parseJson } from "../src/protocol/json-data.ts";

test("a huge integer in FP32 or BOOL data is named in the error, not a BigInt serialisation failure", () => {
  const data = (parseJson('{"d":[1, 18446744073709551615]}') as { d: unknown[] }).d;
  assert.equal(typeof data[1], "bigint");
  assert.throws(() => jsonToRaw("FP32", data, "input 'X'"), /input 'X': element 1 is 18446744073709551615, FP32 data must be numbers/);
  assert.throws(() => jsonToRaw("BOOL", data, "input 'X'"), /input 'X': element 0 is 1, BOOL data must be true or false/);
});

test("INT64 data keeps integers past 2^53 exactly", () => {
  const data = (parseJson('{"d":[9007199254740993]}') as { d: unknown[] }).d;
  const raw = jsonToRaw("INT64", data, "input 'X'");
  assert.equal(raw.readBigInt64LE(0), 9007199254740993n);
});
