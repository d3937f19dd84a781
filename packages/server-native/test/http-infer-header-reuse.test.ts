// A repeated binary infer header is built from the template of its first decode (infer-header-reuse.ts):
// the result must equal the full decode's, with fresh objects per request and the new body's bytes, and
// anything the template does not cover (other binary length, JSON data, shared memory) must take the
// full path.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { decodeInferRequest } from "../src/frontends/http/infer-codec.ts";
import { forgetReusedHeaders, headerReuseCounts, MAX_REUSED_HEADER_CHARS, MAX_REUSED_HEADERS } from "../src/frontends/http/infer-header-reuse.ts";
import { startServer, type RunningServer } from "../src/server.ts";
import { binaryBody, http, identityConfig, tempRepository } from "./helpers.ts";

const repo = tempRepository({ ident: identityConfig("ident", "TYPE_FP32"), ident2: identityConfig("ident2", "TYPE_FP32") });
let running: RunningServer;
before(async () => {
  running = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0, metrics: false, modelRepository: repo.dir, sharedMemory: "system" });
});
after(async () => {
  await running.close();
  repo.remove();
});

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

/** JSON header (an object, or its exact text) + binary blobs, as the binary tensor extension frames a request. */
function frame(header: unknown, blobs: Uint8Array[]): { body: Buffer; headerLength: number } {
  if (typeof header !== "string") return binaryBody(header, blobs);
  const json = Buffer.from(header);
  return { body: Buffer.concat([json, ...blobs]), headerLength: json.byteLength };
}

/** Decodes `header` + `blobs` as the HTTP front end does. */
function decode(model: string, header: unknown, blobs: Uint8Array[]) {
  const { body, headerLength } = frame(header, blobs);
  return decodeInferRequest(running.server, model, undefined, body, String(headerLength));
}

const headers: [string, unknown, Uint8Array[]][] = [
  ["one binary input", { inputs: [{ name: "INPUT0", shape: [4], datatype: "FP32", parameters: { binary_data_size: 16 } }] }, [bytes(16, 1)]],
  [
    "two inputs, outputs with parameters, id and request parameters",
    {
      id: "req-7",
      inputs: [
        { name: "A", shape: [2, 2], datatype: "INT32", parameters: { binary_data_size: 16, note: "x" } },
        { name: "B", shape: [3], datatype: "UINT8", parameters: { binary_data_size: 3 } },
      ],
      outputs: [{ name: "OUT0", parameters: { binary_data: true } }, { name: "OUT1" }],
      parameters: { binary_data_output: true, priority: 2, custom: "y" },
    },
    [bytes(16, 2), bytes(3, 3)],
  ],
  [
    "an empty output list and a large integer parameter (kept exact as a bigint)",
    '{"inputs":[{"name":"INPUT0","shape":[1],"datatype":"INT64","parameters":{"binary_data_size":8}}],"outputs":[],"parameters":{"big":12345678901234567890}}',
    [bytes(8, 4)],
  ],
];

for (const [what, header, blobs] of headers) {
  test(`reused header equals the full decode: ${what}`, () => {
    forgetReusedHeaders();
    const full = decode("ident", header, blobs);
    const { hits } = headerReuseCounts();
    // Same header, other tensor bytes: built from the template.
    const otherBlobs = blobs.map((b, i) => bytes(b.byteLength, 100 + i));
    const reused = decode("ident", header, otherBlobs);
    assert.equal(headerReuseCounts().hits, hits + 1, "the second decode used the template");
    forgetReusedHeaders();
    const fullOther = decode("ident", header, otherBlobs);
    assert.deepEqual(reused, fullOther, "template result equals the full decode of the same body");
    assert.deepEqual(reused, { ...full, inputs: full.inputs.map((x, i) => ({ ...x, data: reused.inputs[i]!.data })) }, "and the first decode but for the data");
    for (let i = 0; i < otherBlobs.length; i++) assert.deepEqual(new Uint8Array(reused.inputs[i]!.data), otherBlobs[i], `input ${i} holds the new body's bytes`);
    assert.notDeepEqual(reused.inputs.map((x) => x.data), full.inputs.map((x) => x.data), "data comes from the new body, not the first");
  });
}

test("requests built from one template share no objects: changing one leaves the next intact", () => {
  forgetReusedHeaders();
  const [, header, blobs] = headers[1]!;
  const first = decode("ident", header, blobs);
  const a = decode("ident", header, blobs);
  a.inputs[0]!.shape[0] = 99;
  a.inputs[0]!.parameters!.note = "changed";
  a.parameters!.custom = "changed";
  a.outputs![0]!.parameters!.binary_data = false;
  a.inputs.pop();
  const b = decode("ident", header, blobs);
  assert.deepEqual(b, first);
  assert.notEqual(b.inputs[0], a.inputs[0]);
});

