// Triton's GPU metrics (label gpu_uuid): nv_gpu_utilization (0..1), nv_gpu_memory_total_bytes,
// nv_gpu_memory_used_bytes, nv_gpu_power_usage (W). Read through nvidia-smi (NVML underneath) only when the
// addon sees CUDA devices; at most once a second however often Prometheus scrapes. When nvidia-smi is
// missing or fails, the GPU families are left out (and the reason logged once).
import { execFile } from "node:child_process";
import type { MetricFamily, Sample } from "./prometheus-text.ts";

const QUERY = "uuid,utilization.gpu,memory.total,memory.used,power.draw";
const MIB = 1024 * 1024;
const REFRESH_MS = 1000;

interface GpuReading {
  uuid: string;
  utilization: number;
  memoryTotal: number;
  memoryUsed: number;
  power: number;
}

/** One line of `nvidia-smi --query-gpu=QUERY --format=csv,noheader,nounits`; "[N/A]" fields become NaN. */
export function parseNvidiaSmiLine(line: string): GpuReading | undefined {
  const f = line.split(",").map((s) => s.trim());
  if (f.length !== 5 || !f[0]!.startsWith("GPU-")) return undefined;
  const num = (s: string): number => (/^-?\d+(\.\d+)?$/.test(s) ? Number(s) : NaN);
  return { uuid: f[0]!, utilization: num(f[1]!) / 100, memoryTotal: num(f[2]!) * MIB, memoryUsed: num(f[3]!) * MIB, power: num(f[4]!) };
}

function queryNvidiaSmi(): Promise<GpuReading[]> {
  return new Promise((resolve, reject) => {
    execFile("nvidia-smi", [`--query-gpu=${QUERY}`, "--format=csv,noheader,nounits"], { timeout: 5000 }, (err, stdout) => {
      if (err) return reject(err);
      resolve(stdout.split("\n").map(parseNvidiaSmiLine).filter((r): r is GpuReading => r !== undefined));
    });
  });
}

export class GpuSampler {
  private readonly enabled: boolean;
  private readonly log: (message: string) => void;
  private cached: { at: number; readings: Promise<GpuReading[]> } | undefined;
  private failed = false;

  /** `gpuCount`: CUDA devices the addon sees; 0 turns the sampler off. */
  constructor(gpuCount: number, log: (message: string) => void) {
    this.enabled = gpuCount > 0;
    this.log = log;
  }

  async families(): Promise<MetricFamily[]> {
    if (!this.enabled || this.failed) return [];
    const now = Date.now();
    if (this.cached === undefined || now - this.cached.at >= REFRESH_MS) this.cached = { at: now, readings: queryNvidiaSmi() };
    let readings: GpuReading[];
    try {
      readings = await this.cached.readings;
    } catch (err) {
      this.failed = true;
      this.log(`GPU metrics disabled: nvidia-smi failed (${(err as Error).message})`);
      return [];
    }
    const family = (name: string, help: string, pick: (r: GpuReading) => number): MetricFamily => ({
      name,
      help,
      type: "gauge",
      samples: readings.filter((r) => Number.isFinite(pick(r))).map((r): Sample => ({ labels: { gpu_uuid: r.uuid }, value: pick(r) })),
    });
    return [
      family("nv_gpu_utilization", "GPU utilization rate [0.0 - 1.0)", (r) => r.utilization),
      family("nv_gpu_memory_total_bytes", "GPU total memory, in bytes", (r) => r.memoryTotal),
      family("nv_gpu_memory_used_bytes", "GPU used memory, in bytes", (r) => r.memoryUsed),
      family("nv_gpu_power_usage", "GPU power usage in watts", (r) => r.power),
    ];
  }
}
