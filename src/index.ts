/**
 * gguf-tool as a library: everything the CLI does, without the CLI. Each export is the entry
 * point of one job; the CLI (src/cli) only parses arguments, calls these and prints.
 */

// formats: bytes on disk
export * from "./formats/gguf/types.ts";
export { ToolError } from "./formats/errors.ts";
export { readGgufHeader, readGgufArrayItems, type ReadGgufOptions } from "./formats/gguf/reader.ts";
export { readGgufModel, type GgufModel } from "./formats/gguf/split.ts";
export { getString, getNumber, getBigInt, getBoolean, getArray, getArchitecture } from "./formats/gguf/metadata.ts";
export { createGgufWriter, type GgufWriter, type GgufWriterHeader, type GgufWriterResult, type GgufWriterTensor } from "./formats/gguf/writer.ts";
export { readSafetensorsHeader } from "./formats/safetensors/reader.ts";
export { openHfFolder } from "./formats/safetensors/hf-folder.ts";
export type { HfModel, HfTensor, SafetensorsFile, SafetensorsTensor } from "./formats/safetensors/types.ts";

// quant: kernels, mixtures, pool, requantize
export { quantizeRows, dequantizeRows, isQuantizable, bytesToFloat32 } from "./quant/kernels/index.ts";
export { MIXTURE_NAMES, parseMixture, fileTypeOf, chooseTensorTypes, type MixtureName } from "./quant/mixtures.ts";
export { createQuantPool, type QuantPool, type QuantizeTensorJob } from "./quant/pool.ts";
export { requantizeGguf, type RequantizeOptions, type RequantizeResult } from "./quant/requantize.ts";

// convert: Hugging Face safetensors folders to GGUF
export { convertHfFolder, type ConvertOptions, type ConvertResult } from "./convert/convert.ts";
export { convertAndInstall, type ConvertInstallOptions } from "./convert/install.ts";
export { ARCHITECTURES, supportedArchitectures } from "./convert/architectures/index.ts";
export type { Architecture } from "./convert/architecture.ts";
export { loadVocab } from "./convert/tokenizer/vocab.ts";

// inspect
export { inspectTarget, type InspectOptions, type InspectSubject } from "./inspect/target.ts";
export { inspectJson } from "./inspect/json.ts";

// ollama: the store without the server
export { resolveModelsDir } from "./ollama/models-dir.ts";
export { parseModelName, displayName, type ModelName } from "./ollama/names.ts";
export { parseManifest, readManifest, type Manifest, type Layer } from "./ollama/manifest.ts";
export { installModel, type InstallOptions, type InstallResult } from "./ollama/install.ts";
export { parseModelfile, readModelfile, printModelfile, type ParsedModelfile } from "./ollama/modelfile.ts";
export { listModels, type ListedModel } from "./ollama/store-read.ts";
export { showModel, showJson, type ShowInfo } from "./ollama/show.ts";
export { copyModel, removeModel, verifyStore, planPrune, executePrune } from "./ollama/store-maintain.ts";
export { exportModels, exportGguf } from "./ollama/export.ts";
export { importModels, type ImportOptions, type ImportResult } from "./ollama/import.ts";
export { pullModel, type PullOptions, type PullResult } from "./ollama/registry.ts";
