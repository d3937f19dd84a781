// Limits and malformed requests: several hundred broken HTTP and gRPC inference requests (bad framing,
// lengths, JSON, shapes, datatypes, BYTES encoding, raw contents counts) must each get a client-error
// answer (HTTP 4xx with {"error": ...}, gRPC INVALID_ARGUMENT-class status or in-band stream error) that
// says what was wrong, and the server must still answer correctly afterwards. Also the body-size limits
// (Content-Length, streamed, inflated gzip/deflate) and the gRPC receive-size limit.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { deflateSync, gzipSync } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { seededRandom, stringifyJson } from "@iaas/client/protocol";
import { startServer, type RunningServer } from "../src/server.ts";
import { grpcClient, http, identityConfig, tempRepository, type GrpcTestClient } from "./helpers.ts";

const MAX_BODY = 64 * 1024;
const MAX_GRPC = 64 * 1024;

// pair: two INT32 inputs sharing a batch dimension (max_batch_size 4), for count/name/batch checks.
const PAIR = `name: "pair"
backend: "simple"
max_batch_size: 4
input [ { name: "INPUT0", data_type: TYPE_INT32, dims: [ 16 ] }, { name: "INPUT1", data_type: TYPE_INT32, dims: [ 16 ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_INT32, dims: [ 16 ] }, { name: "OUTPUT1", data_type: TYPE_INT32, dims: [ 16 ] } ]
instance_group [ { kind: KIND_CPU, count: 1 } ]
`;

const repo = tempRepository({
  identity_fp32: identityConfig("identity_fp32", "TYPE_FP32"),
  identity_bytes: identityConfig("identity_bytes", "TYPE_STRING"),
  pair: PAIR,
});
let srv: RunningServer;
let client: GrpcTestClient;

before(async () => {
  srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, maxBodyBytes: MAX_BODY, maxGrpcReceiveBytes: MAX_GRPC });
  client = grpcClient(srv.grpcUrl);
});
after(async () => {
  client?.close();
  await srv?.close();
  repo.remove();
});

const fp32 = (n: number): Buffer => Buffer.from(new Float32Array(n).map((_, i) => i).buffer);
const int32 = (n: number): Buffer => Buffer.from(new Int32Array(n).map((_, i) => i).buffer);
const bytesElements = (...items: string[]): Buffer =>
  Buffer.concat(items.flatMap((s) => {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(Buffer.byteLength(s));
    return [len, Buffer.from(s)];
  }));

interface HttpCase {
  what: string;
  model: string;
  body: Buffer | string;
  headers?: Record<string, string>;
  /** What the error message must mention (the tensor, the header, the field). */
  mentions?: RegExp;
}

function binaryCase(what: string, model: string, header: unknown, blob: Buffer, mentions?: RegExp, headerLength?: string): HttpCase {
  const json = Buffer.from(stringifyJson(header));
  return { what, model, body: Buffer.concat([json, blob]), headers: { "Inference-Header-Content-Length": headerLength ?? String(json.length) }, mentions };
}

const fpInput = (shape: unknown, size: unknown, extra: Record<string, unknown> = {}) => ({
  inputs: [{ name: "INPUT0", datatype: "FP32", shape, parameters: { binary_data_size: size }, ...extra }],
});

