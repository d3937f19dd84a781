// Pure helpers of the extension surface: parsing classification strings, and telling "this server has
// no such endpoint" (unimplemented) from "no such model" (not_found) in HTTP answers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { InferenceError, Tensor, parseClassification, parseClassifications } from "../src/index.ts";
import { extensionGrpcError, extensionHttpError } from "../src/unsupported.ts";

test("parseClassification: value, index, optional label (which may contain ':')", () => {
  assert.deepEqual(parseClassification("0.900000:1"), { score: 0.9, value: "0.900000", index: 1 });
  assert.deepEqual(parseClassification("15.349675:504:COFFEE MUG"), { score: 15.349675, value: "15.349675", index: 504, label: "COFFEE MUG" });
  assert.deepEqual(parseClassification("-3:0:a:b:c"), { score: -3, value: "-3", index: 0, label: "a:b:c" });
  assert.deepEqual(parseClassification("7:2:"), { score: 7, value: "7", index: 2, label: "" });
  const nan = parseClassification("nan:4");
  assert.ok(Number.isNaN(nan.score));
  assert.equal(nan.index, 4);
  for (const bad of ["", "0.5", "x:1", "1:-2", "1:two", ":3"])
    assert.throws(() => parseClassification(bad), (e: InferenceError) => e.code === "invalid_argument" && e.message.includes(JSON.stringify(bad)), bad);
});

test("parseClassifications groups rows by the last dimension; a 1-D tensor is one row", () => {
  const batched = new Tensor("OUT", "BYTES", [2, 2], ["4:1:east", "2:3:west", "9:0", "8:1"]);
  assert.deepEqual(
    parseClassifications(batched).map((row) => row.map((c) => [c.index, c.label])),
    [
      [[1, "east"], [3, "west"]],
      [[0, undefined], [1, undefined]],
    ],
  );
  const flat = new Tensor("OUT", "BYTES", [3], [new TextEncoder().encode("1.5:2"), "1:0", "0.5:1"]);
  assert.deepEqual(parseClassifications(flat).map((row) => row.map((c) => c.score)), [[1.5, 1, 0.5]]);
  assert.deepEqual(parseClassifications(new Tensor("OUT", "BYTES", [2, 0], [])), [[], []]);
  assert.throws(() => parseClassifications(new Tensor("OUT", "FP32", [1], Float32Array.of(1))), /classification results are BYTES/);
});

test("extension endpoint answers: missing route -> unimplemented, model error -> the server's code", () => {
  const missing = extensionHttpError(404, '{"detail":"Not Found"}', "modelConfig(m)", "GET /v2/models/m/config", true);
  assert.equal(missing.code, "unimplemented");
  assert.equal(missing.httpStatus, 404);
  assert.equal(missing.message, "modelConfig(m) is not supported by this server (GET /v2/models/m/config: HTTP 404)");
  assert.equal(extensionHttpError(404, "<html>nope</html>", "w", "e", true).code, "unimplemented");
  assert.equal(extensionHttpError(404, "", "w", "e", true).code, "unimplemented");
  // The server's own {"error"} on a per-model endpoint: the model is the problem.
  const model = extensionHttpError(404, '{"error":"Request for unknown model: \'m\' is not found"}', "w", "e", true);
  assert.equal(model.code, "not_found");
  assert.match(model.message, /unknown model/);
  // Without a model in the path a 404 can only mean the route; 405/501 always do.
  assert.equal(extensionHttpError(404, '{"error":"nope"}', "w", "e", false).code, "unimplemented");
  assert.equal(extensionHttpError(405, '{"error":"x"}', "w", "e", true).code, "unimplemented");
  assert.equal(extensionHttpError(501, '{"error":"x"}', "w", "e", true).code, "unimplemented");
  assert.equal(extensionHttpError(400, '{"error":"bad"}', "w", "e", false).code, "invalid_argument");

  const grpcErr = extensionGrpcError(new InferenceError("unimplemented", "unknown method", { grpcCode: 12 }), "logSettings", "LogSettings") as InferenceError;
  assert.equal(grpcErr.code, "unimplemented");
  assert.equal(grpcErr.grpcCode, 12);
  assert.match(grpcErr.message, /^logSettings is not supported by this server \(inference\.GRPCInferenceService\/LogSettings: unknown method\)$/);
  const other = new InferenceError("not_found", "x");
  assert.equal(extensionGrpcError(other, "w", "R"), other);
});
