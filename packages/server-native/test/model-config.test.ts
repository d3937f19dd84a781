// config.pbtxt parsing and ModelConfig validation: valid configs decode to the expected typed config;
// every kind of error names the file and line (pbtxt) or the JSON path (load override).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parsePbtxt, PbtxtError } from "../src/repository/pbtxt.ts";
import { configFromJson, configFromPbtxt } from "../src/repository/model-config.ts";
import { DEFAULT_MODEL_REPOSITORY } from "../src/server.ts";

const FILE = "/repo/m/config.pbtxt";

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  assert.fail("expected an error");
}

test("pbtxt parser: scalars, nested messages, lists, repeated fields, comments, escapes", () => {
  const tree = parsePbtxt(
    [
      '# comment line',
      'name: "a\\tb\\"c" \'x\' # trailing comment',
      "count: -12",
      "ratio: 1.5e-3",
      "kind: KIND_GPU",
      "dims: [ 1, -1 , 0x10 ]",
      "input [ { name: \"I0\" }, { name: \"I1\" } ]",
      "group < id: 3; >",
      "group: { id: 4 },",
    ].join("\n"),
    "t.pbtxt",
  );
  const byName = (n: string) => tree.fields.filter((f) => f.name === n);
  const name = byName("name")[0]!;
  assert.deepEqual(name.value, { kind: "string", value: 'a\tb"cx', line: 2 });
  assert.equal((byName("count")[0]!.value as { value: number }).value, -12);
  assert.equal((byName("ratio")[0]!.value as { value: number }).value, 1.5e-3);
  assert.deepEqual(byName("kind")[0]!.value, { kind: "identifier", text: "KIND_GPU", line: 5 });
  const dims = byName("dims")[0]!.value;
  assert.equal(dims.kind, "list");
  assert.deepEqual(dims.kind === "list" && dims.items.map((i) => (i as { value: number }).value), [1, -1, 16]);
  const input = byName("input")[0]!.value;
  assert.equal(input.kind === "list" && input.items.length, 2);
  assert.equal(byName("group").length, 2);
  assert.equal(byName("group")[1]!.line, 9);
});

test("pbtxt parser: syntax errors name file, line and column", () => {
  const cases: [string, number, RegExp][] = [
    ['name: "x"\nmax_batch_size 8\n', 2, /expected ':' or '\{' after field name 'max_batch_size'/],
    ['name: "x"\ninput {\n  name: "a"\n', 4, /expected '\}' before end of file/],
    ['name: "unterminated\n', 1, /unterminated string/],
    ["dims: [1 2]\n", 1, /expected ',' between elements of list 'dims'/],
    ["\n\nname: @\n", 3, /unexpected character '@'/],
  ];
  for (const [text, line, message] of cases) {
    const err = errorOf(() => parsePbtxt(text, FILE));
    assert.ok(err instanceof PbtxtError, String(err));
    assert.equal(err.line, line, err.message);
    assert.match(err.message, new RegExp(`^${FILE.replace(/\//g, "\\/")}:${line}:\\d+: `));
    assert.match(err.message, message);
  }
});

test("the shipped model configs parse to the expected typed configs", () => {
  const read = (m: string) => {
    const file = join(DEFAULT_MODEL_REPOSITORY, m, "config.pbtxt");
    return configFromPbtxt(readFileSync(file, "utf8"), file, m).config;
  };
  const simple = read("simple");
  assert.equal(simple.name, "simple");
  assert.equal(simple.backend, "simple");
  assert.equal(simple.max_batch_size, 8);
  assert.deepEqual(
    simple.input.map((t) => [t.name, t.data_type, t.dims]),
    [["INPUT0", "TYPE_INT32", [16]], ["INPUT1", "TYPE_INT32", [16]]],
  );
  assert.deepEqual(simple.output.map((t) => t.name), ["OUTPUT0", "OUTPUT1"]);
  // No instance_group in Triton's example: one KIND_AUTO instance by default.
  assert.deepEqual(simple.instance_group, [{ name: "simple_0", kind: "KIND_AUTO", count: 1, gpus: [], host_policy: "" }]);
  assert.deepEqual(simple.version_policy, { latest: { num_versions: 1 } });

  const dense = read("dense_mlp");
  assert.deepEqual(dense.parameters, { layer_sizes: { string_value: "256,1024,1024,16" }, seed: { string_value: "42" } });
  assert.equal(dense.max_batch_size, 64);
  assert.equal(read("identity_fp32").input[0]!.dims[0], -1);
  assert.equal(read("identity_bytes").input[0]!.data_type, "TYPE_STRING");
});

