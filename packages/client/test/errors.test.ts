import { test } from "node:test";
import assert from "node:assert/strict";
import { status as grpcStatus, type ServiceError, Metadata } from "@grpc/grpc-js";
import { errors as undiciErrors } from "undici";
import { InferenceError, codeForGrpcStatus, codeForHttpStatus } from "../src/index.ts";
import { httpError } from "../src/errors.ts";

test("HTTP status codes map to error codes", () => {
  const expected: [number, string][] = [
    [400, "invalid_argument"],
    [401, "unauthenticated"],
    [403, "permission_denied"],
    [404, "not_found"],
    [408, "deadline_exceeded"],
    [409, "already_exists"],
    [422, "invalid_argument"],
    [429, "resource_exhausted"],
    [500, "internal"],
    [501, "unimplemented"],
    [503, "unavailable"],
    [504, "deadline_exceeded"],
    [599, "internal"],
  ];
  for (const [status, code] of expected) assert.equal(codeForHttpStatus(status), code, String(status));
});

test("gRPC status codes map to error codes", () => {
  assert.equal(codeForGrpcStatus(grpcStatus.INVALID_ARGUMENT), "invalid_argument");
  assert.equal(codeForGrpcStatus(grpcStatus.NOT_FOUND), "not_found");
  assert.equal(codeForGrpcStatus(grpcStatus.UNAVAILABLE), "unavailable");
  assert.equal(codeForGrpcStatus(grpcStatus.UNIMPLEMENTED), "unimplemented");
  assert.equal(codeForGrpcStatus(grpcStatus.INTERNAL), "internal");
  assert.equal(codeForGrpcStatus(grpcStatus.DEADLINE_EXCEEDED), "deadline_exceeded");
  assert.equal(codeForGrpcStatus(grpcStatus.CANCELLED), "cancelled");
  assert.equal(codeForGrpcStatus(grpcStatus.ALREADY_EXISTS), "already_exists");
  assert.equal(codeForGrpcStatus(grpcStatus.RESOURCE_EXHAUSTED), "resource_exhausted");
  assert.equal(codeForGrpcStatus(grpcStatus.UNAUTHENTICATED), "unauthenticated");
  assert.equal(codeForGrpcStatus(grpcStatus.UNKNOWN), "unknown");
  assert.equal(codeForGrpcStatus(99), "unknown");
});

test("httpError carries the server's {error} message and the status", () => {
  const e = httpError(400, '{"error":"unexpected shape for input \'INPUT0\'"}');
  assert.equal(e.code, "invalid_argument");
  assert.equal(e.httpStatus, 400);
  assert.equal(e.message, "unexpected shape for input 'INPUT0'");
  assert.equal(httpError(503, "").message, "HTTP 503");
  assert.equal(httpError(500, "plain text failure").message, "plain text failure");
  assert.ok(e instanceof Error);
  assert.equal(e.name, "InferenceError");
});

test("InferenceError.from normalises grpc-js, undici, abort and timeout errors", () => {
  const se = Object.assign(new Error("5 NOT_FOUND: model 'x' not found"), {
    code: grpcStatus.NOT_FOUND,
    details: "model 'x' not found",
    metadata: new Metadata(),
  }) as ServiceError;
  const g = InferenceError.from(se);
  assert.equal(g.code, "not_found");
  assert.equal(g.grpcCode, grpcStatus.NOT_FOUND);
  assert.equal(g.message, "model 'x' not found");

  assert.equal(InferenceError.from(new undiciErrors.RequestAbortedError()).code, "cancelled");
  assert.equal(InferenceError.from(new undiciErrors.HeadersTimeoutError()).code, "deadline_exceeded");
  assert.equal(InferenceError.from(new undiciErrors.SocketError("closed")).code, "unavailable");
  assert.equal(InferenceError.from(new undiciErrors.ConnectTimeoutError()).code, "unavailable");
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
  assert.equal(InferenceError.from(refused).code, "unavailable");
  assert.equal(InferenceError.from(new DOMException("aborted", "AbortError")).code, "cancelled");
  assert.equal(InferenceError.from(new DOMException("timed out", "TimeoutError")).code, "deadline_exceeded");
  assert.equal(InferenceError.from("weird").code, "unknown");
  const same = new InferenceError("internal", "x");
  assert.equal(InferenceError.from(same), same);
});
