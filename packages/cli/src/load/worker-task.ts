// The body of one load worker thread (run by piscina): its own client and its own closed or open loop over
// its share of the load, rotating windows when the bench thread asks and sending them home encoded.
import { createClient, Tensor } from "@iaas/client";
import type { DataType } from "@iaas/client/protocol";
import { ClosedLoop } from "./closed-loop.ts";
import type { Window } from "./window.ts";
import { initHistograms } from "./histogram.ts";
import { OpenLoop } from "./open-loop.ts";
import { rateIntervals, replayIntervals } from "./schedule.ts";
import { windowToWire, type WorkerTask } from "./worker-wire.ts";

export default async function runWorkerTask(task: WorkerTask): Promise<{ completed: number }> {
  await initHistograms();
  const client = createClient(task.client);
  const inputs = task.inputs.map((t) => Tensor.fromRaw(t.name, t.datatype as DataType, t.shape, Buffer.from(t.raw.buffer, t.raw.byteOffset, t.raw.byteLength)));
  const common = { client, model: task.model, inputs, inferOptions: task.inferOptions };
  const l = task.load;
  const gen: ClosedLoop | OpenLoop =
    l.mode === "concurrency"
      ? new ClosedLoop({ ...common, concurrency: l.concurrency })
      : new OpenLoop({
          ...common,
          intervals: l.intervalsMs === "replay" ? replayIntervals(l.intervalsUs) : rateIntervals(l.rate, l.intervalsMs, l.intervalsMs === "poisson" ? l.seed : 1),
          ...(task.maxOutstanding !== undefined ? { maxOutstanding: task.maxOutstanding } : {}),
        });
  let elu = performance.eventLoopUtilization();
  const port = task.port;
  try {
    await new Promise<void>((resolve, reject) => {
      port.on("message", (msg: { type: "rotate" | "stop"; id: number }) => {
        const reply = (w: Window) => {
          const now = performance.eventLoopUtilization();
          const used = performance.eventLoopUtilization(now, elu);
          elu = now;
          port.postMessage({ type: "window", id: msg.id, window: windowToWire(w), elu: used.utilization, inFlight: gen.inFlight, maxInFlight: gen.maxInFlight, capDelayed: gen instanceof OpenLoop ? gen.capDelayed : 0 });
          w.destroy();
        };
        if (msg.type === "rotate") reply(gen.rotate());
        else
          gen.stop().then((w) => {
            reply(w);
            resolve();
          }, reject);
      });
      gen.start();
    });
  } finally {
    port.close();
    await client.close();
  }
  return { completed: gen.completed };
}