const BASE = `name: "m"
backend: "identity"
input [ { name: "I", data_type: TYPE_FP32, dims: [ -1 ] } ]
output [ { name: "O", data_type: TYPE_FP32, dims: [ -1 ] } ]
`;

test("config errors name FILE:LINE for unknown fields, bad values and unsupported features", () => {
  const cases: [string, number, RegExp][] = [
    [BASE + "instance_group [ { count: 2, colour: 3 } ]\n", 5, /unknown field 'colour' in ModelInstanceGroup/],
    [BASE + "max_batch_size: \"eight\"\n", 5, /field 'max_batch_size' expects an integer \(int32\), got "eight"/],
    [BASE + "max_batch_size: 1.5\n", 5, /expects an integer/],
    [BASE + "instance_group [ { kind: KIND_TPU } ]\n", 5, /invalid Kind value KIND_TPU; expected one of KIND_AUTO/],
    [BASE + "instance_group [\n  {\n    count: 0\n  }\n]\n", 7, /instance_group count must be >= 1, got 0/],
    [BASE + "max_batch_size: -1\n", 5, /max_batch_size must be >= 0/],
    [BASE + "dynamic_batching { }\nsequence_batching { }\n", 6, /'sequence_batching' and 'dynamic_batching' are alternatives/],
    [BASE + "response_cache { enable: true }\n", 5, /response cache is not supported/],
    [BASE.replace('dims: [ -1 ] } ]\noutput', 'dims: [ 0 ] } ]\noutput'), 3, /dimension 0 is 0; dims must be >= 1 or -1/],
    [BASE + 'name: "again"\n', 5, /field 'name' is set more than once/],
    ['name: "other"\n' + BASE.slice(BASE.indexOf("\n") + 1), 1, /model name 'other' does not match its repository folder 'm'/],
  ];
  for (const [text, line, message] of cases) {
    const err = errorOf(() => configFromPbtxt(text, FILE, "m"));
    assert.equal((err as { status?: string }).status, "INVALID_ARG", err.message);
    assert.ok(err.message.startsWith(`${FILE}:${line}: `), `${err.message} should start with ${FILE}:${line}`);
    assert.match(err.message, message);
  }
  const syntax = errorOf(() => configFromPbtxt(BASE + "output {\n", FILE, "m"));
  assert.match(syntax.message, new RegExp(`syntax error in ${FILE}:6:1: expected '}' before end of file`));
});

test("JSON config overrides: protobuf JSON names, camelCase, int64 strings; errors name the JSON path", () => {
  const json = {
    name: "m",
    backend: "identity",
    maxBatchSize: 4,
    input: [{ name: "I", data_type: "TYPE_INT64", dims: ["3"] }],
    output: [{ name: "O", dataType: "TYPE_INT64", dims: [3] }],
    instance_group: [{ count: 3, kind: "KIND_CPU" }],
    parameters: { k: { string_value: "v" } },
  };
  const { config } = configFromJson(JSON.stringify(json), "config override", "m");
  assert.equal(config.max_batch_size, 4);
  assert.deepEqual(config.input[0]!.dims, [3]);
  assert.equal(config.output[0]!.data_type, "TYPE_INT64");
  assert.deepEqual(config.instance_group, [{ name: "m_0", kind: "KIND_CPU", count: 3, gpus: [], host_policy: "" }]);
  assert.deepEqual(config.parameters, { k: { string_value: "v" } });

  const bad = (patch: object) => errorOf(() => configFromJson(JSON.stringify({ ...json, ...patch }), "config override", "m")).message;
  assert.match(bad({ instance_group: [{ count: "many" }] }), /^config override at instance_group\[0\]\.count: expected an integer \(int32\), got string "many"/);
  assert.match(bad({ input: [{ name: "I", data_type: "TYPE_FLOAT", dims: [1] }] }), /^config override at input\[0\]\.data_type: invalid DataType value "TYPE_FLOAT"/);
  assert.match(bad({ shape: [1] }), /^config override at shape: unknown field 'shape' in ModelConfig/);
  assert.match(bad({ instance_group: [{ kind: "KIND_CPU", gpus: [0] }] }), /^config override at instance_group\[0\]\.gpus: gpus cannot be listed for a KIND_CPU/);
  assert.match(errorOf(() => configFromJson("{nope", "config override", "m")).message, /config override is not valid JSON/);
});
