// @iaas/client/arrow: Apache Arrow interop (needs the optional peer dependency apache-arrow).
export { tensorFromArrow, tensorsFromTable, raggedFromArrow } from "./from-arrow.ts";
export type { ArrowColumn, FromArrowOptions, RaggedFromArrowOptions } from "./from-arrow.ts";
export { tensorToArrow, raggedToArrow, tensorsToTable } from "./to-arrow.ts";
export type { ToArrowOptions } from "./to-arrow.ts";
