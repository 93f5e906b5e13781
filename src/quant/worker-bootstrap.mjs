// Loads worker.ts through tsx when the pool runs from src/ (vitest, `node --import tsx`):
// Node 20 will not start a .ts file as a worker, even under tsx (ecosystem.md A.5).
// Compiled builds use dist/quant/worker.js directly and never load this file.
import { tsImport } from "tsx/esm/api";

const worker = await tsImport("./worker.ts", import.meta.url);
export default worker.default;
