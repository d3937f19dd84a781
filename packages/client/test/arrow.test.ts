// Apache Arrow interop: columns -> tensors and tensors -> vectors over the same memory where the layouts
// agree, copies only where they cannot (bool bits, BYTES, several chunks), errors naming the column.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Field,
  FixedSizeList,
  Float32,
  List,
  makeData,
  makeVector,
  tableFromArrays,
  tableFromIPC,
  tableToIPC,
  vectorFromArray,
  Utf8,
  Dictionary,
  Int32,
  Struct,
  Table,
  type Vector,
} from "apache-arrow";
import { raggedFromArrow, raggedToArrow, tensorFromArrow, tensorToArrow, tensorsFromTable, tensorsToTable } from "../src/arrow/index.ts";
import { Tensor } from "../src/tensor.ts";
import { flattenRagged, splitByOffsets } from "../src/ragged.ts";
import { InferenceError } from "../src/errors.ts";

const bufferOf = (v: Vector): ArrayBufferLike => (v.data[0]!.values as Uint8Array).buffer;

test("numeric columns become zero-copy tensors of the matching datatype", () => {
  const cases: [ArrayLike<number | bigint> & { buffer: ArrayBufferLike }, string][] = [
    [Int8Array.of(-1, 2), "INT8"],
    [Int16Array.of(-1, 2), "INT16"],
    [Int32Array.of(-1, 2), "INT32"],
    [BigInt64Array.of(-1n, 2n ** 40n), "INT64"],
    [Uint8Array.of(1, 2), "UINT8"],
    [Uint16Array.of(1, 2), "UINT16"],
    [Uint32Array.of(1, 2), "UINT32"],
    [BigUint64Array.of(1n, 2n ** 63n), "UINT64"],
    [Float32Array.of(0.5, -1), "FP32"],
    [Float64Array.of(0.25, 1e300), "FP64"],
  ];
  for (const [arr, datatype] of cases) {
    const v = makeVector(arr as Int32Array);
    const t = tensorFromArrow("X", v);
    assert.equal(t.datatype, datatype);
    assert.deepEqual(t.shape, [2]);
    assert.equal((t.data as Int32Array).buffer, arr.buffer, `${datatype}: same memory`);
    assert.deepEqual(Array.from(t.data as Int32Array), Array.from(arr as Int32Array));
  }
});

test("a column read from Arrow IPC is viewed in place; slices keep their offset", () => {
  const table = tableFromIPC(tableToIPC(tableFromArrays({ x: Float32Array.of(1, 2, 3, 4), n: Int32Array.of(5, 6, 7, 8) })));
  const [x, n] = tensorsFromTable(table, { INPUT0: "x", INPUT1: "n" });
  assert.equal(x!.name, "INPUT0");
  assert.deepEqual(Array.from(x!.data as Float32Array), [1, 2, 3, 4]);
  assert.equal((x!.data as Float32Array).buffer, bufferOf(table.getChild("x")!));
  assert.deepEqual(Array.from(n!.data as Int32Array), [5, 6, 7, 8]);
  const sliced = tensorFromArrow("S", table.getChild("n")!.slice(1, 3));
  assert.deepEqual(Array.from(sliced.data as Int32Array), [6, 7]);
  assert.equal((sliced.data as Int32Array).buffer, bufferOf(table.getChild("n")!));
});

test("FixedSizeList columns become [rows, width] over the child values", () => {
  const values = new Float32Array(12).map((_, i) => i);
  const child = makeData({ type: new Float32(), data: values });
  const list = makeData({ type: new FixedSizeList(3, new Field("item", new Float32(), false)), length: 4, child });
  const t = tensorFromArrow("FEATURES", makeVector(list));
  assert.deepEqual(t.shape, [4, 3]);
  assert.equal(t.data, values, "the very same TypedArray");
  const part = tensorFromArrow("F", makeVector(list).slice(1, 3));
  assert.deepEqual(part.shape, [2, 3]);
  assert.deepEqual(Array.from(part.data as Float32Array), [3, 4, 5, 6, 7, 8]);
  assert.equal((part.data as Float32Array).buffer, values.buffer);
});

