import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../src/tensor.ts";
import { InferenceError } from "../src/errors.ts";

function rejectsWith(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof InferenceError && e.code === "invalid_argument" && pattern.test(e.message));
}

test("constructor accepts the TypedArray of each datatype", () => {
  const cases: [string, ArrayLike<unknown> & { length: number }][] = [
    ["BOOL", new Uint8Array(2)],
    ["UINT8", Buffer.alloc(2)],
    ["UINT16", new Uint16Array(2)],
    ["UINT32", new Uint32Array(2)],
    ["UINT64", new BigUint64Array(2)],
    ["INT8", new Int8Array(2)],
    ["INT16", new Int16Array(2)],
    ["INT32", new Int32Array(2)],
    ["INT64", new BigInt64Array(2)],
    ["FP16", new Uint16Array(2)],
    ["BF16", new Uint16Array(2)],
    ["FP32", new Float32Array(2)],
    ["FP64", new Float64Array(2)],
    ["BYTES", ["a", new Uint8Array([1])]],
  ];
  for (const [dt, data] of cases) {
    const t = new Tensor("x", dt as never, [1, 2], data as never);
    assert.equal(t.size, 2, dt);
    assert.deepEqual(t.shape, [1, 2]);
  }
});

test("constructor rejects a TypedArray of the wrong kind, naming the expected one", () => {
  rejectsWith(() => new Tensor("x", "INT64", [2], new Int32Array(2) as never), /INT64 data must be a BigInt64Array, got Int32Array/);
  rejectsWith(() => new Tensor("x", "FP32", [2], new Float64Array(2) as never), /Float32Array/);
  rejectsWith(() => new Tensor("x", "FP16", [2], new Float32Array(2) as never), /Uint16Array/);
  rejectsWith(() => new Tensor("x", "BOOL", [2], [true, false] as never), /Uint8Array, got Array/);
  rejectsWith(() => new Tensor("x", "BYTES", [2], ["a", 3] as never), /BYTES element 1 is number/);
});

test("constructor checks the element count against the shape", () => {
  rejectsWith(() => new Tensor("in", "FP32", [2, 3], new Float32Array(5)), /tensor "in": data has 5 elements, shape \[2,3\] needs 6/);
  rejectsWith(() => new Tensor("in", "BYTES", [3], ["a"]), /data has 1 elements/);
  rejectsWith(() => new Tensor("in", "FP32", [-1], new Float32Array(0)), /invalid dimension -1/);
  rejectsWith(() => new Tensor("in", "FP31" as never, [1], new Float32Array(1) as never), /unknown datatype "FP31"/);
  rejectsWith(() => new Tensor("", "FP32", [1], new Float32Array(1)), /name/);
  assert.equal(new Tensor("e", "FP32", [0, 4], new Float32Array(0)).size, 0);
});

test("fromRaw wraps aligned bytes without copying and copies misaligned ones", () => {
  const buf = new ArrayBuffer(64);
  const bytes = new Uint8Array(buf);
  new Float32Array(buf, 8, 2).set([1.5, -2.25]);
  const aligned = Tensor.fromRaw("a", "FP32", [2], bytes.subarray(8, 16));
  assert.equal(aligned.data.buffer, buf, "aligned data is a view");
  assert.deepEqual(Array.from(aligned.data), [1.5, -2.25]);
  bytes.copyWithin(9, 8, 16);
  const mis = Tensor.fromRaw("m", "FP32", [2], bytes.subarray(9, 17));
  assert.notEqual(mis.data.buffer, buf, "misaligned data is copied");
  assert.deepEqual(Array.from(mis.data), [1.5, -2.25]);
  // Buffer#slice makes views, so a misaligned Buffer needs a real copy too.
  const nodeBuf = Buffer.alloc(16);
  nodeBuf.writeDoubleLE(0.75, 1);
  const fromBuffer = Tensor.fromRaw("d", "FP64", [1], nodeBuf.subarray(1, 9));
  assert.equal(fromBuffer.data[0], 0.75);
  const big = Tensor.fromRaw("b", "INT64", [1], new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]));
  assert.equal(big.data[0], 2n ** 63n - 1n);
  rejectsWith(() => Tensor.fromRaw("s", "INT32", [3], new Uint8Array(8)), /8 bytes of INT32 data, shape \[3\] needs 12/);
});

