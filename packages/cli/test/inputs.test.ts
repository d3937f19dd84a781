// Input building without a server: shapes, batch handling, data per datatype, request-file parsing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildInputs, type ModelInfo } from "../src/inputs/build.ts";
import { generateTensorData } from "../src/inputs/data.ts";
import { seededRandom } from "@iaas/client/protocol";
import { parseShapeOptions, resolveShapes } from "../src/inputs/shapes.ts";
import { parseInferRequest } from "../src/inputs/request-json.ts";
import { jsonErrorOffset } from "../src/inputs/json-position.ts";

const simple: ModelInfo = {
  name: "simple",
  versions: ["1"],
  platform: "native",
  maxBatchSize: 8,
  inputs: [
    { name: "INPUT0", datatype: "INT32", shape: [-1, 16] },
    { name: "INPUT1", datatype: "INT32", shape: [-1, 16] },
  ],
  outputs: [],
};

test("the batch dimension takes the batch size; variable dims take --shape or 1", () => {
  const inputs = [{ name: "X", datatype: "FP32", shape: [-1, -1, 3] }];
  assert.deepEqual(resolveShapes("m", inputs, 4, 2, new Map()), [[2, 1, 3]]);
  assert.deepEqual(resolveShapes("m", inputs, 4, 4, parseShapeOptions(["X:7,3"])), [[4, 7, 3]]);
  // Without batching every dimension is the model's own.
  assert.deepEqual(resolveShapes("m", inputs, 0, 1, parseShapeOptions(["X:5,6,3"])), [[5, 6, 3]]);
});

