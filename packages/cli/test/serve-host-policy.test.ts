// `iaas serve --host-policy NAME,cpu-cores=LIST`: instance groups naming the policy run on its cores (read back
// from /proc), and a malformed policy is a usage error before anything listens.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { startServe as serve, type ServeExit } from "./support/cli-process.ts";

const last = cpus().length - 1;

test("--host-policy binds the group's instance thread to the policy's cores", { skip: process.platform !== "linux" && "Linux only" }, async () => {
  const repo = mkdtempSync(join(tmpdir(), "iaas-host-policy-"));
  mkdirSync(join(repo, "bound", "1"), { recursive: true });
  writeFileSync(
    join(repo, "bound", "config.pbtxt"),
    `name: "bound"
backend: "identity"
max_batch_size: 0
input [ { name: "INPUT0", data_type: TYPE_FP32, dims: [ -1 ] } ]
output [ { name: "OUTPUT0", data_type: TYPE_FP32, dims: [ -1 ] } ]
instance_group [ { name: "boundgrp", kind: KIND_CPU, count: 1, host_policy: "lastcore" } ]
`,
  );
  const s = await serve(["--model-repository", repo, "--host-policy", `lastcore,cpu-cores=${last}`]);
  try {
    assert.equal(((await (await fetch(`${s.httpUrl}/v2/models/bound/config`)).json()) as { name: string }).name, "bound");
    const pid = s.child.pid!;
    const tid = readdirSync(`/proc/${pid}/task`).find((t) => readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim() === "boundgrp_0");
    assert.ok(tid !== undefined, "the instance thread exists");
    assert.match(readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8"), new RegExp(`^Cpus_allowed_list:\\s*${last}$`, "m"));
  } finally {
    await s.stop();
    rmSync(repo, { recursive: true, force: true });
  }
});

test("a --host-policy with another setting or a core the machine lacks is a usage error (exit 2)", async () => {
  await assert.rejects(serve(["--host-policy", "p,numa-node=0"]), (e: ServeExit) => {
    assert.equal(e.code, 2);
    assert.match(e.stderr, /--host-policy "p,numa-node=0": setting 'numa-node' is not supported by iaas \(only cpu-cores/);
    return true;
  });
  await assert.rejects(serve(["--host-policy", `p,cpu-cores=${last + 1}`]), (e: ServeExit) => {
    assert.equal(e.code, 2);
    assert.match(e.stderr, new RegExp(`cpu-cores names core ${last + 1}, but this machine has cores 0-${last}`));
    return true;
  });
});
