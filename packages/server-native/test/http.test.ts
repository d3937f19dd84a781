// The HTTP/REST front end against a real server: datatype round trips (JSON and binary), the simple
// model's arithmetic, dense_mlp against a TypeScript reference, metadata/health, and error statuses.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DATATYPES, parseJson, rawToJson, stringifyJson } from "@iaas/client/protocol";
import { startServer, type RunningServer } from "../src/server.ts";
import { denseForward, generateDenseLayers } from "../src/backends/dense-mlp-weights.ts";
import { binaryBody, http, identityModels, postJson, splitBinaryResponse, tempRepository } from "./helpers.ts";
import { JSON_SAMPLES, rawSample } from "./samples.ts";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_MODEL_REPOSITORY } from "../src/server.ts";

const repoModels = {
  ...identityModels(),
  simple: readFileSync(join(DEFAULT_MODEL_REPOSITORY, "simple", "config.pbtxt"), "utf8"),
  dense_mlp: readFileSync(join(DEFAULT_MODEL_REPOSITORY, "dense_mlp", "config.pbtxt"), "utf8"),
};
const repo = tempRepository(repoModels);
// dense_mlp's config names its classification labels file.
copyFileSync(join(DEFAULT_MODEL_REPOSITORY, "dense_mlp", "labels.txt"), join(repo.dir, "dense_mlp", "labels.txt"));
let srv: RunningServer;
let base: string;

before(async () => {
  srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, maxBodyBytes: 1 << 20 });
  base = srv.httpUrl;
});
after(async () => {
  await srv.close();
  repo.remove();
});