test("toRaw is a view of numeric data and a length-prefixed encoding of BYTES", () => {
  const data = new Int16Array([1, -2, 3]);
  const raw = new Tensor("x", "INT16", [3], data).toRaw();
  assert.equal(raw.buffer, data.buffer);
  assert.deepEqual(Array.from(raw), [1, 0, 0xfe, 0xff, 3, 0]);
  const b = new Tensor("s", "BYTES", [2], ["hé", new Uint8Array([0, 255])]);
  assert.deepEqual(Array.from(b.toRaw()), [3, 0, 0, 0, 0x68, 0xc3, 0xa9, 2, 0, 0, 0, 0, 255]);
  assert.equal(b.byteSize, 13);
  assert.equal(new Tensor("x", "FP64", [2], new Float64Array(2)).byteSize, 16);
});

test("BYTES fromRaw splits into views and round-trips through toRaw unchanged", () => {
  const wire = new Uint8Array([1, 0, 0, 0, 0x61, 0, 0, 0, 0, 2, 0, 0, 0, 0x62, 0x63]);
  const t = Tensor.fromRaw("s", "BYTES", [3], wire);
  assert.deepEqual(t.strings(), ["a", "", "bc"]);
  assert.equal((t.data[2] as Uint8Array).buffer, wire.buffer);
  assert.equal(t.toRaw(), wire);
  assert.equal(t.byteSize, 15);
  rejectsWith(() => Tensor.fromRaw("s", "BYTES", [2], wire), /holds 3 elements, shape needs 2/);
  rejectsWith(() => Tensor.fromRaw("s", "BYTES", [1], new Uint8Array([9, 0, 0, 0, 1])), /runs past the end/);
});

test("fromFloat32 and toFloat32 for FP16 and BF16", () => {
  const h = Tensor.fromFloat32("h", "FP16", [3], [1, -0.5, 65504]);
  assert.deepEqual(Array.from(h.data), [0x3c00, 0xb800, 0x7bff]);
  assert.deepEqual(Array.from(h.toFloat32()), [1, -0.5, 65504]);
  const b = Tensor.fromFloat32("b", "BF16", [2], new Float32Array([1, 3.140625]));
  assert.deepEqual(Array.from(b.data), [0x3f80, 0x4049]);
  assert.deepEqual(Array.from(b.toFloat32()), [1, 3.140625]);
  const f = new Float32Array([1, 2]);
  assert.equal(new Tensor("f", "FP32", [2], f).toFloat32(), f);
  assert.deepEqual(Array.from(new Tensor("i", "INT64", [2], new BigInt64Array([5n, -7n])).toFloat32()), [5, -7]);
  assert.deepEqual(Array.from(new Tensor("u", "UINT8", [2], new Uint8Array([200, 1])).toFloat32()), [200, 1]);
  rejectsWith(() => new Tensor("s", "BYTES", [1], ["x"]).toFloat32(), /no float32 view/);
  rejectsWith(() => Tensor.fromFloat32("x", "FP32" as never, [1], [1]), /FP16 or BF16/);
});

test("toJSONData gives flat JSON values per datatype", () => {
  assert.deepEqual(new Tensor("b", "BOOL", [2], new Uint8Array([1, 0])).toJSONData(), [true, false]);
  assert.deepEqual(new Tensor("i", "UINT64", [1], new BigUint64Array([2n ** 64n - 1n])).toJSONData(), [2n ** 64n - 1n]);
  assert.deepEqual(new Tensor("s", "BYTES", [1], [new Uint8Array([0x68, 0x69])]).toJSONData(), ["hi"]);
  assert.deepEqual(Tensor.fromFloat32("h", "FP16", [1], [0.25]).toJSONData(), [0.25]);
  assert.deepEqual(new Tensor("n", "INT8", [2, 1], new Int8Array([-1, 2])).toJSONData(), [-1, 2]);
});

test("fromJSON packs nested JSON values and reports the bad element", () => {
  const t = Tensor.fromJSON("x", "INT32", [2, 2], [[1, 2], [3, 4]]);
  assert.ok(t.data instanceof Int32Array);
  assert.deepEqual(Array.from(t.data), [1, 2, 3, 4]);
  assert.deepEqual(Array.from(Tensor.fromJSON("b", "BOOL", [2], [true, false]).data), [1, 0]);
  assert.deepEqual(Array.from(Tensor.fromJSON("u", "UINT64", [1], [18446744073709551615n]).data), [18446744073709551615n]);
  assert.deepEqual(Tensor.fromJSON("s", "BYTES", [2], ["a", "b"]).strings(), ["a", "b"]);
  assert.deepEqual(Array.from(Tensor.fromJSON("h", "BF16", [1], [2]).data), [0x4000]);
  rejectsWith(() => Tensor.fromJSON("x", "UINT8", [2], [1, 256]), /element 1 \(256\) is out of range for UINT8/);
  rejectsWith(() => Tensor.fromJSON("x", "INT32", [3], [1, 2]), /data has 2 elements, shape needs 3/);
});
