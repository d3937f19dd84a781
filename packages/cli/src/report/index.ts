export { formatBenchHeader, formatTable, formatTableHeader, formatTableRow } from "./table.ts";
export { writeJsonReport } from "./json.ts";
export { csvHeader, csvRow, formatCsv, PERF_ANALYZER_COLUMNS, writeCsvReport } from "./csv.ts";
