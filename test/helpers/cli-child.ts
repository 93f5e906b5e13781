/**
 * The CLI, pre-loaded and waiting: prints "ready", runs `gguf-tool <args>` (the same `main` as
 * src/cli/main.ts) when a line arrives on stdin, then exits with its code. Lets a test kill a
 * command at a chosen moment of its work rather than during Node's start-up.
 */
import { main } from "../../src/cli/program.ts";
import { installSignalCleanup } from "../../src/cli/signals.ts";

installSignalCleanup();
process.stdout.write("ready\n");
await new Promise((resolve) => process.stdin.once("data", resolve));
process.stdin.pause();
process.exitCode = await main([process.argv[0], "gguf-tool", ...process.argv.slice(2)]);
