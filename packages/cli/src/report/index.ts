export { formatBenchHeader, formatTable, formatTableHeader, formatTableRow } from "./table.ts";
export { writeJsonReport } from "./json.ts";
