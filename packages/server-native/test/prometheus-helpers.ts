// A strict reader of the Prometheus text format for the metrics tests: families with HELP/TYPE and samples
// with labels; malformed lines fail the test.
import assert from "node:assert/strict";

export interface Family {
  help?: string;
  type?: string;
  samples: { labels: Record<string, string>; value: number }[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/gy;

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { samples: [] }));
    return f;
  };
  assert.ok(text.endsWith("\n"), "exposition ends with a newline");
  for (const line of text.slice(0, -1).split("\n")) {
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === "HELP") family(meta[2]!).help = meta[3];
      else family(meta[2]!).type = meta[3];
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `malformed exposition line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      LABEL.lastIndex = 0;
      let consumed = 0;
      for (let l = LABEL.exec(m[2]); l; l = LABEL.exec(m[2])) {
        labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
        consumed = LABEL.lastIndex;
      }
      assert.equal(consumed, m[2].length, `malformed labels in ${JSON.stringify(line)}`);
    }
    const f = families.get(m[1]!);
    assert.ok(f?.type, `sample ${m[1]} before its TYPE line`);
    f.samples.push({ labels, value: Number(m[3]) });
  }
  return families;
}

/** The value of the one sample of `name` whose labels are exactly `labels`. */
export function sample(families: Map<string, Family>, name: string, labels: Record<string, string>): number {
  const found = (families.get(name)?.samples ?? []).filter(
    (s) => Object.keys(s.labels).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  assert.equal(found.length, 1, `${name}${JSON.stringify(labels)}: expected one sample, found ${found.length}`);
  return found[0]!.value;
}
