/**
 * Ctrl-C (SIGINT) or SIGTERM while a command writes a file: delete every temporary file the
 * writers have open, then exit with the conventional 128 + signal number. Without this Node
 * would exit at once and leave `.name.xxxx.tmp` files behind.
 */
import { removeOpenTempFilesSync } from "../formats/atomic-file.ts";

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

export function installSignalCleanup(): void {
  for (const [signal, code] of Object.entries(EXIT_CODES)) {
    process.once(signal, () => {
      removeOpenTempFilesSync();
      process.exit(code);
    });
  }
}
