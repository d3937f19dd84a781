// Triton's CPU metrics: nv_cpu_utilization (0..1, all cores, over the time since the previous scrape) and
// nv_cpu_memory_total_bytes / nv_cpu_memory_used_bytes (system memory; used = total - available).
import { cpus, freemem, totalmem } from "node:os";
import type { MetricFamily } from "./prometheus-text.ts";

interface CpuTimes {
  busy: number;
  total: number;
}

function readTimes(): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

/** Utilization between consecutive calls of `sample` (the first against when the sampler was created). */
export class CpuSampler {
  private last: CpuTimes = readTimes();

  families(): MetricFamily[] {
    const now = readTimes();
    const dTotal = now.total - this.last.total;
    const utilization = dTotal > 0 ? Math.min(1, Math.max(0, (now.busy - this.last.busy) / dTotal)) : 0;
    if (dTotal > 0) this.last = now;
    const total = totalmem();
    return [
      { name: "nv_cpu_utilization", type: "gauge", help: "CPU utilization rate [0.0 - 1.0]", samples: [{ labels: {}, value: utilization }] },
      { name: "nv_cpu_memory_total_bytes", type: "gauge", help: "CPU total memory (RAM), in bytes", samples: [{ labels: {}, value: total }] },
      { name: "nv_cpu_memory_used_bytes", type: "gauge", help: "CPU used memory (RAM), in bytes", samples: [{ labels: {}, value: Math.max(0, total - freemem()) }] },
    ];
  }
}
