// `iaas serve --model-control-mode / --load-model / --repository-poll-secs`: explicit mode loads only the
// named models and lets the API load others; none refuses API loads; bad combinations are usage errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServe, type ServeExit } from "./support/cli-process.ts";

const serve = (extra: string[]) => startServe(["--metrics-port", "0", ...extra]);

const readyModels = async (url: string): Promise<string[]> =>
  ((await (await fetch(`${url}/v2/repository/index`, { method: "POST", body: JSON.stringify({ ready: true }) })).json()) as { name: string }[]).map((m) => m.name);

test("--model-control-mode explicit --load-model simple: only simple is ready; the API loads another", async () => {
  const s = await serve(["--model-control-mode", "explicit", "--load-model", "simple"]);
  try {
    assert.deepEqual([...new Set(await readyModels(s.httpUrl))], ["simple"]);
    const load = await fetch(`${s.httpUrl}/v2/repository/models/identity_fp32/load`, { method: "POST", body: "{}" });
    assert.equal(load.status, 200);
    assert.deepEqual([...new Set(await readyModels(s.httpUrl))].sort(), ["identity_fp32", "simple"]);
  } finally {
    await s.stop();
  }
});

test("--model-control-mode none refuses API unload with 503", async () => {
  const s = await serve(["--model-control-mode", "none"]);
  try {
    const r = await fetch(`${s.httpUrl}/v2/repository/models/simple/unload`, { method: "POST", body: "{}" });
    assert.equal(r.status, 503);
    assert.match(((await r.json()) as { error: string }).error, /explicit model load \/ unload is not allowed/);
  } finally {
    await s.stop();
  }
});

test("bad model control flags are usage errors (exit 2)", async () => {
  const usage = (args: string[], message: RegExp) =>
    assert.rejects(serve(args), (e: ServeExit) => {
      assert.equal(e.code, 2);
      assert.match(e.stderr, message);
      return true;
    });
  await usage(["--model-control-mode", "sometimes"], /choose one of none, explicit, poll/);
  await usage(["--model-control-mode", "poll", "--load-model", "simple"], /--load-model needs --model-control-mode explicit/);
  await usage(["--repository-poll-secs", "5"], /--repository-poll-secs needs --model-control-mode poll/);
});
