// Trace and logging extensions: the settings modules on their own (sampling by trace_rate/trace_count,
// per-model overrides falling back to the global values, null clearing, log levels/format/file honoured
// at run time), then the REST and gRPC endpoints of a real server.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { ServerLogger } from "../src/core/log-settings.ts";
import { TraceSettings } from "../src/core/trace-settings.ts";
import { DEFAULT_MODEL_REPOSITORY, startServer, type RunningServer } from "../src/server.ts";
import { grpcClient, http, postJson, tempRepository, type GrpcTestClient } from "./helpers.ts";

describe("TraceSettings (unit)", () => {
  test("Triton's defaults; OFF samples nothing", () => {
    const t = new TraceSettings();
    assert.deepEqual(t.get(), { trace_file: "", trace_level: ["OFF"], trace_rate: "1000", trace_count: "-1", log_frequency: "0", trace_mode: "triton" });
    for (let i = 0; i < 2000; i++) assert.equal(t.shouldTrace("m"), false);
  });

  test("trace_rate samples every N-th request and trace_count caps the total, counting down", () => {
    const t = new TraceSettings();
    t.update({ trace_level: ["TIMESTAMPS"], trace_rate: "3", trace_count: "2" });
    const picks = Array.from({ length: 12 }, () => t.shouldTrace("m"));
    assert.deepEqual(picks, [false, false, true, false, false, true, false, false, false, false, false, false]);
    assert.equal(t.get().trace_count, "0");
    // A new trace_count starts sampling again; rate 1 takes every request.
    t.update({ trace_rate: 1, trace_count: -1 });
    assert.deepEqual(Array.from({ length: 4 }, () => t.sample("m")), [["TIMESTAMPS"], ["TIMESTAMPS"], ["TIMESTAMPS"], ["TIMESTAMPS"]]);
  });

  test("model overrides fall back to the global values and sample on their own counters; null clears", () => {
    const t = new TraceSettings();
    t.update({ trace_level: ["TIMESTAMPS"], trace_rate: "2" });
    const m = t.update({ trace_level: ["TIMESTAMPS", "TENSORS"], trace_count: "1" }, "a");
    assert.deepEqual(m.trace_level, ["TIMESTAMPS", "TENSORS"]);
    assert.equal(m.trace_rate, "2", "not overridden: the global value");
    assert.equal(m.trace_count, "1");
    assert.deepEqual(t.get("b").trace_level, ["TIMESTAMPS"], "another model sees the global settings");
    assert.deepEqual([t.sample("a"), t.sample("a"), t.sample("a"), t.sample("a")], [undefined, ["TIMESTAMPS", "TENSORS"], undefined, undefined]);
    assert.equal(t.get("a").trace_count, "0");
    assert.equal(t.get().trace_count, "-1", "the global count is untouched");
    // Clearing every override returns the model to the global settings and counters.
    const cleared = t.update({ trace_level: null, trace_count: null }, "a");
    assert.deepEqual(cleared, t.get());
    // Clearing a global setting restores Triton's default.
    assert.equal(t.update({ trace_rate: null }).trace_rate, "1000");
  });

  test("invalid values are refused with the setting named, nothing changes", () => {
    const t = new TraceSettings();
    assert.throws(() => t.update({ trace_rate: "0" }), /trace setting 'trace_rate' must be an integer >= 1/);
    assert.throws(() => t.update({ trace_count: "-2" }), /'trace_count' must be an integer >= -1/);
    assert.throws(() => t.update({ trace_level: ["LOUD"] }), /'trace_level' must be a list of OFF, TIMESTAMPS, TENSORS/);
    assert.throws(() => t.update({ trace_level: ["OFF", "TENSORS"] }), /cannot combine OFF/);
    assert.throws(() => t.update({ trace_mode: "zipkin" }), /'trace_mode' must be one of triton, opentelemetry/);
    assert.throws(() => t.update({ trace_rate: "5", bogus: "1" }), /unknown trace setting 'bogus'/);
    assert.throws(() => t.update({ trace_file: "/tmp/x.json" }), /changing it over the API is disabled/);
    assert.equal(t.get().trace_rate, "1000");
    assert.equal(new TraceSettings({ allowFileSettings: true }).update({ trace_file: "/tmp/x.json" }).trace_file, "/tmp/x.json");
  });
});

