// The pieces of the metrics endpoint that the end-to-end tests cannot reach on a machine without a GPU:
// the exposition writer's escaping, and the GPU sampler against an nvidia-smi stand-in script on PATH
// (the real one answers in the same CSV layout), including the fallback when nvidia-smi is missing.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderFamilies } from "../src/metrics/prometheus-text.ts";
import { GpuSampler, parseNvidiaSmiLine } from "../src/metrics/gpu-metrics.ts";
import { failureReason } from "../src/metrics/failure-reason.ts";
import { ServerError } from "../src/core/errors.ts";
import { parseExposition, sample } from "./prometheus-helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "iaas-fake-smi-"));
const savedPath = process.env.PATH;
after(() => {
  process.env.PATH = savedPath;
  rmSync(dir, { recursive: true, force: true });
});

test("label values and HELP text are escaped; bigint counters are written exactly; empty families are left out", () => {
  const text = renderFamilies([
    { name: "x_total", type: "counter", help: "a \\ help\nline", samples: [{ labels: { model: 'we"ird\\name\n' }, value: 2n ** 64n - 1n }] },
    { name: "empty", type: "gauge", help: "none", samples: [] },
  ]);
  assert.equal(text, '# HELP x_total a \\\\ help\\nline\n# TYPE x_total counter\nx_total{model="we\\"ird\\\\name\\n"} 18446744073709551615\n');
  const parsed = parseExposition(text);
  assert.equal(parsed.get("x_total")!.samples[0]!.labels.model, 'we"ird\\name\n');
});

test("nvidia-smi CSV lines: MiB to bytes, percent to 0..1, [N/A] to NaN, anything else rejected", () => {
  assert.deepEqual(parseNvidiaSmiLine("GPU-abc, 37, 81559, 1024, 71.52"), {
    uuid: "GPU-abc",
    utilization: 0.37,
    memoryTotal: 81559 * 1024 * 1024,
    memoryUsed: 1024 * 1024 * 1024,
    power: 71.52,
  });
  assert.ok(Number.isNaN(parseNvidiaSmiLine("GPU-x, 0, 10, 1, [N/A]")!.power));
  assert.equal(parseNvidiaSmiLine("No devices were found"), undefined);
  assert.equal(parseNvidiaSmiLine(""), undefined);
});

test("the GPU sampler reports every GPU nvidia-smi lists, per gpu_uuid, and leaves out unknown values", async () => {
  const script = join(dir, "nvidia-smi");
  writeFileSync(script, '#!/bin/sh\nprintf "GPU-aaa, 50, 1000, 250, 100.5\\nGPU-bbb, 0, 2000, 0, [N/A]\\n"\n');
  chmodSync(script, 0o755);
  process.env.PATH = `${dir}:${savedPath}`;
  const text = renderFamilies(await new GpuSampler(2, () => {}).families());
  const f = parseExposition(text);
  assert.equal(sample(f, "nv_gpu_utilization", { gpu_uuid: "GPU-aaa" }), 0.5);
  assert.equal(sample(f, "nv_gpu_memory_total_bytes", { gpu_uuid: "GPU-bbb" }), 2000 * 1024 * 1024);
  assert.equal(sample(f, "nv_gpu_memory_used_bytes", { gpu_uuid: "GPU-aaa" }), 250 * 1024 * 1024);
  assert.equal(sample(f, "nv_gpu_power_usage", { gpu_uuid: "GPU-aaa" }), 100.5);
  assert.equal(f.get("nv_gpu_power_usage")!.samples.length, 1, "[N/A] power is left out");
  assert.equal(f.get("nv_gpu_utilization")!.type, "gauge");
});

test("without nvidia-smi the GPU families are left out and the reason logged once; no GPU: never queried", async () => {
  process.env.PATH = join(dir, "empty");
  const logged: string[] = [];
  const sampler = new GpuSampler(1, (m) => logged.push(m));
  assert.deepEqual(await sampler.families(), []);
  assert.deepEqual(await sampler.families(), []);
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /GPU metrics disabled: nvidia-smi failed/);
  assert.deepEqual(await new GpuSampler(0, () => assert.fail("must not query")).families(), []);
  process.env.PATH = savedPath;
});

test("failure reasons as Triton labels them: queue refusals REJECTED, execution errors BACKEND, request errors OTHER", () => {
  const e = (status: ConstructorParameters<typeof ServerError>[0]) => new ServerError(status, "x");
  assert.equal(failureReason(e("UNAVAILABLE")), "REJECTED");
  assert.equal(failureReason(e("UNAVAILABLE"), { rejectReason: "queue_full" }), "REJECTED");
  assert.equal(failureReason(e("UNAVAILABLE"), { rejectReason: "timeout" }), "REJECTED");
  assert.equal(failureReason(e("CANCELLED")), "CANCELED");
  assert.equal(failureReason(e("INTERNAL")), "BACKEND");
  assert.equal(failureReason(e("INVALID_ARG")), "OTHER");
  assert.equal(failureReason(e("UNSUPPORTED")), "OTHER");
});
