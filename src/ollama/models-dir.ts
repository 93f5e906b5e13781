/**
 * Where the Ollama model store lives (ollama-store.md §1): `--models-dir`, else `OLLAMA_MODELS`
 * trimmed exactly as Ollama's `envconfig.Var` trims it, else `<home>/.ollama/models`.
 */
import { statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { ToolError } from "../formats/errors.ts";

/** The models dir of the Linux `install.sh` systemd service (user `ollama`, home /usr/share/ollama). */
export const LINUX_SERVICE_MODELS_DIR = "/usr/share/ollama/.ollama/models";

/**
 * Trims an environment value as Ollama's `envconfig.Var` does: surrounding whitespace first, then
 * any run of `'` and `"` at both ends (`strings.Trim(strings.TrimSpace(v), "\"'")`). No `~` expansion.
 */
export function trimOllamaEnvValue(value: string): string {
  return value.trim().replace(/^["']+/, "").replace(/["']+$/, "");
}

/**
 * The models dir to use: `option` (from `--models-dir`) when given, else `OLLAMA_MODELS` as Ollama
 * reads it, else `<home>/.ollama/models` (home from HOME, or USERPROFILE on Windows, as Go's
 * `os.UserHomeDir`). Does not check that the folder exists: see {@link requireModelsDir}.
 */
export function resolveModelsDir(option?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (option !== undefined && option !== "") return option;
  const fromEnv = trimOllamaEnvValue(env.OLLAMA_MODELS ?? "");
  if (fromEnv !== "") return fromEnv;
  const home = (process.platform === "win32" ? env.USERPROFILE : env.HOME) || homedir();
  return join(home, ".ollama", "models");
}

/**
 * Checks that `modelsDir` is an existing folder, for commands that read the store. The error says
 * where the Linux service keeps its models, since that is the usual reason a store looks empty.
 */
export function requireModelsDir(modelsDir: string): string {
  let isDir = false;
  try {
    isDir = statSync(modelsDir).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EPERM") {
      throw new ToolError(modelsDir, "permission denied reading the Ollama models folder (it needs read and execute permission)");
    }
  }
  if (!isDir) {
    throw new ToolError(
      modelsDir,
      `no Ollama models folder here; pass --models-dir or set OLLAMA_MODELS (the Linux service keeps its models in ${LINUX_SERVICE_MODELS_DIR})`,
    );
  }
  return modelsDir;
}