describe("datatype round trips through identity", () => {
  for (const dt of DATATYPES) {
    const model = `identity_${dt.toLowerCase()}`;
    if (dt === "FP16" || dt === "BF16") {
      test(`${dt}: JSON data is rejected with a clear error`, async () => {
        const r = await postJson(base, `/v2/models/${model}/infer`, { inputs: [{ name: "INPUT0", datatype: dt, shape: [1], data: [1] }] });
        assert.equal(r.status, 400);
        assert.match(r.json().error, new RegExp(`input 'INPUT0': ${dt} data cannot be sent as JSON; use the binary tensor extension`));
        // Binary input but JSON output is refused before execution, naming the output.
        const raw = rawSample(dt);
        const { body, headerLength } = binaryBody({ inputs: [{ name: "INPUT0", datatype: dt, shape: [3], parameters: { binary_data_size: raw.byteLength } }] }, [raw]);
        const r2 = await http(base, `/v2/models/${model}/infer`, { body, headers: { "Inference-Header-Content-Length": String(headerLength) } });
        assert.equal(r2.status, 400);
        assert.match(r2.json().error, new RegExp(`output 'OUTPUT0' of model '${model}' is ${dt}, which cannot be returned as JSON`));
      });
    } else {
      test(`${dt}: JSON in, JSON out, values exact`, async () => {
        const values = JSON_SAMPLES[dt]!;
        const text = stringifyJson({ id: `rt-${dt}`, inputs: [{ name: "INPUT0", datatype: dt, shape: [values.length], data: values }] });
        const r = await http(base, `/v2/models/${model}/infer`, { body: text });
        assert.equal(r.status, 200, r.body.toString());
        assert.equal(r.headers.get("content-type"), "application/json");
        const out = parseJson(r.body.toString()) as any;
        assert.equal(out.id, `rt-${dt}`);
        assert.equal(out.model_name, model);
        assert.deepEqual(out.outputs, [{ name: "OUTPUT0", datatype: dt, shape: [values.length], data: values.map((v) => (typeof v === "bigint" && v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v)) }]);
      });
    }
    test(`${dt}: binary in, binary out, bytes identical`, async () => {
      const raw = rawSample(dt);
      const shape = [3];
      const { body, headerLength } = binaryBody(
        { inputs: [{ name: "INPUT0", datatype: dt, shape, parameters: { binary_data_size: raw.byteLength } }], outputs: [{ name: "OUTPUT0", parameters: { binary_data: true } }] },
        [raw],
      );
      // No Content-Type, as tritonclient sends it.
      const r = await http(base, `/v2/models/${model}/infer`, { body, headers: { "Inference-Header-Content-Length": String(headerLength) } });
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.headers.get("content-type"), "application/octet-stream");
      const { header, blobs } = splitBinaryResponse(r);
      assert.deepEqual(header.outputs[0], { name: "OUTPUT0", datatype: dt, shape, parameters: { binary_data_size: raw.byteLength } });
      assert.ok(blobs.get("OUTPUT0")!.equals(raw));
    });
  }

  test("binary_data_output request parameter makes every output binary; per-output binary_data overrides it", async () => {
    const raw = rawSample("INT32");
    const { body, headerLength } = binaryBody(
      { parameters: { binary_data_output: true }, inputs: [{ name: "INPUT0", datatype: "INT32", shape: [3], parameters: { binary_data_size: 12 } }] },
      [raw],
    );
    const r = await http(base, "/v2/models/identity_int32/infer", { body, headers: { "Inference-Header-Content-Length": String(headerLength) } });
    assert.equal(r.status, 200);
    assert.ok(splitBinaryResponse(r).blobs.get("OUTPUT0")!.equals(raw));
    const { body: b2, headerLength: h2 } = binaryBody(
      {
        parameters: { binary_data_output: true },
        inputs: [{ name: "INPUT0", datatype: "INT32", shape: [3], parameters: { binary_data_size: 12 } }],
        outputs: [{ name: "OUTPUT0", parameters: { binary_data: false } }],
      },
      [raw],
    );
    const r2 = await http(base, "/v2/models/identity_int32/infer", { body: b2, headers: { "Inference-Header-Content-Length": String(h2) } });
    assert.equal(r2.headers.get("content-type"), "application/json");
    assert.deepEqual(r2.json().outputs[0].data, JSON_SAMPLES.INT32);
  });

  test("raw binary request (Inference-Header-Content-Length: 0) uses the whole body as the single input", async () => {
    const raw = rawSample("FP64");
    const r = await http(base, "/v2/models/identity_fp64/infer", { body: raw, headers: { "Inference-Header-Content-Length": "0" } });
    assert.equal(r.status, 200, r.body.toString());
    const { header, blobs } = splitBinaryResponse(r);
    assert.deepEqual(header.outputs[0].shape, [3]);
    assert.ok(blobs.get("OUTPUT0")!.equals(raw));
  });
});