/** Hand-written malformed requests, each with what its error message has to name. */
function targetedHttpCases(): HttpCase[] {
  const good = fpInput([4], 16);
  const cases: HttpCase[] = [];
  // Inference-Header-Content-Length values that are not an integer in [0, body length].
  for (const v of ["-1", "abc", "1.5", "1e3", "", " ", "0x10", "99999999999999999999", "100000"])
    cases.push(binaryCase(`header length '${v}'`, "identity_fp32", good, fp32(4), /Inference-Header-Content-Length/, v));
  // binary_data_size disagreeing with the data that follows.
  for (const size of [15, 17, 0, -4, 1.5, "16", null, 1e12])
    cases.push(binaryCase(`binary_data_size ${JSON.stringify(size)}`, "identity_fp32", fpInput([4], size), fp32(4), /INPUT0|binary_data_size|binary data/));
  // Shapes that are not lists of non-negative integers, or do not match the bytes.
  for (const shape of [[-1], [-4], [1.5], ["4"], [null], "4", 4, [[4]], [2 ** 53], [2 ** 40, 2 ** 40], [4, -1], [], [1e308], [Number.MAX_SAFE_INTEGER]])
    cases.push(binaryCase(`shape ${JSON.stringify(shape)}`, "identity_fp32", fpInput(shape, 16), fp32(4), /INPUT0/));
  // Datatypes: unknown, wrong case, or not what the model declares.
  for (const dt of ["FP33", "fp32", "", "INT32", "FP64", "BYTES", 7, null, 12345678901234567890n])
    cases.push(binaryCase(`datatype ${String(dt)}`, "identity_fp32", { inputs: [{ name: "INPUT0", datatype: dt, shape: [4], parameters: { binary_data_size: 16 } }] }, fp32(4), /INPUT0/));
  // Input names and counts.
  cases.push(binaryCase("unknown input name", "identity_fp32", { inputs: [{ name: "INPUTX", datatype: "FP32", shape: [4], parameters: { binary_data_size: 16 } }] }, fp32(4), /INPUTX/));
  cases.push(binaryCase("input twice", "identity_fp32", { inputs: [good.inputs[0], good.inputs[0]] }, fp32(8), /INPUT0/));
  cases.push({ what: "no inputs", model: "identity_fp32", body: JSON.stringify({ inputs: [] }), mentions: /INPUT0/ });
  cases.push({ what: "inputs not an array", model: "identity_fp32", body: JSON.stringify({ inputs: {} }), mentions: /inputs/ });
  cases.push({ what: "input without name", model: "identity_fp32", body: JSON.stringify({ inputs: [{ datatype: "FP32", shape: [1], data: [1] }] }), mentions: /name/ });
  const pairInput = (name: string, shape: number[]) => ({ name, datatype: "INT32", shape, parameters: { binary_data_size: shape.reduce((a, b) => a * b, 1) * 4 } });
  cases.push(binaryCase("missing second input", "pair", { inputs: [pairInput("INPUT0", [1, 16])] }, int32(16), /INPUT1/));
  cases.push(binaryCase("batch above max_batch_size", "pair", { inputs: [pairInput("INPUT0", [5, 16]), pairInput("INPUT1", [5, 16])] }, int32(160), /batch/));
  cases.push(binaryCase("batch 0", "pair", { inputs: [pairInput("INPUT0", [0, 16]), pairInput("INPUT1", [0, 16])] }, Buffer.alloc(0), /batch/));
  cases.push(binaryCase("batch sizes differ", "pair", { inputs: [pairInput("INPUT0", [1, 16]), pairInput("INPUT1", [2, 16])] }, int32(48), /INPUT1/));
  cases.push(binaryCase("no batch dimension", "pair", { inputs: [pairInput("INPUT0", [16]), pairInput("INPUT1", [16])] }, int32(32), /INPUT0/));
  cases.push(binaryCase("wrong inner dimension", "pair", { inputs: [pairInput("INPUT0", [1, 15]), pairInput("INPUT1", [1, 15])] }, int32(30), /INPUT0/));
  // BYTES framing.
  const bytesInput = (shape: number[], size: number) => ({ inputs: [{ name: "INPUT0", datatype: "BYTES", shape, parameters: { binary_data_size: size } }] });
  const overrun = Buffer.from([200, 0, 0, 0, 65, 66]);
  cases.push(binaryCase("BYTES length past the end", "identity_bytes", bytesInput([1], overrun.length), overrun, /INPUT0/));
  cases.push(binaryCase("BYTES truncated prefix", "identity_bytes", bytesInput([2], 7), Buffer.concat([bytesElements("ab"), Buffer.from([1])]), /INPUT0/));
  const two = bytesElements("a", "bc");
  cases.push(binaryCase("BYTES count below shape", "identity_bytes", bytesInput([3], two.length), two, /INPUT0/));
  cases.push(binaryCase("BYTES count above shape", "identity_bytes", bytesInput([1], two.length), two, /INPUT0/));
  const huge = Buffer.from([0xff, 0xff, 0xff, 0xff]);
  cases.push(binaryCase("BYTES 4 GiB length", "identity_bytes", bytesInput([1], 4), huge, /INPUT0/));
  // JSON tensor data that does not match shape or datatype.
  const jsonInput = (dt: string, shape: unknown, data: unknown) => JSON.stringify({ inputs: [{ name: "INPUT0", datatype: dt, shape, data }] });
  cases.push({ what: "JSON data count", model: "identity_fp32", body: jsonInput("FP32", [3], [1, 2]), mentions: /INPUT0/ });
  cases.push({ what: "JSON data type", model: "identity_fp32", body: jsonInput("FP32", [2], ["a", "b"]), mentions: /INPUT0/ });
  cases.push({ what: "JSON huge shape", model: "identity_fp32", body: jsonInput("FP32", [2 ** 30, 2 ** 30], [1]), mentions: /INPUT0/ });
  cases.push({ what: "JSON NaN-like shape", model: "identity_fp32", body: jsonInput("FP32", ["NaN"], [1]), mentions: /INPUT0/ });
  cases.push({ what: "JSON bytes as numbers", model: "identity_bytes", body: jsonInput("BYTES", [1], [1]), mentions: /INPUT0/ });
  cases.push({ what: "JSON FP16", model: "identity_fp32", body: jsonInput("FP16", [1], [1]), mentions: /INPUT0/ });
  cases.push({ what: "no data at all", model: "identity_fp32", body: JSON.stringify({ inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1] }] }), mentions: /INPUT0/ });
  cases.push(binaryCase("data and binary_data_size", "identity_fp32", fpInput([1], 4, { data: [1] }), fp32(1), /INPUT0/));
  // Requests that are not JSON objects at all.
  cases.push({ what: "deeply nested JSON", model: "identity_fp32", body: "[".repeat(30_000) + "]".repeat(30_000), mentions: /JSON/ });
  for (const text of ["", "{", "null", "[]", "42", '"x"', "{\"inputs\": [}", "\u0000\u0001", "{\"id\": 5, \"inputs\": []}"])
    cases.push({ what: `body ${JSON.stringify(text)}`, model: "identity_fp32", body: text });
  // Requested outputs and parameters.
  cases.push(binaryCase("unknown output", "identity_fp32", { ...good, outputs: [{ name: "NOPE" }] }, fp32(4), /NOPE/));
  cases.push(binaryCase("output twice", "identity_fp32", { ...good, outputs: [{ name: "OUTPUT0" }, { name: "OUTPUT0" }] }, fp32(4), /OUTPUT0/));
  cases.push(binaryCase("bad parameter value", "identity_fp32", { ...good, parameters: { x: [1] } }, fp32(4), /parameter 'x'/));
  cases.push(binaryCase("bad binary_data_output", "identity_fp32", { ...good, parameters: { binary_data_output: "yes" } }, fp32(4), /binary_data_output/));
  return cases;
}

