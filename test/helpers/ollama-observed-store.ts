/**
 * The store a real Ollama 0.33.0-rc2 wrote, rebuilt byte for byte from ../shared/docs/ollama-observed.md:
 * the manifests and the small blobs (config, template, system, license, params, messages) whose bytes
 * the doc gives. The model GGUF blobs are not in the doc; `ollama list` never reads them.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const MANIFEST_HEAD = '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json",';

/** §2 `tiny:latest` (413 bytes). */
const TINY = `${MANIFEST_HEAD}"digest":"sha256:ea81f510a01e7c0dead7587827e1196d90b08a67736e2c43ad862ac124c57caa","size":153},"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:eba020943f4151357f566c8669f88064c16aaa47dc26211860c22dbdb90dcf07","size":5817376}]}\n`;

/** §4 `tiny-full:latest` (1145 bytes). */
const TINY_FULL = `${MANIFEST_HEAD}"digest":"sha256:ea81f510a01e7c0dead7587827e1196d90b08a67736e2c43ad862ac124c57caa","size":153},"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:eba020943f4151357f566c8669f88064c16aaa47dc26211860c22dbdb90dcf07","size":5817376},{"mediaType":"application/vnd.ollama.image.template","digest":"sha256:e6f7decdcfb351bc741ea31a5604a6945ab6188f58794d25d45ae062bbe4091d","size":136},{"mediaType":"application/vnd.ollama.image.system","digest":"sha256:58ed9d82d104e72543685c0384b7ea6c5c3c253b86f100501c2baf7443faf239","size":26},{"mediaType":"application/vnd.ollama.image.license","digest":"sha256:2dcbc4706b14d11c444f879a1e937c22a05e05852fc739511db91caa63117602","size":18},{"mediaType":"application/vnd.ollama.image.params","digest":"sha256:dd4a4b060e871ff1de819e1ed6616b9fd772c4b78294b2d9652b0c7ac50d82f7","size":110},{"mediaType":"application/vnd.ollama.image.messages","digest":"sha256:534289adfe5924042077b990eb91f71564e244ae5196a21856eedb6310f412fa","size":78}]}\n`;

/** §6 `tiny-q4km:latest` (412 bytes). */
const TINY_Q4KM = `${MANIFEST_HEAD}"digest":"sha256:29a004b3b1a3e5dd8bf2b40809f1009c398e94cfede40b6123d296b163722cee","size":152},"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:dd521c0943f4e248847cb47218467b939efcfe01f06de8579393c63edd821e13","size":898336}]}\n`;

/** §7 `handmade:v1`, written by a script: no trailing newline. */
const HANDMADE = `${MANIFEST_HEAD}"digest":"sha256:4d0ad7b2af3279040d0d4bcb596dfef7f2b6d25381754fd6dfa86ded257286b0","size":150},"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:dfa9ed6a1d84eda8b595dc3786cb04d319e6eb8af086e69c46c75698b9095108","size":2781408},{"mediaType":"application/vnd.ollama.image.params","digest":"sha256:478fd4c59e6796ab6cd8204a3d7a5a2c77d70a59994d4d47b71d37b0219e2644","size":33}]}`;

/** §4: the Modelfile `tiny-full` was created from (FROM a tiny F32 GGUF, every text layer). */
export const TINY_FULL_MODELFILE = `FROM ./tiny-f32.gguf
TEMPLATE """{{ if .System }}<|system|>{{ .System }}<|end|>{{ end }}{{ if .Prompt }}<|user|>{{ .Prompt }}<|end|>{{ end }}<|assistant|>{{ .Response }}"""
SYSTEM """You are a tiny test model."""
PARAMETER num_predict 8
PARAMETER temperature 0.5
PARAMETER stop "<|end|>"
PARAMETER stop "<|user|>"
PARAMETER num_ctx 256
PARAMETER seed 42
LICENSE """Test license text."""
MESSAGE user hello
MESSAGE assistant hi there
`;

/** Small blobs whose exact bytes the doc shows. */
export const OBSERVED_BLOBS: string[] = [
  '{"model_format":"gguf","model_family":"llama","model_families":["llama"],"model_type":"1.45M","file_type":"unknown","architecture":"amd64","os":"linux"}\n',
  '{"model_format":"gguf","model_family":"llama","model_families":["llama"],"model_type":"1.45M","file_type":"Q4_K_M","architecture":"amd64","os":"linux"}\n',
  '{"model_format":"gguf","model_family":"llama","model_families":["llama"],"model_type":"745.22K","file_type":"F16","architecture":"amd64","os":"linux"}',
  "{{ if .System }}<|system|>{{ .System }}<|end|>{{ end }}{{ if .Prompt }}<|user|>{{ .Prompt }}<|end|>{{ end }}<|assistant|>{{ .Response }}",
  "You are a tiny test model.",
  "Test license text.",
  '{"num_ctx":256,"num_predict":8,"seed":42,"stop":["\\u003c|end|\\u003e","\\u003c|user|\\u003e"],"temperature":0.5}\n',
  '[{"role":"user","content":"hello"},{"role":"assistant","content":"hi there"}]\n',
  '{"num_predict":8,"stop":["</s>"]}',
];

/** What Ollama printed (`ollama list`, `/api/tags`, `ollama ps` for the IDs) for each manifest. */
export const OBSERVED_MODELS = [
  { name: "tiny:latest", path: "registry.ollama.ai/library/tiny/latest", bytes: TINY, fileSize: 413, id: "59a44a2247b9", digest: "59a44a2247b9f74a749ecc858142086cd5dbb2f94278c432ed7369d6d8ee92e6", size: 5817529, sizeText: "5.8 MB" },
  { name: "tiny-full:latest", path: "registry.ollama.ai/library/tiny-full/latest", bytes: TINY_FULL, fileSize: 1145, id: "5c5e33d8bc36", size: 5817897, sizeText: "5.8 MB" },
  { name: "tiny-q4km:latest", path: "registry.ollama.ai/library/tiny-q4km/latest", bytes: TINY_Q4KM, fileSize: 412, id: "15ae1c102f30", digest: "15ae1c102f30ac4b558e7dcc9f4fe5809b724e6fafd32309de053b2f984c64d0", size: 898488, sizeText: "898 KB" },
  { name: "handmade:v1", path: "registry.ollama.ai/library/handmade/v1", bytes: HANDMADE, id: "df35dc89bcf8", size: 2781591, sizeText: "2.8 MB" },
  // §8: `ollama cp handmade:v1 myns/copied:t1` copies the manifest byte for byte, so the same ID
  { name: "myns/copied:t1", path: "registry.ollama.ai/myns/copied/t1", bytes: HANDMADE, id: "df35dc89bcf8", size: 2781591, sizeText: "2.8 MB" },
];

export const sha256Hex = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");

/** Writes the observed store into `modelsDir` (manifests with their mtimes 1 s apart, oldest first). */
export function writeObservedStore(modelsDir: string): void {
  mkdirSync(join(modelsDir, "blobs"), { recursive: true });
  for (const blob of OBSERVED_BLOBS) writeFileSync(join(modelsDir, "blobs", `sha256-${sha256Hex(blob)}`), blob);
  for (const m of OBSERVED_MODELS) {
    const path = join(modelsDir, "manifests", ...m.path.split("/"));
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, m.bytes);
  }
}
