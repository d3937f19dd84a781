// @iaas/cli programmatic API: the engine behind `iaas bench`, `iaas compare`, `iaas serve` and `iaas infer`.
export {
  bench,
  BenchError,
  DEFAULT_MODEL,
  describeLevel,
  SCHEMA_VERSION,
  type BenchHooks,
  type BenchLevel,
  type BenchOptions,
  type BenchResult,
  type LevelLabel,
} from "./bench.ts";
export { createProgram, main } from "./cli.ts";
export { EXIT } from "./commands/errors.ts";
export { cliEntryPoint, startEmbeddedServer, type EmbeddedServer, type EmbeddedServerOptions, type ListeningEvent } from "./embedded-server.ts";
export {
  compareReports,
  CompareInputError,
  DEFAULT_COMPARE,
  formatComparison,
  parseReport,
  readReport,
  type ComparedLevel,
  type ComparedReport,
  type CompareOptions,
  type Comparison,
  type ComparisonRow,
  type Verdict,
} from "./gate/compare.ts";
export { evaluateThresholds, metricValue, parseThreshold, THRESHOLD_METRICS, type Threshold, type ThresholdBreach, type ThresholdMetric, type ThresholdOperator } from "./gate/thresholds.ts";
export { InstanceSweep, instanceCountOf, pruneDefaults, withInstanceCount, type InstanceSweepReport } from "./instances.ts";
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
export type { LoadGenerator } from "./load/generator.ts";
export {
  createHistogram,
  decodeHistogram,
  encodeHistogram,
  HIGHEST_US,
  HISTOGRAM_ENCODING,
  initHistograms,
  LOWEST_US,
  summarize,
  type LatencyHistogram,
  type LatencySummary,
  type StabilityLatency,
} from "./load/histogram.ts";
export {
  COUNT_WINDOW_TIMEOUT_FACTOR,
  DEFAULT_MEASUREMENT,
  measurementSettings,
  MEASUREMENT_MODES,
  runLevel,
  type LevelOptions,
  type LevelResult,
  type LoadMode,
  type LoadSpec,
  type MeasurementMode,
  type MeasurementOptions,
} from "./load/level.ts";
export { DEFAULT_MAX_OUTSTANDING, OpenLoop, type OpenLoopOptions } from "./load/open-loop.ts";
export { DISTRIBUTIONS, meanRate, parseRequestIntervals, rateIntervals, readRequestIntervals, replayIntervals, type Distribution, type IntervalSource } from "./load/schedule.ts";
export { serverBreakdown, ServerStatsReader, type StatsSnapshot } from "./load/server-stats.ts";
export { isStable, STABILITY_WINDOWS } from "./load/stability.ts";
export { errorCode, LATE_THRESHOLD_MS, Window, windowStats, type OpenLoopStats, type ServerBreakdown, type WindowStats } from "./load/window.ts";
export { MAX_LEVEL, MAX_RATE, parseRange, parseRateRange } from "./range.ts";
export { csvHeader, csvRow, formatBenchHeader, formatCsv, formatTable, formatTableHeader, formatTableRow, PERF_ANALYZER_COLUMNS, writeCsvReport, writeJsonReport } from "./report/index.ts";
export { resultToJson } from "./commands/infer.ts";
export { VERSION } from "./version.ts";
// Second parity round: worker threads, several models, schedules, data files, validation, protocol pipeline,
// Arrow and plot outputs, tracing.
export { AUTO_WORKERS, clientLimited } from "./bench.ts";
export { CompositeGenerator, splitByWeight, type CompositePart, type ModelShare } from "./load/composite.ts";
export { MAX_SCHEDULE_STEPS, parseConcurrencySchedule, type ScheduleStep } from "./load/concurrency-schedule.ts";
export { createLoadPool, WorkerGenerator } from "./load/worker-pool.ts";
export type { WireTensor, WireWindow, WorkerTask } from "./load/worker-wire.ts";
export type { LevelModel } from "./load/level.ts";
export { isDataFile, readDataFile, type DataFile, type RequestData } from "./requests/data-file.ts";
export { parseModelWeight, parseModelWeights, type WeightedModel } from "./requests/models.ts";
export { createRequestPipeline, DEFAULT_OUTPUT_SHM_BYTES, type PipelineOptions, type RequestPipeline } from "./requests/pipeline.ts";
export { tensorMismatch, validateResult, ValidationError } from "./requests/validate.ts";
export { ARROW_COLUMNS, arrowTable, writeArrowReport } from "./report/arrow.ts";
export { benchCharts, svgToPng, writePlots, type Chart } from "./report/plots.ts";
export { lineChartSvg, niceTicks, type ChartOptions, type Series } from "./report/svg-chart.ts";
export { DEFAULT_TRACE_RATE, parseTraceRate, tracesUrl } from "./tracing/trace-options.ts";