/** Random damage to a valid binary request: truncation, byte flips, wrong header lengths. Seeded. */
function randomHttpCases(count: number): HttpCase[] {
  const rnd = seededRandom(0x1a2b);
  const header = Buffer.from(JSON.stringify(fpInput([8], 32)));
  const valid = Buffer.concat([header, fp32(8)]);
  const out: HttpCase[] = [];
  for (let i = 0; i < count; i++) {
    const kind = i % 4;
    let body: Buffer = Buffer.from(valid);
    let headerLength = header.length;
    if (kind === 0) {
      // Truncated: cut anywhere before the end (header keeps its claimed length when it still fits).
      body = body.subarray(0, Math.floor(rnd() * (valid.length - 1)));
      headerLength = Math.min(headerLength, body.length);
    } else if (kind === 1) {
      // A few bytes of the JSON header replaced with random printable or control bytes.
      for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) body[Math.floor(rnd() * header.length)] = Math.floor(rnd() * 128);
    } else if (kind === 2) {
      // The header length pointing into the JSON or into the data.
      headerLength = Math.floor(rnd() * valid.length);
      if (headerLength === header.length) headerLength--;
    } else {
      // Extra bytes after the data nobody claims.
      body = Buffer.concat([body, Buffer.alloc(1 + Math.floor(rnd() * 9), 7)]);
    }
    out.push({ what: `random #${i} (kind ${kind})`, model: "identity_fp32", body, headers: { "Inference-Header-Content-Length": String(headerLength) } });
  }
  return out;
}

