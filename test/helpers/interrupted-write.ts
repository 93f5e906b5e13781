/**
 * Child process for the "Ctrl-C leaves no temp file" test: installs the CLI's signal cleanup,
 * opens a GGUF writer on argv[2], writes part of a tensor, prints the temp path, then waits
 * for the parent's SIGINT.
 */
import { listOpenTempFiles } from "../../src/formats/atomic-file.ts";
import { createGgufWriter } from "../../src/formats/gguf/writer.ts";
import { GgmlType } from "../../src/formats/gguf/types.ts";
import { installSignalCleanup } from "../../src/cli/signals.ts";

installSignalCleanup();
const writer = await createGgufWriter(process.argv[2], {
  metadata: new Map(),
  tensors: [{ name: "big", shape: [1 << 22], type: GgmlType.F32 }],
});
await writer.writeTensorData(new Uint8Array(8 << 20));
process.stdout.write(`${listOpenTempFiles()[0]}\n`);
setInterval(() => undefined, 1000); // keep running until signalled
