// Load-time config checks of the backends with one input and one output (backends/check-inputs.ts
// oneInOneOut), through the backends that use it: "stall" (FP32 copy) and "simple_sequence" (INT32 sums
// with [1] dims). Each wrong config is refused with its own message and location, in the order the
// backend checks them (count, then each tensor: type, then its extra checks, input first).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { configFromPbtxt } from "../src/repository/model-config.ts";
import { stallBackend } from "../src/backends/stall.ts";
import { simpleSequenceBackend } from "../src/backends/simple-sequence.ts";
import type { JsBackend } from "../src/backends/js-backend.ts";

const STALL = `name: "s"
backend: "stall"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
instance_group [ { kind: KIND_CPU count: 1 } ]
`;
const SEQUENCE = readFileSync(new URL("../models/simple_sequence/config.pbtxt", import.meta.url), "utf8");

function load(backend: JsBackend, text: string, name: string): void {
  const { config, locator } = configFromPbtxt(text, "config.pbtxt", name);
  backend.load(config, locator);
}

/** 1-based line of the first match of `pattern` in `text` (where the config error should point). */
function lineOf(text: string, pattern: RegExp): number {
  const m = pattern.exec(text);
  assert.ok(m, `${pattern} not in the config`);
  return text.slice(0, m.index + m[0].length).split("\n").length;
}

/** The load fails with `message`, located at line `line` of the config. */
function refused(backend: JsBackend, text: string, name: string, line: number, message: string): void {
  assert.throws(
    () => load(backend, text, name),
    (e: Error) => {
      assert.equal(e.message, `config.pbtxt:${line}: ${message}`);
      return true;
    },
  );
}

test("stall: one FP32 input and output load; a second input or another type is refused", () => {
  load(stallBackend, STALL, "s");
  const twoInputs = STALL.replace("input [ {", 'input [ { name: "INPUT1" data_type: TYPE_FP32 dims: [ -1 ] }, {');
  refused(stallBackend, twoInputs, "s", lineOf(twoInputs, /input \[/), "backend 'stall' needs exactly 1 input and 1 output, model 's' declares 2 and 1");
  const intInput = STALL.replace('INPUT0" data_type: TYPE_FP32', 'INPUT0" data_type: TYPE_INT32');
  refused(stallBackend, intInput, "s", lineOf(intInput, /TYPE_INT32/), "backend 'stall' copies TYPE_FP32, 'INPUT0' is TYPE_INT32");
  const halfOutput = STALL.replace('OUTPUT0" data_type: TYPE_FP32', 'OUTPUT0" data_type: TYPE_FP16');
  refused(stallBackend, halfOutput, "s", lineOf(halfOutput, /TYPE_FP16/), "backend 'stall' copies TYPE_FP32, 'OUTPUT0' is TYPE_FP16");
});

test("simple_sequence: the repository's config loads; count, type and dims are refused in the backend's order", () => {
  load(simpleSequenceBackend, SEQUENCE, "simple_sequence");
  const twoOutputs = SEQUENCE.replace(/output \[\n/, 'output [\n  { name: "EXTRA" data_type: TYPE_INT32 dims: [ 1 ] },\n');
  refused(simpleSequenceBackend, twoOutputs, "simple_sequence", lineOf(twoOutputs, /\ninput \[/), "backend 'simple_sequence' needs exactly 1 input and 1 output, model 'simple_sequence' declares 1 and 2");
  const outputFp32 = SEQUENCE.replace(/(name: "OUTPUT"\s+data_type: )TYPE_INT32/, "$1TYPE_FP32");
  refused(simpleSequenceBackend, outputFp32, "simple_sequence", lineOf(outputFp32, /TYPE_FP32/), "backend 'simple_sequence' accumulates TYPE_INT32, 'OUTPUT' is TYPE_FP32");
  const inputDims = SEQUENCE.replace(/(name: "INPUT"\s+data_type: TYPE_INT32\s+dims: )\[ 1 \]/, "$1[ 2 ]");
  refused(simpleSequenceBackend, inputDims, "simple_sequence", lineOf(inputDims, /dims: \[ 2 \]/), "backend 'simple_sequence' takes one value per request: 'INPUT' dims must be [1], got [2]");
  // The input's dims are checked before the output's type.
  const both = inputDims.replace(/(name: "OUTPUT"\s+data_type: )TYPE_INT32/, "$1TYPE_FP32");
  refused(simpleSequenceBackend, both, "simple_sequence", lineOf(both, /dims: \[ 2 \]/), "backend 'simple_sequence' takes one value per request: 'INPUT' dims must be [1], got [2]");
});