test("unusable batch sizes and shapes are rejected with the reason", () => {
  const inputs = [{ name: "X", datatype: "FP32", shape: [-1, 16] }];
  assert.throws(() => resolveShapes("m", inputs, 8, 9, new Map()), /batch size 9 is larger than model "m"'s max_batch_size 8/);
  assert.throws(() => resolveShapes("m", inputs, 0, 2, new Map()), /does not support batching/);
  assert.throws(() => resolveShapes("m", inputs, 8, 1, parseShapeOptions(["X:15"])), /dimension 0 is fixed at 16 by the model, got 15/);
  assert.throws(() => resolveShapes("m", inputs, 8, 1, parseShapeOptions(["X:1,16"])), /has 2 dimensions, input has 1/);
  assert.throws(() => resolveShapes("m", inputs, 8, 1, parseShapeOptions(["Y:16"])), /names input "Y"/);
  assert.throws(() => parseShapeOptions(["X16"]), /expected NAME:d1,d2/);
  assert.throws(() => parseShapeOptions(["X:a"]), /dimension "a"/);
  assert.throws(() => parseShapeOptions(["X:1", "X:2"]), /given twice/);
});

test("buildInputs makes one tensor per input with the resolved shape and zero data", () => {
  const built = buildInputs(simple, { batchSize: 4 });
  assert.equal(built.batchSize, 4);
  assert.equal(built.tensors.length, 2);
  for (const t of built.tensors) {
    assert.deepEqual([...t.shape], [4, 16]);
    assert.equal(t.datatype, "INT32");
    assert.ok(t.data instanceof Int32Array);
    assert.ok((t.data as Int32Array).every((v) => v === 0));
  }
  assert.equal(built.bytes, 2 * 4 * 16 * 4);
});

test("random data is seeded: the same seed gives the same bytes, another seed different ones", () => {
  const a = buildInputs(simple, { data: "random", seed: 7 }).tensors[0]!.data as Int32Array;
  const b = buildInputs(simple, { data: "random", seed: 7 }).tensors[0]!.data as Int32Array;
  const c = buildInputs(simple, { data: "random", seed: 8 }).tensors[0]!.data as Int32Array;
  assert.deepEqual([...a], [...b]);
  assert.notDeepEqual([...a], [...c]);
  assert.ok(a.some((v) => v !== 0));
  assert.ok(a.every((v) => v >= -64 && v < 64), "small ints keep add/sub models clear of overflow");
});

test("random data covers every fixed datatype and BYTES with the right byte length", () => {
  const random = seededRandom(3);
  const sizes: Record<string, number> = { BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, BF16: 2, UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8 };
  for (const [dt, size] of Object.entries(sizes)) {
    const buf = generateTensorData(dt as never, 10, "random", random, 4);
    assert.equal(buf.byteLength, 10 * size, dt);
  }
  const f = generateTensorData("FP32", 100, "random", random, 0);
  const floats = new Float32Array(f.buffer, f.byteOffset, 100);
  assert.ok(floats.every((v) => v >= -1 && v < 1) && floats.some((v) => v !== 0));
  const bytes = generateTensorData("BYTES", 3, "random", random, 5);
  assert.equal(bytes.byteLength, 3 * (4 + 5));
  assert.equal(bytes.readUInt32LE(0), 5);
});

test("parseInferRequest builds tensors, id, parameters and outputs from KServe v2 JSON", () => {
  const req = parseInferRequest(
    JSON.stringify({
      id: "r1",
      parameters: { priority: 1 },
      inputs: [
        { name: "A", shape: [2, 2], datatype: "INT64", data: [[1, 2], [3, 9007199254740993]] },
        { name: "B", shape: [1], datatype: "BYTES", data: ["hi"] },
      ],
      outputs: [{ name: "OUT" }],
    }).replace("9007199254740992", "9007199254740993"),
    "req.json",
  );
  assert.equal(req.inputs.length, 2);
  assert.equal(req.inputs[0]!.datatype, "INT64");
  assert.equal((req.inputs[0]!.data as BigInt64Array)[3], 9007199254740993n, "INT64 beyond 2^53 stays exact");
  assert.deepEqual(req.inputs[1]!.strings(), ["hi"]);
  assert.equal(req.options.id, "r1");
  assert.deepEqual(req.options.parameters, { priority: 1 });
  assert.deepEqual(req.options.outputs, [{ name: "OUT" }]);
});

test("parseInferRequest errors name the source, the field and the JSON position", () => {
  assert.throws(() => parseInferRequest('{"inputs": [}', "bad.json"), (e: Error) => e instanceof SyntaxError && /^bad\.json: invalid JSON at line 1 column 13 \(position 12\)/.test(e.message));
  assert.throws(() => parseInferRequest('{\n  "inputs": [1,\n  2,,]}', "bad.json"), /invalid JSON at line 3 column 5 \(position 22\)/);
  assert.throws(() => parseInferRequest('{"inputs": [1', "bad.json"), /invalid JSON at line 1 column 14 \(end of input\)/);
  assert.throws(() => parseInferRequest('{"a": "x\\q"}', "bad.json"), /invalid JSON at line 1 column 9 \(position 8\)/);
  assert.throws(() => parseInferRequest("[]", "r.json"), /r\.json: the request must be a JSON object/);
  assert.throws(() => parseInferRequest('{"inputs": []}', "r.json"), /"inputs" must be a non-empty array/);
  assert.throws(
    () => parseInferRequest('{"inputs":[{"name":"A","shape":[2],"datatype":"FLOAT","data":[1,2]}]}', "r.json"),
    /inputs\[0\] \(A\): datatype "FLOAT" is not a KServe v2 datatype/,
  );
  assert.throws(
    () => parseInferRequest('{"inputs":[{"name":"A","shape":[3],"datatype":"INT32","data":[1,2]}]}', "r.json"),
    /r\.json: inputs\[0\]: .*2 elements.*needs 3/,
  );
  assert.throws(() => parseInferRequest('{"inputs":[{"name":"A","shape":[1],"datatype":"INT32"}]}', "r.json"), /"data" is missing/);
});

test("jsonErrorOffset accepts what JSON.parse accepts", () => {
  for (const ok of ['{"a":[1,-2.5e3,true,false,null,"\\u00e9\\n"]}', " [ ] ", '""', "0", '{"x":{}}'])
    assert.equal(jsonErrorOffset(ok), -1, ok);
  for (const [bad, at] of [["[01]", 2], ["{a:1}", 1], ["[1] x", 4], ["tru", 3], ['"a\nb"', 2]] as const)
    assert.equal(jsonErrorOffset(bad), at, bad);
});
