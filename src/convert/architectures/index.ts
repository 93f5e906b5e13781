/** Every architecture `convert` supports. Adding one: write its file, add it here. */
import type { Architecture } from "../architecture.ts";
import { gemma } from "./gemma.ts";
import { gemma2 } from "./gemma2.ts";
import { gemma3 } from "./gemma3.ts";
import { llama } from "./llama.ts";
import { phi3 } from "./phi3.ts";
import { qwen2 } from "./qwen2.ts";
import { qwen3 } from "./qwen3.ts";

export const ARCHITECTURES: readonly Architecture[] = [llama, qwen2, qwen3, gemma, gemma2, gemma3, phi3];

/** The architecture for config.json's `architectures[0]`, or undefined. */
export function findArchitecture(hfArchitecture: string): Architecture | undefined {
  return ARCHITECTURES.find((a) => a.hfArchitectures.includes(hfArchitecture));
}

/** Every supported `architectures[0]` value, for error messages and --help. */
export function supportedArchitectures(): string[] {
  return ARCHITECTURES.flatMap((a) => a.hfArchitectures).sort();
}