/** Runs `fn` over `items`, `width` at a time. */
async function inBatches<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

async function checkServerWorks(): Promise<void> {
  const json = Buffer.from(JSON.stringify(fpInput([4], 16)));
  const reply = await http(srv.httpUrl, "/v2/models/identity_fp32/infer", {
    body: Buffer.concat([json, fp32(4)]),
    headers: { "Inference-Header-Content-Length": String(json.length) },
  });
  assert.equal(reply.status, 200, reply.body.toString());
  assert.deepEqual(reply.json().outputs[0].data, [0, 1, 2, 3]);
  const g = await client.call("ModelInfer", { model_name: "pair", inputs: pairTensors([1, 16]), raw_input_contents: [int32(16), int32(16)] });
  assert.equal(g.raw_output_contents.length, 2);
  assert.deepEqual([...new Int32Array(new Uint8Array(g.raw_output_contents[0]).buffer)], Array.from({ length: 16 }, (_, i) => 2 * i));
}

test("every malformed HTTP infer request gets a 4xx with an error message, and the server keeps working", async () => {
  const targeted = targetedHttpCases();
  const cases = [...targeted, ...randomHttpCases(240)];
  assert.ok(cases.length >= 300, `${cases.length} cases`);
  const failures: string[] = [];
  await inBatches(cases, 16, async (c) => {
    const reply = await http(srv.httpUrl, `/v2/models/${c.model}/infer`, { body: c.body, headers: c.headers });
    if (reply.status === 200) {
      // A random change may leave the request valid (e.g. a flipped byte inside a string): then it must really be.
      if (!c.what.startsWith("random")) failures.push(`${c.what}: answered 200`);
      return;
    }
    let message: unknown;
    try {
      message = reply.json().error;
    } catch {
      message = undefined;
    }
    if (reply.status < 400 || reply.status >= 500) failures.push(`${c.what}: status ${reply.status} ${reply.body.toString().slice(0, 200)}`);
    else if (typeof message !== "string" || message.length < 10) failures.push(`${c.what}: no error message (${reply.body.toString().slice(0, 200)})`);
    else if (c.mentions && !c.mentions.test(message)) failures.push(`${c.what}: message does not mention ${c.mentions}: ${message}`);
  });
  assert.deepEqual(failures, []);
  await checkServerWorks();
});

test("connections cut mid-body or with a lying Content-Length do not disturb the server", async () => {
  const port = srv.httpPort;
  const json = Buffer.from(JSON.stringify(fpInput([1024], 4096)));
  await inBatches(Array.from({ length: 20 }, (_, i) => i), 10, (i) =>
    new Promise<void>((resolve) => {
      const s = connect(port, "127.0.0.1", () => {
        s.write(
          `POST /v2/models/identity_fp32/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ${json.length + 4096}\r\n` +
            `Inference-Header-Content-Length: ${json.length}\r\n\r\n`,
        );
        s.write(json);
        s.write(Buffer.alloc(i * 100));
        // Half the connections are reset, half closed politely, both before the promised bytes arrive.
        setTimeout(() => (i % 2 ? s.destroy() : s.end()), 5);
      });
      s.on("error", () => {});
      s.on("close", () => resolve());
      s.resume();
    }),
  );
  // Malformed HTTP framing itself (node's parser answers 400 and closes).
  const reply = await new Promise<string>((resolve) => {
    const s = connect(port, "127.0.0.1", () => s.write("POST /v2/models/identity_fp32/infer HTTP/1.1\r\nContent-Length: -5\r\n\r\n"));
    let text = "";
    s.setEncoding("utf8").on("data", (d: string) => (text += d));
    s.on("close", () => resolve(text));
    s.on("error", () => {});
  });
  assert.match(reply, /^HTTP\/1\.1 400/);
  await checkServerWorks();
});

