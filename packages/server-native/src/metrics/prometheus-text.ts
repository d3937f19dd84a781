// Prometheus text exposition format 0.0.4: metric families with HELP/TYPE lines and escaped label values.
// Values are written exactly (bigint counters stay integers past 2^53).

export type MetricType = "counter" | "gauge";
export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  labels: Labels;
  value: number | bigint;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

// Label values escape backslash, double quote and newline; HELP text escapes backslash and newline.
const escapeLabel = (v: string): string => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const escapeHelp = (v: string): string => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

function formatValue(v: number | bigint): string {
  if (typeof v === "bigint") return v.toString();
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(",")}}`;
}

/** The exposition text of these families, in order; a family without samples is left out entirely. */
export function renderFamilies(families: readonly MetricFamily[]): string {
  let out = "";
  for (const f of families) {
    if (f.samples.length === 0) continue;
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples) out += `${f.name}${formatLabels(s.labels)} ${formatValue(s.value)}\n`;
  }
  return out;
}
