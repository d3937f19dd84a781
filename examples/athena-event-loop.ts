// An Athena-style event loop against the reference server: events of different hit counts (3 features a
// hit, as in tracking-as-a-service) are read as one flattened hit array plus row offsets, split into
// per-event views, and sent one request per event with N requests in flight. Results come back in event
// order (the ordered queue), are joined into one flattened output plus offsets, and checked: the
// identity_fp32 model returns each event's hits unchanged.
//   node examples/athena-event-loop.ts [URL] [--protocol http|grpc] [--events 200] [--in-flight 8] [--quiet]
// Without a URL it starts the reference server in-process on free ports.
import { parseArgs } from "node:util";
import {
  createClient,
  flattenRagged,
  InferenceError,
  orderedInflight,
  splitByOffsets,
  Tensor,
  type InferResult,
  type Protocol,
  type Settled,
} from "@iaas/client";

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    protocol: { type: "string", default: "http" },
    events: { type: "string", default: "200" },
    "in-flight": { type: "string", default: "8" },
    quiet: { type: "boolean", default: false },
  },
});
const protocol = opt.protocol as Protocol;
const eventCount = Number(opt.events);
const maxInFlight = Number(opt["in-flight"]);
const FEATURES = 3;

/** Deterministic hit generator: event i has 50-549 hits of (r/1000, phi/pi, z/1000). */
function makeEvents(n: number): Float32Array[][] {
  let s = 12345;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  return Array.from({ length: n }, () => {
    const hits = 50 + Math.floor(rand() * 500);
    return Array.from({ length: hits }, () => Float32Array.of(rand(), rand() * 2 - 1, rand() * 2 - 1));
  });
}

async function main(): Promise<void> {
  let url = positionals[0];
  let stop: (() => Promise<void>) | undefined;
  if (url === undefined) {
    // Only needed without a URL: the server package is loaded on demand.
    const { startServer } = await import("@iaas/server-native");
    const server = await startServer({ host: "127.0.0.1", httpPort: 0, grpcPort: 0 });
    url = protocol === "grpc" ? server.grpcUrl : server.httpUrl;
    stop = () => server.close();
  }
  const client = createClient({ url, protocol, timeoutMs: 10_000 });
  try {
    // "Reading the input file": all hits flattened into [total_hits, 3] plus row offsets per event.
    const input = flattenRagged("FEATURES", "FP32", makeEvents(eventCount));
    const events = splitByOffsets(input.values, input.offsets); // per-event [hits, 3] views, no copies
    console.log(`${events.length} events, ${input.values.shape[0]} hits, ${maxInFlight} in flight, ${protocol} ${url}`);

    const outputs: Tensor[] = [];
    let failures = 0;
    const onResult = (o: Settled<InferResult>): void => {
      const hits = input.counts[o.index]!;
      if (o.status === "rejected") {
        failures++;
        console.log(`event ${o.index}: ${hits} hits, failed: ${InferenceError.from(o.reason).message}`);
        outputs.push(new Tensor("OUTPUT0", "FP32", [0, FEATURES], new Float32Array(0)));
        return;
      }
      const out = o.value.output("OUTPUT0");
      const data = out.data as Float32Array;
      let sum = 0;
      for (let i = 0; i < data.length; i++) sum += data[i]!;
      if (!opt.quiet) console.log(`event ${o.index}: ${hits} hits, ${out.size} values back, sum ${sum.toFixed(3)}`);
      outputs.push(new Tensor(out.name, "FP32", [data.length / FEATURES, FEATURES], data));
    };
    const queue = orderedInflight(client, { maxInFlight, onResult });
    const t0 = performance.now();
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]!;
      // identity_fp32 takes one flat FP32 vector: the event's [hits, 3] rows as [hits * 3], same memory.
      const features = new Tensor("INPUT0", "FP32", [ev.size], ev.data as Float32Array);
      await queue.submit("identity_fp32", [features], { id: `event-${i}` }); // waits while maxInFlight are out
    }
    await queue.close();
    const seconds = (performance.now() - t0) / 1000;

    // Join the per-event outputs again and compare with the input, event by event.
    const output = flattenRagged("OUTPUT0", "FP32", outputs);
    const a = input.values.data as Float32Array;
    const b = output.values.data as Float32Array;
    const same = output.counts.every((c, i) => c === input.counts[i]) && a.length === b.length && a.every((v, i) => v === b[i]);
    console.log(
      `${events.length} events in ${seconds.toFixed(3)} s: ${(events.length / seconds).toFixed(1)} events/s, ` +
        `${(a.length / FEATURES / seconds).toFixed(0)} hits/s; ${failures} failed`,
    );
    if (failures > 0) throw new Error(`${failures} of ${events.length} events failed`);
    if (!same) throw new Error("outputs do not match the inputs event by event");
    console.log("all events returned in order, outputs match inputs");
  } finally {
    await client.close();
    await stop?.();
  }
}

main().catch((err: unknown) => {
  const e = InferenceError.from(err);
  console.error(`athena-event-loop: ${e.code}: ${e.message}`);
  process.exitCode = 1;
});