test("body limits: Content-Length, streamed size and inflated gzip/deflate size above maxBodyBytes get 413 naming the limit", async () => {
  const path = "/v2/models/identity_fp32/infer";
  const big = Buffer.alloc(MAX_BODY + 1, 0x20);
  const declared = await http(srv.httpUrl, path, { body: big });
  assert.equal(declared.status, 413);
  assert.match(declared.json().error, new RegExp(`maximum of ${MAX_BODY} bytes.*maxBodyBytes`));

  // A streamed (chunked) body has no Content-Length: the limit is checked as it arrives.
  const chunked = await fetch(srv.httpUrl + path, {
    method: "POST",
    body: new ReadableStream({
      start(c) {
        for (let i = 0; i < 4; i++) c.enqueue(new Uint8Array(MAX_BODY / 2));
        c.close();
      },
    }),
    duplex: "half",
  } as RequestInit);
  assert.equal(chunked.status, 413);
  assert.match(((await chunked.json()) as { error: string }).error, /maxBodyBytes/);

  // A gzip bomb: 16 MiB of zeros is ~16 KiB compressed, well under the limit, but inflates past it.
  const zeros = Buffer.alloc(16 * 1024 * 1024);
  for (const [encoding, packed] of [["gzip", gzipSync(zeros)], ["deflate", deflateSync(zeros)]] as const) {
    assert.ok(packed.length < MAX_BODY);
    const reply = await http(srv.httpUrl, path, { body: packed, headers: { "Content-Encoding": encoding, "Inference-Header-Content-Length": "0" } });
    assert.equal(reply.status, 413, `${encoding}: ${reply.body.toString()}`);
    assert.match(reply.json().error, new RegExp(`after decompression exceeds the maximum of ${MAX_BODY} bytes`));
  }
  // Not compressed data at all under a compression header: 400, not a crash.
  const garbage = await http(srv.httpUrl, path, { body: Buffer.from("not gzip"), headers: { "Content-Encoding": "gzip" } });
  assert.equal(garbage.status, 400);
  assert.match(garbage.json().error, /cannot decompress gzip/);

  // Under the limit compressed requests still work.
  const json = Buffer.from(JSON.stringify(fpInput([4], 16)));
  const ok = await http(srv.httpUrl, path, {
    body: gzipSync(Buffer.concat([json, fp32(4)])),
    headers: { "Content-Encoding": "gzip", "Inference-Header-Content-Length": String(json.length) },
  });
  assert.equal(ok.status, 200, ok.body.toString());
});

const pairTensors = (shape: number[], dt = "INT32") => [
  { name: "INPUT0", datatype: dt, shape: shape.map(String) },
  { name: "INPUT1", datatype: dt, shape: shape.map(String) },
];

interface GrpcCase {
  what: string;
  request: Record<string, unknown>;
  mentions?: RegExp;
}

