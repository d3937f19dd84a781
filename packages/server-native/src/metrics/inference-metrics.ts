// Triton's per-model inference metrics (nv_inference_*), read from the statistics every model version
// already keeps, at scrape time: serving requests costs nothing extra for them. Labels model / version.
import type { ModelStats } from "../stats/model-stats.ts";
import { FAILURE_REASONS } from "./failure-reason.ts";
import type { MetricFamily, Sample } from "./prometheus-text.ts";

const US = 1000n;

export function inferenceFamilies(versions: readonly ModelStats[]): MetricFamily[] {
  const success: Sample[] = [];
  const failure: Sample[] = [];
  const count: Sample[] = [];
  const exec: Sample[] = [];
  const request: Sample[] = [];
  const queue: Sample[] = [];
  const input: Sample[] = [];
  const infer: Sample[] = [];
  const output: Sample[] = [];
  const pending: Sample[] = [];
  for (const v of versions) {
    const s = v.snapshot();
    const labels = { model: s.name, version: s.version };
    const st = s.inference_stats;
    success.push({ labels, value: st.success.count });
    const reasons = v.failureCounts();
    for (const reason of FAILURE_REASONS) failure.push({ labels: { ...labels, reason }, value: reasons[reason] });
    count.push({ labels, value: s.inference_count });
    exec.push({ labels, value: s.execution_count });
    request.push({ labels, value: st.success.ns / US });
    queue.push({ labels, value: st.queue.ns / US });
    input.push({ labels, value: st.compute_input.ns / US });
    infer.push({ labels, value: st.compute_infer.ns / US });
    output.push({ labels, value: st.compute_output.ns / US });
    pending.push({ labels, value: v.pending });
  }
  return [
    { name: "nv_inference_request_success", type: "counter", help: "Number of successful inference requests, all batch sizes", samples: success },
    { name: "nv_inference_request_failure", type: "counter", help: "Number of failed inference requests, all batch sizes", samples: failure },
    { name: "nv_inference_count", type: "counter", help: "Number of inferences performed (does not include cached requests)", samples: count },
    { name: "nv_inference_exec_count", type: "counter", help: "Number of model executions performed (does not include cached requests)", samples: exec },
    { name: "nv_inference_request_duration_us", type: "counter", help: "Cumulative inference request duration in microseconds (includes cached requests)", samples: request },
    { name: "nv_inference_queue_duration_us", type: "counter", help: "Cumulative inference queuing duration in microseconds (includes cached requests)", samples: queue },
    { name: "nv_inference_compute_input_duration_us", type: "counter", help: "Cumulative compute input duration in microseconds (does not include cached requests)", samples: input },
    { name: "nv_inference_compute_infer_duration_us", type: "counter", help: "Cumulative compute inference duration in microseconds (does not include cached requests)", samples: infer },
    { name: "nv_inference_compute_output_duration_us", type: "counter", help: "Cumulative inference compute output duration in microseconds (does not include cached requests)", samples: output },
    { name: "nv_inference_pending_request_count", type: "gauge", help: "Instantaneous number of pending requests awaiting execution per-model.", samples: pending },
  ];
}
