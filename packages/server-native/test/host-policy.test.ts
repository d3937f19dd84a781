// Triton's host policies (--host-policy NAME,cpu-cores=LIST and instance_group host_policy): parsing, the
// binding of each native instance thread to its group's cores (read back from /proc), and the load errors.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { test } from "node:test";
import { loadNativeAddon } from "../src/native/addon.ts";
import { parseCpuCores, parseHostPolicies } from "../src/scheduler/host-policy.ts";
import { binaryBody, http, postJson, serveForSuite } from "./helpers.ts";

const last = cpus().length - 1;
const linux = process.platform === "linux";

const pinned = `name: "pinned"
backend: "identity"
max_batch_size: 0
input [ { name: "INPUT0", data_type: TYPE_FP32, dims: [ -1 ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_FP32, dims: [ -1 ] } ]
instance_group [
  { name: "pin_first", kind: KIND_CPU, count: 1, host_policy: "first" },
  { name: "pin_last", kind: KIND_CPU, count: 2, host_policy: "last" },
  { name: "pin_none", kind: KIND_CPU, count: 1 }
]
`;
const stall = `name: "stalled"
backend: "stall"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
instance_group [ { kind: KIND_CPU count: 1 } ]
`;

const ctx = serveForSuite(
  { pinned, stalled: stall },
  { hostPolicies: { first: { cpuCores: [0] }, last: { cpuCores: [last] } } },
);

/** Cpus_allowed_list of this process's threads by thread name. */
function threadCores(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const tid of readdirSync("/proc/self/task")) {
    let name: string;
    let status: string;
    try {
      name = readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim();
      status = readFileSync(`/proc/self/task/${tid}/status`, "utf8");
    } catch {
      continue; // the thread ended while we listed them
    }
    const cores = /^Cpus_allowed_list:\s*(.*)$/m.exec(status)?.[1] ?? "?";
    out.set(name, [...(out.get(name) ?? []), cores]);
  }
  return out;
}

test("parseHostPolicies reads Triton's NAME,cpu-cores=LIST, ranges included", () => {
  assert.deepEqual(parseHostPolicies([`a,cpu-cores=0`, `b,cpu-cores=0-${last}`]), {
    a: { cpuCores: [0] },
    b: { cpuCores: Array.from({ length: last + 1 }, (_, i) => i) },
  });
  assert.deepEqual(parseCpuCores(`${last},0,0`, "x"), last === 0 ? [0] : [0, last]);
});

test("parseHostPolicies names what is wrong", () => {
  assert.throws(() => parseHostPolicies(["a"]), /--host-policy "a": no setting given; expected a,cpu-cores=LIST/);
  assert.throws(() => parseHostPolicies(["a,numa-node=0"]), /setting 'numa-node' is not supported by iaas \(only cpu-cores/);
  assert.throws(() => parseHostPolicies(["a,cpu-cores=x"]), /cpu-cores must be a list of core numbers and ranges such as "0-3,6", got "x"/);
  assert.throws(() => parseHostPolicies(["a,cpu-cores=3-1"]), /cpu-cores range 3-1 runs backwards/);
  assert.throws(() => parseHostPolicies([`a,cpu-cores=${last + 1}`]), new RegExp(`names core ${last + 1}, but this machine has cores 0-${last}`));
  assert.throws(() => parseHostPolicies(["a b,cpu-cores=0"]), /expected NAME,cpu-cores=LIST with a policy name/);
});

test("each native instance thread runs on its group's cores; a group without a policy is unbound", { skip: !linux && "Linux only" }, () => {
  const threads = threadCores();
  assert.deepEqual(threads.get("pin_first_0"), ["0"]);
  assert.deepEqual(threads.get("pin_last_0"), [String(last)]);
  assert.deepEqual(threads.get("pin_last_1"), [String(last)]);
  const unbound = threads.get("pin_none_0");
  assert.ok(unbound !== undefined && unbound.length === 1, "the unbound instance thread exists");
  assert.equal(unbound[0], readFileSync("/proc/self/status", "utf8").match(/^Cpus_allowed_list:\s*(.*)$/m)?.[1]);
});

test("a pinned model still answers, and its config reports the groups' host_policy", async () => {
  const data = Float32Array.from([1.5, -2, 3]);
  const { body, headerLength } = binaryBody(
    { inputs: [{ name: "INPUT0", datatype: "FP32", shape: [3], parameters: { binary_data_size: 12 } }], outputs: [{ name: "OUTPUT0", parameters: { binary_data: false } }] },
    [new Uint8Array(data.buffer)],
  );
  for (let i = 0; i < 8; i++) {
    const r = await http(ctx.srv.httpUrl, "/v2/models/pinned/infer", {
      method: "POST",
      body,
      headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(headerLength) },
    });
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual(r.json().outputs[0].data, [1.5, -2, 3]);
  }
  const config = (await http(ctx.srv.httpUrl, "/v2/models/pinned/config")).json();
  assert.deepEqual(
    config.instance_group.map((g: any) => [g.name, g.host_policy]),
    [["pin_first", "first"], ["pin_last", "last"], ["pin_none", ""]],
  );
});

test("loading a group with an undefined policy fails naming the policy and the defined ones", async () => {
  const config = (await http(ctx.srv.httpUrl, "/v2/models/pinned/config")).json();
  config.instance_group[1].host_policy = "nowhere";
  const r = await postJson(ctx.srv.httpUrl, "/v2/repository/models/pinned/load", { parameters: { config: JSON.stringify(config) } });
  assert.equal(r.status, 400, r.body.toString());
  assert.match(
    r.json().error,
    /instance_group\[1\]\.host_policy: host policy 'nowhere' is not defined \(defined: first, last\); start the server with --host-policy nowhere,cpu-cores=LIST \(model 'pinned'\)/,
  );
});

test("a backend that runs on the JS thread refuses a host policy", async () => {
  const config = (await http(ctx.srv.httpUrl, "/v2/models/stalled/config")).json();
  config.instance_group[0].host_policy = "first";
  const r = await postJson(ctx.srv.httpUrl, "/v2/repository/models/stalled/load", { parameters: { config: JSON.stringify(config) } });
  assert.equal(r.status, 400, r.body.toString());
  assert.match(r.json().error, /instance_group\[0\]\.host_policy.*backend 'stall' runs on the server's JS thread.*host_policy needs a native backend/);
});

test("the addon: a core set the process may not use fails createInstance with the reason; bad core numbers are refused", { skip: !linux && "Linux only" }, async () => {
  const addon = loadNativeAddon();
  assert.throws(
    () => addon.createInstance({ name: "far_away", kernel: "copy", device: "cpu", cpuCores: [1023] }),
    /createInstance\("far_away"\): binding the instance thread to CPU cores \[1023\] failed: Invalid argument \(none of them is a core this process may run on\)/,
  );
  assert.throws(() => addon.createInstance({ name: "neg", kernel: "copy", device: "cpu", cpuCores: [-1] }), /options\.cpuCores\[0\] must be an integer from 0 to 1023 \(got -1\)/);
  assert.throws(() => addon.createInstance({ name: "big", kernel: "copy", device: "cpu", cpuCores: [0, 1024] }), /options\.cpuCores\[1\] must be an integer from 0 to 1023/);
  const ok = addon.createInstance({ name: "core_zero", kernel: "copy", device: "cpu", cpuCores: [0] });
  await ok.close();
});