function grpcCases(): GrpcCase[] {
  const raw2 = [int32(16), int32(16)];
  const pair = (extra: Record<string, unknown>) => ({ model_name: "pair", inputs: pairTensors(["1", "16"] as never), raw_input_contents: raw2, ...extra });
  const cases: GrpcCase[] = [
    { what: "one raw entry for two inputs", request: pair({ raw_input_contents: [int32(16)] }), mentions: /raw_input_contents has 1 entries/ },
    { what: "three raw entries for two inputs", request: pair({ raw_input_contents: [...raw2, int32(16)] }), mentions: /raw_input_contents has 3 entries/ },
    { what: "raw entry too short", request: pair({ raw_input_contents: [int32(15), int32(16)] }), mentions: /INPUT0.*Expected 64, got 60/ },
    { what: "raw entry too long", request: pair({ raw_input_contents: [int32(16), int32(17)] }), mentions: /INPUT1.*Expected 64, got 68/ },
    { what: "raw entry empty", request: pair({ raw_input_contents: [Buffer.alloc(0), int32(16)] }), mentions: /INPUT0/ },
    { what: "contents with raw", request: pair({ inputs: [{ ...pairTensors([1, 16])[0], contents: { int_contents: [1] } }, pairTensors([1, 16])[1]] }), mentions: /contents field must not be specified/ },
    { what: "typed contents count", request: { model_name: "pair", inputs: pairTensors([1, 16]).map((t) => ({ ...t, contents: { int_contents: [1, 2] } })) }, mentions: /INPUT0.*2 elements/ },
    { what: "typed contents wrong field", request: { model_name: "pair", inputs: pairTensors([1, 16]).map((t) => ({ ...t, contents: { fp32_contents: Array(16).fill(1) } })) }, mentions: /int_contents/ },
    { what: "no data", request: { model_name: "pair", inputs: pairTensors([1, 16]) }, mentions: /INPUT0.*no data/ },
    { what: "wrong datatype", request: pair({ inputs: pairTensors([1, 16], "FP32"), raw_input_contents: raw2 }), mentions: /INPUT0.*FP32/ },
    { what: "unknown datatype", request: pair({ inputs: pairTensors([1, 16], "INT33") }), mentions: /INT33/ },
    { what: "negative dim", request: pair({ inputs: pairTensors([-1, 16]) }), mentions: /INPUT0.*shape/ },
    { what: "huge dim", request: pair({ inputs: pairTensors(["9223372036854775807", "16"] as never) }), mentions: /INPUT0.*shape/ },
    { what: "huge product", request: pair({ inputs: pairTensors([1, 2 ** 40]) }), mentions: /INPUT0/ },
    { what: "batch above max", request: pair({ inputs: pairTensors([5, 16]), raw_input_contents: [int32(80), int32(80)] }), mentions: /batch/ },
    { what: "batch 0", request: pair({ inputs: pairTensors([0, 16]), raw_input_contents: [Buffer.alloc(0), Buffer.alloc(0)] }), mentions: /batch/ },
    { what: "missing input", request: pair({ inputs: [pairTensors([1, 16])[0]], raw_input_contents: [int32(16)] }), mentions: /INPUT1/ },
    { what: "unknown input", request: pair({ inputs: [pairTensors([1, 16])[0], { name: "NOPE", datatype: "INT32", shape: ["1", "16"] }] }), mentions: /NOPE/ },
    { what: "input twice", request: pair({ inputs: [pairTensors([1, 16])[0], pairTensors([1, 16])[0]] }), mentions: /INPUT0/ },
    { what: "unknown output", request: pair({ outputs: [{ name: "NOPE" }] }), mentions: /NOPE/ },
    { what: "FP16 typed", request: { model_name: "identity_fp32", inputs: [{ name: "INPUT0", datatype: "FP16", shape: ["1"], contents: { fp32_contents: [1] } }] }, mentions: /FP16/ },
    { what: "BYTES overrun", request: { model_name: "identity_bytes", inputs: [{ name: "INPUT0", datatype: "BYTES", shape: ["1"] }], raw_input_contents: [Buffer.from([9, 0, 0, 0, 1])] }, mentions: /INPUT0/ },
    { what: "BYTES count", request: { model_name: "identity_bytes", inputs: [{ name: "INPUT0", datatype: "BYTES", shape: ["3"] }], raw_input_contents: [bytesElements("a")] }, mentions: /INPUT0/ },
    { what: "BYTES truncated prefix", request: { model_name: "identity_bytes", inputs: [{ name: "INPUT0", datatype: "BYTES", shape: ["1"] }], raw_input_contents: [Buffer.from([1, 0])] }, mentions: /INPUT0/ },
    { what: "bad version", request: pair({ model_version: "x1" }), mentions: /version/ },
    { what: "unknown model", request: pair({ model_name: "nope" }), mentions: /nope/ },
  ];
  // Seeded random raw contents for the pair model: every length but the right one, random counts.
  const rnd = seededRandom(0x5eed);
  for (let i = 0; i < 60; i++) {
    const count = Math.floor(rnd() * 4);
    const raw = Array.from({ length: count }, () => Buffer.alloc(Math.floor(rnd() * 80)));
    if (count === 2 && raw.every((r) => r.length === 64)) raw[0] = Buffer.alloc(3);
    const batch = Math.floor(rnd() * 7) - 1;
    cases.push({ what: `random raw #${i}`, request: pair({ inputs: pairTensors([batch, 16]), raw_input_contents: raw }) });
  }
  return cases;
}

