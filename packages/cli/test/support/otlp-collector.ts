// An OTLP/HTTP collector stand-in on 127.0.0.1 for tests: accepts JSON ExportTraceServiceRequest bodies at
// POST /v1/traces and keeps every span with its resource's service.name and its scope.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
}
export interface Received {
  service: string | undefined;
  scope: string;
  span: OtlpSpan;
}

/** Starts the collector on a free port. */
export async function otlpCollector(): Promise<{ url: string; spans: Received[]; contentTypes: string[]; close(): Promise<void> }> {
  const spans: Received[] = [];
  const contentTypes: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/traces") return void res.writeHead(404).end();
      contentTypes.push(String(req.headers["content-type"]));
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        resourceSpans: { resource?: { attributes?: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { scope?: { name: string }; spans: OtlpSpan[] }[] }[];
      };
      for (const rs of body.resourceSpans) {
        const service = rs.resource?.attributes?.find((a) => a.key === "service.name")?.value.stringValue;
        for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ service, scope: ss.scope?.name ?? "", span });
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, contentTypes, close: () => new Promise((r) => server.close(() => r())) };
}
