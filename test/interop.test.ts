// A third-party KServe v2 client (Python http.client + gRPC C-core, tritonclient's wire behaviour)
// checks health, metadata and inference on `simple` against the reference server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PROTO_DIR } from "@iaas/client/protocol";
import { startServer } from "@iaas/server-native";

const PYTHON = "/usr/bin/python3";
const script = fileURLToPath(new URL("./interop/kserve_wire_client.py", import.meta.url));

function pythonHasGrpc(): boolean {
  return spawnSync(PYTHON, ["-c", "import grpc, google.protobuf"]).status === 0 && spawnSync("protoc", ["--version"]).status === 0;
}

test("third-party KServe v2 client (Python HTTP + gRPC C-core) talks to the reference server", async (t) => {
  if (!pythonHasGrpc()) {
    // CI installs python3-grpcio, python3-protobuf and protobuf-compiler; there the test must run.
    if (process.env.CI) assert.fail("python3-grpcio / protobuf-compiler missing in CI: .ci/run should install them");
    t.skip("python3-grpcio or protoc not installed (apt-get install python3-grpcio python3-protobuf protobuf-compiler)");
    return;
  }
  const pb2 = mkdtempSync(join(tmpdir(), "iaas-pb2-"));
  const server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0 });
  try {
    const gen = spawnSync("protoc", [`-I${PROTO_DIR}`, `--python_out=${pb2}`, "grpc_service.proto", "model_config.proto"], {
      encoding: "utf8",
    });
    assert.equal(gen.status, 0, `protoc failed: ${gen.stderr}`);
    const grpcTarget = server.grpcUrl.replace(/^grpc:\/\//, "");
    const httpHost = new URL(server.httpUrl).host;
    const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
      // async spawn: the server lives on this event loop and must keep answering
      import("node:child_process").then(({ spawn }) => {
        const p = spawn(PYTHON, [script, httpHost, grpcTarget, pb2], { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        p.stdout.on("data", (d) => (out += d));
        p.stderr.on("data", (d) => (out += d));
        p.on("close", (code) => resolve({ code, out }));
      });
    });
    assert.equal(run.code, 0, run.out);
    assert.match(run.out, /interop: all checks passed/);
    assert.match(run.out, /ok grpc infer raw/);
    assert.match(run.out, /ok http infer binary\n/);
  } finally {
    await server.close();
    rmSync(pb2, { recursive: true, force: true });
  }
});