describe("models", () => {
  test("simple: OUTPUT0 = INPUT0 + INPUT1 and OUTPUT1 = INPUT0 - INPUT1, batch of 2, int32 wrap-around", async () => {
    const a = Array.from({ length: 32 }, (_, i) => i * 1000 - 7);
    const b = Array.from({ length: 32 }, (_, i) => 3 - i * i);
    a[5] = 2147483647;
    b[5] = 1;
    const r = await postJson(base, "/v2/models/simple/infer", {
      inputs: [
        { name: "INPUT0", datatype: "INT32", shape: [2, 16], data: a },
        { name: "INPUT1", datatype: "INT32", shape: [2, 16], data: b },
      ],
    });
    assert.equal(r.status, 200, r.body.toString());
    const out = r.json().outputs;
    assert.deepEqual(out.map((o: any) => [o.name, o.shape]), [["OUTPUT0", [2, 16]], ["OUTPUT1", [2, 16]]]);
    assert.deepEqual(out[0].data, a.map((x, i) => (x + b[i]!) | 0));
    assert.deepEqual(out[1].data, a.map((x, i) => (x - b[i]!) | 0));
    assert.equal(out[0].data[5], -2147483648);
  });

  test("simple: only the requested output is returned", async () => {
    const data = Array(16).fill(2);
    const r = await postJson(base, "/v2/models/simple/infer", {
      inputs: [
        { name: "INPUT0", datatype: "INT32", shape: [1, 16], data },
        { name: "INPUT1", datatype: "INT32", shape: [1, 16], data },
      ],
      outputs: [{ name: "OUTPUT1" }],
    });
    assert.deepEqual(r.json().outputs, [{ name: "OUTPUT1", datatype: "INT32", shape: [1, 16], data: Array(16).fill(0) }]);
  });

  test("dense_mlp matches a TypeScript forward pass of the same seeded weights", async () => {
    const batch = 3;
    const x = new Float32Array(batch * 256).map((_, i) => Math.sin(i) * 0.5);
    const raw = Buffer.from(x.buffer);
    const { body, headerLength } = binaryBody(
      { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [batch, 256], parameters: { binary_data_size: raw.byteLength } }], parameters: { binary_data_output: true } },
      [raw],
    );
    const r = await http(base, "/v2/models/dense_mlp/infer", { body, headers: { "Inference-Header-Content-Length": String(headerLength) } });
    assert.equal(r.status, 200, r.body.toString());
    const { header, blobs } = splitBinaryResponse(r);
    assert.deepEqual(header.outputs[0].shape, [batch, 16]);
    const got = rawToJson("FP32", blobs.get("OUTPUT0")!) as number[];
    const want = denseForward(generateDenseLayers([256, 1024, 1024, 16], 42), x, batch);
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) <= 1e-4 + 1e-3 * Math.abs(want[i]!), `element ${i}: ${v} vs ${want[i]}`));
    assert.ok(want.some((v) => Math.abs(v) > 1e-3), "reference output must not be all zeros");
  });
});

describe("metadata and health", () => {
  test("server metadata, live, ready", async () => {
    const meta = (await http(base, "/v2")).json();
    assert.equal(meta.name, "iaas");
    assert.deepEqual(meta.extensions.slice(0, 4), ["binary_tensor_data", "model_repository", "model_configuration", "statistics"]);
    for (const e of ["model_repository(unload_dependents)", "classification", "parameters", "trace", "logging"]) assert.ok(meta.extensions.includes(e), e);
    assert.deepEqual((await http(base, "/v2/health/live")).json(), { live: true });
    const ready = await http(base, "/v2/health/ready");
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json(), { ready: true });
  });

  test("model metadata shows the batch dimension as -1, versions and backend", async () => {
    const r = await http(base, "/v2/models/simple/versions/1");
    assert.deepEqual(r.json(), {
      name: "simple",
      versions: ["1"],
      platform: "simple",
      inputs: [
        { name: "INPUT0", datatype: "INT32", shape: [-1, 16] },
        { name: "INPUT1", datatype: "INT32", shape: [-1, 16] },
      ],
      outputs: [
        { name: "OUTPUT0", datatype: "INT32", shape: [-1, 16] },
        { name: "OUTPUT1", datatype: "INT32", shape: [-1, 16] },
      ],
    });
    assert.deepEqual((await http(base, "/v2/models/identity_bytes")).json().inputs, [{ name: "INPUT0", datatype: "BYTES", shape: [-1] }]);
    assert.deepEqual((await http(base, "/v2/models/simple/ready")).json(), { name: "simple", ready: true });
    const missing = await http(base, "/v2/models/nope/ready");
    assert.equal(missing.status, 400);
    assert.deepEqual(missing.json(), { name: "nope", ready: false });
  });

  test("model config reports KIND_AUTO resolved to the device used", async () => {
    const cfg = (await http(base, "/v2/models/simple/config")).json();
    assert.equal(cfg.name, "simple");
    assert.equal(cfg.max_batch_size, 8);
    assert.ok(["KIND_CPU", "KIND_GPU"].includes(cfg.instance_group[0].kind));
    assert.equal(cfg.input[0].data_type, "TYPE_INT32");
  });
});