describe("ServerLogger (unit)", () => {
  test("the default format's time is the wall clock: its microseconds belong to the printed second", () => {
    const lines: string[] = [];
    const log = new ServerLogger({ sink: (l) => lines.push(l) });
    for (let i = 0; i < 20; i++) {
      const before = Date.now();
      log.log("tick");
      const after = Date.now();
      const m = /^I\d{4} (\d\d):(\d\d):(\d\d)\.(\d{6}) /.exec(lines.at(-1)!);
      assert.ok(m, lines.at(-1));
      const day = new Date(before);
      day.setHours(Number(m[1]), Number(m[2]), Number(m[3]), 0);
      const printedMs = day.getTime() + Number(m[4]) / 1000;
      // Local midnight between `before` and the line would shift a day; the loop takes microseconds.
      assert.ok(printedMs >= before - 1 && printedMs <= after + 1, `printed ${lines.at(-1)} for wall clock ${before}..${after}`);
    }
  });

  test("levels, verbose threshold and both formats are applied to each line", () => {
    const lines: string[] = [];
    const log = new ServerLogger({ sink: (l) => lines.push(l) });
    log.log("an info");
    log.log("a warning", "warning");
    log.log("an error", "error");
    log.log("verbose 1", 1);
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^I\d{4} \d\d:\d\d:\d\d\.\d{6} \d+ iaas\] an info$/);
    assert.match(lines[1]!, /^W\d{4} .* a warning$/);
    assert.match(lines[2]!, /^E\d{4} .* an error$/);
    lines.length = 0;
    log.update({ log_info: false, log_error: false, log_verbose_level: 2, log_format: "ISO8601" });
    log.log("hidden info");
    log.log("hidden error", "error");
    log.log("shown warning", "warning");
    log.log("verbose 2", 2);
    log.log("verbose 3", 3);
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ W \d+ iaas\] shown warning$/);
    assert.match(lines[1]!, /Z I \d+ iaas\] verbose 2$/);
    assert.equal(log.verboseEnabled(2), true);
    assert.equal(log.verboseEnabled(3), false);
  });

  test("bad values are refused and change nothing; log_file needs allowFileSettings and receives the lines", () => {
    const log = new ServerLogger();
    assert.throws(() => log.update({ log_info: "yes" }), /'log_info' must be a boolean/);
    assert.throws(() => log.update({ log_verbose_level: -1 }), /'log_verbose_level' must be an unsigned integer/);
    assert.throws(() => log.update({ log_format: "json" }), /'log_format' must be one of "default", "ISO8601"/);
    assert.throws(() => log.update({ log_warnings: true }), /unknown log setting 'log_warnings'/);
    assert.throws(() => log.update({ log_file: "/tmp/x.log" }), /changing it over the API is disabled/);
    assert.deepEqual(log.settings().log_info, true);

    const dir = mkdtempSync(join(tmpdir(), "iaas-log-"));
    const lines: string[] = [];
    const fileLog = new ServerLogger({ sink: (l) => lines.push(l), allowFileSettings: true });
    try {
      const file = join(dir, "server.log");
      fileLog.update({ log_file: file });
      fileLog.log("to the file");
      assert.equal(lines.length, 0, "lines go to the file instead of the sink");
      assert.match(readFileSync(file, "utf8"), /iaas\] to the file\n$/);
      assert.throws(() => fileLog.update({ log_file: join(dir, "missing", "x.log") }), /cannot open .* for appending/);
      fileLog.update({ log_file: "" });
      fileLog.log("back to the sink");
      assert.equal(lines.length, 1);
    } finally {
      fileLog.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("trace and logging endpoints", () => {
  const repo = tempRepository({ simple: readFileSync(join(DEFAULT_MODEL_REPOSITORY, "simple", "config.pbtxt"), "utf8") });
  const lines: string[] = [];
  let srv: RunningServer;
  let client: GrpcTestClient;
  before(async () => {
    srv = await startServer({ modelRepository: repo.dir, httpPort: 0, grpcPort: 0, log: (l) => lines.push(l) });
    client = grpcClient(srv.grpcUrl);
  });
  after(async () => {
    client.close();
    await srv.close();
    repo.remove();
  });

  const inferSimple = () =>
    postJson(srv.httpUrl, "/v2/models/simple/infer", {
      inputs: [
        { name: "INPUT0", datatype: "INT32", shape: [1, 16], data: Array(16).fill(1) },
        { name: "INPUT1", datatype: "INT32", shape: [1, 16], data: Array(16).fill(2) },
      ],
    });

  test("HTTP: GET, POST global and per model, null clears, bad values 400, unknown model 404", async () => {
    const g = await http(srv.httpUrl, "/v2/trace/setting");
    assert.equal(g.status, 200);
    assert.deepEqual(g.json().trace_level, ["OFF"]);
    const set = await postJson(srv.httpUrl, "/v2/trace/setting", { trace_level: ["TIMESTAMPS"], trace_rate: "1", trace_count: "3" });
    assert.equal(set.status, 200, set.body.toString());
    assert.deepEqual(set.json(), { trace_file: "", trace_level: ["TIMESTAMPS"], trace_rate: "1", trace_count: "3", log_frequency: "0", trace_mode: "triton" });
    // Requests are sampled as they arrive: three traces, then trace_count is used up.
    for (let i = 0; i < 5; i++) assert.equal((await inferSimple()).status, 200);
    assert.equal((await http(srv.httpUrl, "/v2/trace/setting")).json().trace_count, "0");

    const m = await postJson(srv.httpUrl, "/v2/models/simple/trace/setting", { trace_level: ["TENSORS"], log_frequency: "10" });
    assert.deepEqual([m.json().trace_level, m.json().log_frequency, m.json().trace_rate], [["TENSORS"], "10", "1"]);
    const cleared = await postJson(srv.httpUrl, "/v2/models/simple/trace/setting", { trace_level: null });
    assert.deepEqual(cleared.json().trace_level, ["TIMESTAMPS"]);
    const bad = await postJson(srv.httpUrl, "/v2/trace/setting", { trace_rate: "fast" });
    assert.equal(bad.status, 400);
    assert.match(bad.json().error, /trace setting 'trace_rate' must be an integer >= 1/);
    assert.equal((await http(srv.httpUrl, "/v2/models/nope/trace/setting")).status, 404);
    await postJson(srv.httpUrl, "/v2/trace/setting", { trace_level: ["OFF"], trace_rate: null, trace_count: null });
  });

  test("gRPC TraceSetting: settings as value lists, an empty list clears, model_name scopes", async () => {
    const r = await client.call("TraceSetting", { settings: { trace_rate: { value: ["7"] }, trace_level: { value: ["TIMESTAMPS"] } }, model_name: "" });
    assert.deepEqual(r.settings.trace_rate.value, ["7"]);
    assert.deepEqual(r.settings.trace_level.value, ["TIMESTAMPS"]);
    const m = await client.call("TraceSetting", { settings: { trace_rate: { value: ["9"] } }, model_name: "simple" });
    assert.deepEqual(m.settings.trace_rate.value, ["9"]);
    const cleared = await client.call("TraceSetting", { settings: { trace_rate: { value: [] } }, model_name: "simple" });
    assert.deepEqual(cleared.settings.trace_rate.value, ["7"], "falls back to the global value");
    const http7 = (await http(srv.httpUrl, "/v2/models/simple/trace/setting")).json();
    assert.equal(http7.trace_rate, "7", "one store behind both protocols");
    await assert.rejects(client.call("TraceSetting", { settings: { trace_count: { value: ["x"] } }, model_name: "" }), (e: grpc.ServiceError) => {
      assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
      assert.match(e.details, /trace_count/);
      return true;
    });
    await client.call("TraceSetting", { settings: { trace_rate: { value: [] }, trace_level: { value: [] } }, model_name: "" });
  });

  test("logging over HTTP and gRPC, honoured by the running server", async () => {
    const g = await http(srv.httpUrl, "/v2/logging");
    assert.deepEqual(g.json(), { log_file: "", log_info: true, log_warning: true, log_error: true, log_verbose_level: 0, log_format: "default" });
    const set = await postJson(srv.httpUrl, "/v2/logging", { log_verbose_level: 2, log_format: "ISO8601" });
    assert.equal(set.status, 200, set.body.toString());
    assert.equal(set.json().log_verbose_level, 2);
    lines.length = 0;
    assert.equal((await inferSimple()).status, 200);
    assert.ok(lines.some((l) => /^\d{4}-\d\d-\d\dT.*Z I \d+ iaas\] infer: model 'simple' version 1/.test(l)), `verbose 2 infer line in ISO8601: ${lines.join(" | ")}`);

    const r = await client.call("LogSettings", { settings: { log_verbose_level: { uint32_param: 0 }, log_info: { bool_param: false } } });
    assert.deepEqual(r.settings.log_info, { bool_param: false, parameter_choice: "bool_param" });
    assert.equal(r.settings.log_verbose_level.uint32_param, 0);
    assert.equal(r.settings.log_format.string_param, "ISO8601");
    lines.length = 0;
    await client.call("RepositoryModelLoad", { model_name: "simple" });
    assert.equal(lines.length, 0, `info lines are off: ${lines.join(" | ")}`);

    const bad = await postJson(srv.httpUrl, "/v2/logging", { log_format: "xml" });
    assert.equal(bad.status, 400);
    assert.match(bad.json().error, /log_format/);
    const file = await postJson(srv.httpUrl, "/v2/logging", { log_file: "/tmp/iaas-should-not-exist.log" });
    assert.equal(file.status, 400);
    assert.match(file.json().error, /allowFileSettings/);
    await assert.rejects(client.call("LogSettings", { settings: { log_error: { string_param: "no" } } }), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT);
    await postJson(srv.httpUrl, "/v2/logging", { log_info: true, log_format: "default" });
    assert.equal((await http(srv.httpUrl, "/v2/logging")).json().log_info, true);
  });
});
