// @iaas/cli programmatic API: the engine behind `iaas bench`, `iaas serve` and `iaas infer`.
export { bench, BenchError, DEFAULT_MODEL, type BenchHooks, type BenchOptions, type BenchResult } from "./bench.ts";
export { createProgram, main } from "./cli.ts";
export { cliEntryPoint, startEmbeddedServer, type EmbeddedServer, type EmbeddedServerOptions, type ListeningEvent } from "./embedded-server.ts";
export {
  buildInputs,
  fetchModelInfo,
  generateTensorData,
  maxBatchSizeOf,
  parseInferRequest,
  parseShapeOption,
  parseShapeOptions,
  resolveShapes,
  seededRandom,
  type BuiltInputs,
  type InputDataMode,
  type InputOptions,
  type ModelInfo,
  type ParsedRequest,
  type ShapeOverrides,
} from "./inputs/index.ts";
export { ClosedLoop, type ClosedLoopOptions } from "./load/closed-loop.ts";
export { createHistogram, HIGHEST_US, initHistograms, LOWEST_US, summarize, type LatencyHistogram, type LatencySummary } from "./load/histogram.ts";
export { DEFAULT_MEASUREMENT, measurementSettings, runLevel, type LevelOptions, type LevelResult, type MeasurementOptions } from "./load/level.ts";
export { isStable, STABILITY_WINDOWS } from "./load/stability.ts";
export { errorCode, Window, windowStats, type WindowStats } from "./load/window.ts";
export { parseRange, MAX_LEVEL } from "./range.ts";
export { formatBenchHeader, formatTable, formatTableHeader, formatTableRow, writeJsonReport } from "./report/index.ts";
export { resultToJson } from "./commands/infer.ts";
export { VERSION } from "./version.ts";