const CLIENT_ERROR_CODES = new Set([grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.RESOURCE_EXHAUSTED]);

test("every malformed gRPC ModelInfer gets INVALID_ARGUMENT (or NOT_FOUND) with a message, unary and on the stream", async () => {
  const cases = grpcCases();
  const failures: string[] = [];
  await inBatches(cases, 16, async (c) => {
    try {
      await client.call("ModelInfer", c.request);
      failures.push(`${c.what}: succeeded`);
    } catch (err) {
      const e = err as grpc.ServiceError;
      if (!CLIENT_ERROR_CODES.has(e.code)) failures.push(`${c.what}: code ${e.code} ${e.details}`);
      else if (!e.details || e.details.length < 10) failures.push(`${c.what}: no message`);
      else if (c.mentions && !c.mentions.test(e.details)) failures.push(`${c.what}: message does not mention ${c.mentions}: ${e.details}`);
    }
  });
  assert.deepEqual(failures, []);

  // The same requests on one ModelStreamInfer stream: one in-band error each, the stream stays usable.
  const stream = client.raw.ModelStreamInfer();
  const answers: { error_message: string; infer_response: unknown }[] = [];
  const done = new Promise<void>((resolve, reject) => {
    stream.on("data", (m: { error_message: string; infer_response: unknown }) => answers.push(m));
    stream.on("end", resolve);
    stream.on("error", reject);
  });
  for (const c of cases) stream.write(c.request);
  stream.write({ model_name: "pair", inputs: pairTensors([1, 16]), raw_input_contents: [int32(16), int32(16)] });
  stream.end();
  await done;
  assert.equal(answers.length, cases.length + 1);
  assert.ok(answers.slice(0, -1).every((a) => a.error_message.length >= 10), "each malformed stream request gets an error_message");
  assert.equal(answers.at(-1)!.error_message, "");
  await checkServerWorks();
});

test("gRPC: bytes that are not a ModelInferRequest, and messages above maxGrpcReceiveBytes, are refused", async () => {
  // Raw garbage as the message body (not protobuf).
  const raw = new grpc.Client(srv.grpcUrl, grpc.credentials.createInsecure());
  try {
    for (const bytes of [Buffer.from([0xff, 0xff, 0xff]), Buffer.from("\x0a\xff\xff\xff\xff\x0f"), Buffer.from([0x3a, 0x80])]) {
      const err = await new Promise<grpc.ServiceError>((resolve, reject) =>
        raw.makeUnaryRequest("/inference.GRPCInferenceService/ModelInfer", (b: Buffer) => b, (b: Buffer) => b, bytes, (e) => (e ? resolve(e) : reject(new Error("accepted garbage")))),
      );
      // grpc-js answers undecodable messages itself, before any handler runs (as Triton's C++ server: INTERNAL).
      assert.equal(err.code, grpc.status.INTERNAL);
      assert.match(err.details, /Error deserializing request/);
    }
  } finally {
    raw.close();
  }
  const big = Buffer.alloc(MAX_GRPC + 1024);
  await assert.rejects(
    client.call("ModelInfer", { model_name: "identity_fp32", inputs: [{ name: "INPUT0", datatype: "FP32", shape: [String(big.length / 4)] }], raw_input_contents: [big] }),
    (err: grpc.ServiceError) => err.code === grpc.status.RESOURCE_EXHAUSTED && /larger than max/i.test(err.details),
  );
  await checkServerWorks();
});

test("startServer refuses nonsensical limits", async () => {
  await assert.rejects(startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, maxBodyBytes: 0 }), /maxBodyBytes must be an integer/);
  await assert.rejects(startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, maxGrpcReceiveBytes: 2 ** 31 }), /maxGrpcReceiveBytes/);
});
