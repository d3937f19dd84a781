import { test } from "node:test";
import assert from "node:assert/strict";
import { fromBf16, fromFp16, toBf16, toFp16 } from "../src/index.ts";

test("FP16: exact values, limits and signed zero", () => {
  assert.deepEqual(Array.from(toFp16([0, -0, 1, -2, 0.5, 65504, 2 ** -14])), [0, 0x8000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0x0400]);
  assert.deepEqual(Array.from(fromFp16([0x3c00, 0xc000, 0x7bff, 0x0400])), [1, -2, 65504, 2 ** -14]);
  assert.ok(Object.is(fromFp16([0x8000])[0], -0));
});

test("FP16: round to nearest even, overflow to infinity", () => {
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to the even mantissa (1).
  assert.equal(toFp16([1 + 2 ** -11])[0], 0x3c00);
  // 1 + 3*2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even): rounds up.
  assert.equal(toFp16([1 + 3 * 2 ** -11])[0], 0x3c02);
  assert.equal(toFp16([1 + 2 ** -11 + 2 ** -20])[0], 0x3c01, "above halfway rounds up");
  assert.equal(toFp16([65520])[0], 0x7c00, "65520 rounds past the largest finite value");
  assert.equal(toFp16([65519])[0], 0x7bff);
  assert.equal(toFp16([1e10])[0], 0x7c00);
  assert.equal(toFp16([-1e10])[0], 0xfc00);
});

test("FP16: NaN and infinities", () => {
  assert.equal(toFp16([Infinity])[0], 0x7c00);
  assert.equal(toFp16([-Infinity])[0], 0xfc00);
  const nan = toFp16([NaN])[0]!;
  assert.equal(nan & 0x7c00, 0x7c00);
  assert.notEqual(nan & 0x3ff, 0);
  assert.ok(Number.isNaN(fromFp16([0x7e00])[0]));
  assert.equal(fromFp16([0xfc00])[0], -Infinity);
});

test("FP16: subnormals", () => {
  assert.equal(toFp16([2 ** -24])[0], 0x0001, "smallest subnormal");
  assert.equal(toFp16([2 ** -25])[0], 0x0000, "half the smallest subnormal ties to even zero");
  assert.equal(toFp16([1.5 * 2 ** -24])[0], 0x0002, "1.5 ulp ties to even (2)");
  assert.equal(toFp16([2 ** -15])[0], 0x0200);
  assert.equal(toFp16([1023 * 2 ** -24])[0], 0x03ff, "largest subnormal");
  assert.equal(fromFp16([0x0001])[0], 2 ** -24);
  assert.equal(fromFp16([0x03ff])[0], 1023 * 2 ** -24);
  assert.equal(toFp16([-(2 ** -30)])[0], 0x8000, "underflow keeps the sign");
});

test("BF16: truncation with round to nearest even, NaN and infinities", () => {
  assert.deepEqual(Array.from(toBf16([1, -2, 0])), [0x3f80, 0xc000, 0]);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1).
  assert.equal(toBf16([1 + 2 ** -8])[0], 0x3f80);
  assert.equal(toBf16([1 + 3 * 2 ** -8])[0], 0x3f82);
  assert.equal(toBf16([1 + 2 ** -8 + 2 ** -16])[0], 0x3f81);
  assert.equal(toBf16([Infinity])[0], 0x7f80);
  assert.equal(toBf16([-Infinity])[0], 0xff80);
  assert.ok(Number.isNaN(fromBf16([toBf16([NaN])[0]!])[0]), "NaN stays NaN");
  assert.equal(toBf16([3.4e38])[0], 0x7f80, "rounds past the largest finite value to infinity");
  assert.equal(fromBf16([0x0001])[0], 2 ** -133, "subnormal");
  assert.equal(toBf16([2 ** -133])[0], 0x0001);
  assert.deepEqual(Array.from(fromBf16([0x3f80, 0x4049])), [1, 3.140625]);
});