describe("errors", () => {
  const simpleInputs = (shape0 = [1, 16], dt0 = "INT32") => [
    { name: "INPUT0", datatype: dt0, shape: shape0, data: Array(shape0.reduce((a, b) => a * b, 1)).fill(dt0 === "FP32" ? 1.5 : 1) },
    { name: "INPUT1", datatype: "INT32", shape: [1, 16], data: Array(16).fill(1) },
  ];
  const cases: [string, () => ReturnType<typeof http>, number, RegExp][] = [
    ["unknown model", () => postJson(base, "/v2/models/nope/infer", { inputs: [] }), 404, /Request for unknown model: 'nope' is not found/],
    ["unknown version", () => http(base, "/v2/models/simple/versions/7"), 404, /'simple' version 7 is not found/],
    ["unknown endpoint", () => http(base, "/v2/nothing/here"), 404, /no endpoint at GET \/v2\/nothing\/here/],
    ["wrong method", () => http(base, "/v2/models/simple/infer"), 405, /GET is not allowed on \/v2\/models\/simple\/infer; use POST/],
    ["wrong shape", () => postJson(base, "/v2/models/simple/infer", { inputs: simpleInputs([1, 8]) }), 400, /unexpected shape for input 'INPUT0' for model 'simple'. Expected \[-1,16\], got \[1,8\]/],
    ["batch too large", () => postJson(base, "/v2/models/simple/infer", { inputs: simpleInputs([9, 16]) }), 400, /batch-size must be between 1 and 8 for 'simple'/],
    ["wrong datatype", () => postJson(base, "/v2/models/simple/infer", { inputs: simpleInputs([1, 16], "FP32") }), 400, /inference input 'INPUT0' data-type is 'FP32', but model 'simple' expects 'INT32'/],
    ["missing input", () => postJson(base, "/v2/models/simple/infer", { inputs: simpleInputs().slice(0, 1) }), 400, /missing required input\(s\) 'INPUT1'/],
    ["unknown output", () => postJson(base, "/v2/models/simple/infer", { inputs: simpleInputs(), outputs: [{ name: "OUT9" }] }), 400, /unexpected inference output 'OUT9' for model 'simple'/],
    ["data count vs shape", () => postJson(base, "/v2/models/identity_int32/infer", { inputs: [{ name: "INPUT0", datatype: "INT32", shape: [4], data: [1, 2] }] }), 400, /input 'INPUT0': data has 2 elements, shape needs 4/],
    ["value out of range", () => postJson(base, "/v2/models/identity_uint8/infer", { inputs: [{ name: "INPUT0", datatype: "UINT8", shape: [1], data: [256] }] }), 400, /element 0 \(256\) is out of range for UINT8/],
    ["malformed JSON", () => http(base, "/v2/models/simple/infer", { body: '{"inputs": [' }), 400, /failed to parse the inference request header as JSON/],
    ["header length not a number", () => http(base, "/v2/models/simple/infer", { body: "{}", headers: { "Inference-Header-Content-Length": "abc" } }), 400, /Inference-Header-Content-Length must be an integer between 0 and the body length 2, got 'abc'/],
    ["header length past the body", () => http(base, "/v2/models/simple/infer", { body: "{}", headers: { "Inference-Header-Content-Length": "3" } }), 400, /Inference-Header-Content-Length must be an integer between 0 and the body length 2, got '3'/],
    ["header length negative", () => http(base, "/v2/models/simple/infer", { body: "{}", headers: { "Inference-Header-Content-Length": "-1" } }), 400, /Inference-Header-Content-Length must be an integer/],
    ["binary data too short", () => {
      const { body, headerLength } = binaryBody({ inputs: [{ name: "INPUT0", datatype: "INT32", shape: [3], parameters: { binary_data_size: 12 } }] }, [Buffer.alloc(8)]);
      return http(base, "/v2/models/identity_int32/infer", { body, headers: { "Inference-Header-Content-Length": String(headerLength) } });
    }, 400, /input 'INPUT0': binary_data_size is 12 but only 8 bytes of binary data remain/],
    ["binary data left over", () => {
      const { body, headerLength } = binaryBody({ inputs: [{ name: "INPUT0", datatype: "INT32", shape: [3], parameters: { binary_data_size: 12 } }] }, [Buffer.alloc(16)]);
      return http(base, "/v2/models/identity_int32/infer", { body, headers: { "Inference-Header-Content-Length": String(headerLength) } });
    }, 400, /4 bytes of binary data follow the JSON header but are not claimed by any input \(the last binary input is 'INPUT0'/],
    ["binary size vs shape", () => {
      const { body, headerLength } = binaryBody({ inputs: [{ name: "INPUT0", datatype: "INT32", shape: [4], parameters: { binary_data_size: 12 } }] }, [Buffer.alloc(12)]);
      return http(base, "/v2/models/identity_int32/infer", { body, headers: { "Inference-Header-Content-Length": String(headerLength) } });
    }, 400, /input byte size mismatch for input 'INPUT0' for model 'identity_int32'. Expected 16, got 12/],
    ["truncated BYTES element", () => {
      const bad = Buffer.from([5, 0, 0, 0, 65]);
      const { body, headerLength } = binaryBody({ inputs: [{ name: "INPUT0", datatype: "BYTES", shape: [1], parameters: { binary_data_size: bad.byteLength } }] }, [bad]);
      return http(base, "/v2/models/identity_bytes/infer", { body, headers: { "Inference-Header-Content-Length": String(headerLength) } });
    }, 400, /input 'INPUT0' for model 'identity_bytes': BYTES element 0: length 5 at byte 0 runs past the end of 5 bytes/],
    ["body over the limit", () => http(base, "/v2/models/identity_uint8/infer", { body: Buffer.alloc((1 << 20) + 1) }), 413, /exceeds the maximum of 1048576 bytes/],
    ["shared memory", () => postJson(base, "/v2/models/identity_int32/infer", { inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1], parameters: { shared_memory_region: "r" } }] }), 501, /shared memory tensors are not supported/],
  ];
  for (const [name, send, status, message] of cases) {
    test(`${name} -> ${status} with a message naming the problem`, async () => {
      const r = await send();
      assert.equal(r.status, status, r.body.toString());
      assert.equal(r.headers.get("content-type"), "application/json");
      assert.match(r.json().error, message);
    });
  }

  test("gzip request bodies are inflated", async () => {
    const { gzipSync } = await import("node:zlib");
    const body = gzipSync(JSON.stringify({ inputs: [{ name: "INPUT0", datatype: "INT16", shape: [2], data: [-5, 6] }] }));
    const r = await http(base, "/v2/models/identity_int16/infer", { body, headers: { "Content-Encoding": "gzip" } });
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual(r.json().outputs[0].data, [-5, 6]);
  });

  test("malformed requests never take the server down", async () => {
    const junk = [
      Buffer.from([0xff, 0xfe, 0x00, 0x7b]),
      Buffer.from("[1,2,3]"),
      Buffer.from('{"inputs": "x"}'),
      Buffer.from('{"inputs": [{"name": 5}]}'),
      Buffer.from('{"inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": [-3], "data": []}]}'),
      Buffer.from('{"inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": [1e300], "data": []}]}'),
      Buffer.from('{"inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": [1], "data": [[[[1]]]]}], "outputs": [null]}'),
      Buffer.from('{"inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": [1], "data": [{"a":1}]}]}'),
    ];
    for (const body of junk) {
      for (const model of ["identity_int32", "simple", "identity_bytes"]) {
        const r = await http(base, `/v2/models/${model}/infer`, { body, headers: { "Inference-Header-Content-Length": String(body.byteLength) } });
        assert.ok(r.status >= 400 && r.status < 500, `${model} ${body.toString()} -> ${r.status}`);
        assert.equal(typeof r.json().error, "string");
      }
    }
    const bad = await http(base, "/v2/models/%E0%A4%A/infer", { body: "{}" });
    assert.equal(bad.status, 400);
    const ok = await postJson(base, "/v2/models/identity_int32/infer", { inputs: [{ name: "INPUT0", datatype: "INT32", shape: [1], data: [9] }] });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json().outputs[0].data, [9]);
  });
});
