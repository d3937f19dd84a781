// `iaas serve --extensions`: the listed Triton extensions only ("none" = a plain KServe v2 server), others
// answering 404; an unknown name is a usage error before anything listens.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServe as serve, type ServeExit } from "./support/cli-process.ts";

test("--extensions statistics,trace serves those and answers 404 for the rest", async () => {
  const s = await serve(["--extensions", "statistics,trace"]);
  try {
    const meta = (await (await fetch(`${s.httpUrl}/v2`)).json()) as { extensions: string[] };
    assert.deepEqual(meta.extensions, ["statistics", "trace"]);
    assert.equal((await fetch(`${s.httpUrl}/v2/trace/setting`)).status, 200);
    assert.equal((await fetch(`${s.httpUrl}/v2/logging`)).status, 404);
    assert.equal((await fetch(`${s.httpUrl}/v2/repository/index`, { method: "POST", body: "{}" })).status, 404);
  } finally {
    await s.stop();
  }
});

test("--extensions none advertises nothing; an unknown name is a usage error (exit 2)", async () => {
  const s = await serve(["--extensions", "none"]);
  try {
    assert.deepEqual(((await (await fetch(`${s.httpUrl}/v2`)).json()) as { extensions: string[] }).extensions, []);
  } finally {
    await s.stop();
  }
  await assert.rejects(serve(["--extensions", "statistics,bogus"]), (e: ServeExit) => {
    assert.equal(e.code, 2);
    assert.match(e.stderr, /unknown extension "bogus"; choose from binary_tensor_data, /);
    return true;
  });
});