test("Utf8 and Binary columns become BYTES elements viewing the value buffer; booleans are unpacked", () => {
  const s = vectorFromArray(["hit", "", "é"], new Utf8());
  const t = tensorFromArrow("S", s);
  assert.equal(t.datatype, "BYTES");
  assert.deepEqual(t.strings(), ["hit", "", "é"]);
  assert.equal((t.data[0] as Uint8Array).buffer, (s.data[0]!.values as Uint8Array).buffer);
  const b = tensorFromArrow("B", vectorFromArray([true, false, true, true, false, false, false, false, true]));
  assert.equal(b.datatype, "BOOL");
  assert.deepEqual(Array.from(b.data as Uint8Array), [1, 0, 1, 1, 0, 0, 0, 0, 1]);
  const bs = tensorFromArrow("B", vectorFromArray([true, false, true, true, false, false, false, false, true]).slice(2, 9));
  assert.deepEqual(Array.from(bs.data as Uint8Array), [1, 1, 0, 0, 0, 0, 1]);
});

test("several chunks are joined (one copy) in order", () => {
  const v = makeVector(Float32Array.of(1, 2)).concat(makeVector(Float32Array.of(3)));
  assert.equal(v.data.length, 2);
  const t = tensorFromArrow("X", v);
  assert.deepEqual(Array.from(t.data as Float32Array), [1, 2, 3]);
});

test("nulls and types without a KServe datatype are refused, naming the column", () => {
  const isArg = (re: RegExp) => (e: unknown) => e instanceof InferenceError && e.code === "invalid_argument" && re.test(e.message);
  const withNull = vectorFromArray([1, null, 3], new Float32());
  assert.throws(() => tensorFromArrow("INPUT0", withNull, { column: "pt" }), isArg(/Arrow column "pt": has 1 null value of 3/));
  const table = new Table({ when: vectorFromArray(["a", "b"], new Dictionary(new Utf8(), new Int32())) });
  assert.throws(() => tensorsFromTable(table, ["when"]), isArg(/column "when": has Arrow type Dictionary.*no KServe datatype/));
  assert.throws(() => tensorsFromTable(table, ["nope"]), isArg(/no column "nope" \(columns: when\)/));
  const lists = vectorFromArray([[1], [2, 3]], new List(new Field("item", new Int32(), false)));
  assert.throws(() => tensorFromArrow("L", lists), isArg(/variable-length .* use raggedFromArrow/));
  const struct = vectorFromArray([{ a: 1 }], new Struct([new Field("a", new Int32())]));
  assert.throws(() => tensorFromArrow("T", struct), isArg(/Struct/));
});

test("List columns of hits become flattened values + offsets without copies", () => {
  const hits = new Float32Array(15).map((_, i) => i);
  const child = makeData({ type: new FixedSizeList(3, new Field("item", new Float32(), false)), length: 5, child: makeData({ type: new Float32(), data: hits }) });
  const offsets = Int32Array.of(0, 2, 2, 5);
  const events = makeVector(makeData({ type: new List(new Field("hit", child.type, false)), length: 3, valueOffsets: offsets, child }));
  const r = raggedFromArrow("FEATURES", events);
  assert.deepEqual(r.values.shape, [5, 3]);
  assert.equal(r.values.data, hits);
  assert.equal(r.offsets.datatype, "INT32");
  assert.equal((r.offsets.data as Int32Array).buffer, offsets.buffer);
  assert.deepEqual(r.counts, [2, 0, 3]);
  // A slice starts at a non-zero offset: values are the sliced rows, offsets rebased.
  const tail = raggedFromArrow("F", events.slice(1, 3));
  assert.deepEqual(tail.values.shape, [3, 3]);
  assert.deepEqual(Array.from(tail.offsets.data as Int32Array), [0, 0, 3]);
  assert.deepEqual(Array.from(tail.values.data as Float32Array), [6, 7, 8, 9, 10, 11, 12, 13, 14]);
});