test("the model and version come from the call, not the template", () => {
  forgetReusedHeaders();
  const [, header, blobs] = headers[0]!;
  decode("ident", header, blobs);
  const { body, headerLength } = frame(header, blobs);
  const other = decodeInferRequest(running.server, "ident2", "1", body, String(headerLength));
  assert.equal(other.model, "ident2");
  assert.equal(other.version, "1");
});

test("another binary length, JSON tensor data and shared memory take the full path", () => {
  forgetReusedHeaders();
  const [, header, blobs] = headers[0]!;
  decode("ident", header, blobs);
  const { hits } = headerReuseCounts();
  // Same header text, 4 more bytes of binary data than it claims: the full path's error.
  const { body, headerLength } = frame(header, [bytes(20, 5)]);
  assert.throws(() => decodeInferRequest(running.server, "ident", undefined, body, String(headerLength)), /4 bytes of binary data follow the JSON header but are not claimed/);
  // JSON data is never kept: every decode is a full one.
  const jsonHeader = { inputs: [{ name: "INPUT0", shape: [2], datatype: "FP32", data: [1, 2] }] };
  const j1 = decode("ident", jsonHeader, []);
  const j2 = decode("ident", jsonHeader, []);
  assert.deepEqual(j2, j1);
  const shmHeader = { inputs: [{ name: "INPUT0", shape: [2], datatype: "FP32", parameters: { shared_memory_region: "r", shared_memory_byte_size: 8 } }] };
  const s1 = decode("ident", shmHeader, []);
  const s2 = decode("ident", shmHeader, []);
  assert.deepEqual(s2, s1);
  assert.equal(s2.inputs[0]!.sharedMemory?.region, "r");
  assert.equal(headerReuseCounts().hits, hits, "none of these was built from a template");
  assert.equal(headerReuseCounts().kept, 1, "only the binary header is kept");
});

test("a header longer than MAX_REUSED_HEADER_CHARS is decoded in full every time", () => {
  forgetReusedHeaders();
  const header = { id: "x".repeat(MAX_REUSED_HEADER_CHARS), inputs: [{ name: "INPUT0", shape: [1], datatype: "FP32", parameters: { binary_data_size: 4 } }] };
  const first = decode("ident", header, [bytes(4, 1)]);
  const { hits } = headerReuseCounts();
  assert.deepEqual(decode("ident", header, [bytes(4, 1)]), first);
  assert.deepEqual(headerReuseCounts(), { hits, kept: 0 });
});

test("at most MAX_REUSED_HEADERS templates are kept", () => {
  forgetReusedHeaders();
  for (let i = 0; i <= MAX_REUSED_HEADERS; i++) decode("ident", { id: `n${i}`, inputs: [{ name: "INPUT0", shape: [1], datatype: "FP32", parameters: { binary_data_size: 4 } }] }, [bytes(4, i)]);
  assert.ok(headerReuseCounts().kept <= MAX_REUSED_HEADERS);
});

test("over HTTP: the same binary request twice gets the same answer, from the template the second time", async () => {
  forgetReusedHeaders();
  const header = { inputs: [{ name: "INPUT0", shape: [4], datatype: "FP32", parameters: { binary_data_size: 16 } }], parameters: { binary_data_output: true } };
  const values = [new Float32Array([1, 2, 3, 4]), new Float32Array([-1, 0.5, 7, 9])];
  const answers: Buffer[] = [];
  for (const v of values) {
    const { body, headerLength } = binaryBody(header, [new Uint8Array(v.buffer)]);
    const reply = await http(running.httpUrl, "/v2/models/ident/infer", { body, headers: { "Inference-Header-Content-Length": String(headerLength) } });
    assert.equal(reply.status, 200, reply.body.toString());
    answers.push(reply.body.subarray(Number(reply.headers.get("inference-header-content-length"))));
  }
  assert.equal(headerReuseCounts().kept, 1);
  assert.deepEqual(new Float32Array(answers[1]!.buffer.slice(answers[1]!.byteOffset, answers[1]!.byteOffset + 16)), values[1]);
  assert.deepEqual(new Float32Array(answers[0]!.buffer.slice(answers[0]!.byteOffset, answers[0]!.byteOffset + 16)), values[0]);
});
