export { buildInputs, fetchModelInfo, maxBatchSizeOf, type BuiltInputs, type InputOptions, type ModelInfo } from "./build.ts";
export { generateTensorData, type InputDataMode } from "./data.ts";
export { seededRandom, type Random } from "@iaas/client/protocol";
export { parseShapeOption, parseShapeOptions, resolveShapes, type ShapeOverrides } from "./shapes.ts";
export { parseInferRequest, type ParsedRequest } from "./request-json.ts";