test("tensors become Arrow vectors over the same memory; round trips", () => {
  const data = new Float32Array(6).map((_, i) => i / 2);
  const t = new Tensor("OUTPUT0", "FP32", [6], data);
  const v = tensorToArrow(t);
  assert.equal(v.length, 6);
  assert.equal(v.data[0]!.values, data);
  assert.equal(v.get(3), 1.5);

  const m = new Tensor("M", "INT64", [2, 3], BigInt64Array.of(1n, 2n, 3n, 4n, 5n, 6n));
  const mv = tensorToArrow(m);
  assert.equal(mv.length, 2);
  assert.equal(String(mv.type), "FixedSizeList[3]<Int64>");
  assert.equal(mv.data[0]!.children[0]!.values, m.data);
  const back = tensorFromArrow("M", mv);
  assert.deepEqual(back.shape, [2, 3]);
  assert.equal(back.data, m.data);

  const cube = new Tensor("C", "INT32", [2, 2, 2], Int32Array.of(0, 1, 2, 3, 4, 5, 6, 7));
  const cv = tensorToArrow(cube);
  assert.deepEqual(tensorFromArrow("C", cv).shape, [2, 2, 2]);
  assert.deepEqual(cv.get(1)?.get(0)?.toArray(), Int32Array.of(4, 5));

  const s = tensorToArrow(new Tensor("S", "BYTES", [2], ["ab", Uint8Array.of(0xc3, 0xa9)]), { utf8: true });
  assert.deepEqual(s.toArray(), ["ab", "é"]);
  const bools = tensorToArrow(new Tensor("B", "BOOL", [3], Uint8Array.of(1, 0, 1)));
  assert.deepEqual([...bools], [true, false, true]);
  const bf = tensorToArrow(Tensor.fromFloat32("H", "BF16", [2], [1.5, -2]));
  assert.deepEqual(Array.from(bf.toArray() as Float32Array), [1.5, -2]);
  const fp16 = Tensor.fromFloat32("H", "FP16", [2], [1.5, -2]);
  assert.equal(tensorToArrow(fp16).data[0]!.values, fp16.data);
});

test("ragged outputs become List vectors; tensorsToTable makes one column per output", () => {
  const events = [[[1, 2, 3]], [], [[4, 5, 6], [7, 8, 9]]];
  const r = flattenRagged("F", "FP32", events);
  const lv = raggedToArrow(r.values, r.offsets);
  assert.equal(String(lv.type).startsWith("LargeList"), true);
  assert.equal(lv.length, 3);
  assert.equal(lv.get(2)?.length, 2);
  const r32 = flattenRagged("F", "FP32", events, { offsetsType: "INT32" });
  const l32 = raggedToArrow(r32.values, r32.offsets);
  assert.equal(l32.data[0]!.valueOffsets, r32.offsets.data);
  const back = raggedFromArrow("F", l32);
  assert.deepEqual(splitByOffsets(back.values, back.offsets).map((t) => t.shape), [[1, 3], [0, 3], [2, 3]]);

  const table = tensorsToTable([
    new Tensor("OUTPUT0", "INT32", [2], Int32Array.of(1, 2)),
    new Tensor("OUTPUT1", "FP32", [2, 2], Float32Array.of(1, 2, 3, 4)),
  ]);
  assert.deepEqual(table.schema.fields.map((f) => f.name), ["OUTPUT0", "OUTPUT1"]);
  assert.equal(table.numRows, 2);
  assert.throws(
    () => tensorsToTable([new Tensor("A", "INT32", [2], Int32Array.of(1, 2)), new Tensor("B", "INT32", [3], Int32Array.of(1, 2, 3))]),
    /tensor "B" has 3 rows, earlier tensors 2/,
  );
});
