/**
 * gguf-tool's entry point: builds the commander program from one module per command,
 * runs it, and turns errors into one line on stderr (a stack trace only with GGUF_TOOL_DEBUG=1).
 */
import { createRequire } from "node:module";
import { Command, CommanderError } from "commander";
import { ToolError } from "../formats/errors.ts";
import * as inspectCommand from "./inspect.ts";
import * as quantizeCommand from "./quantize.ts";
import * as convertCommand from "./convert.ts";
import * as listCommand from "./list.ts";
import * as cpCommand from "./cp.ts";
import * as rmCommand from "./rm.ts";
import * as exportCommand from "./export.ts";
import * as importCommand from "./import.ts";
import * as verifyCommand from "./verify.ts";
import * as pruneCommand from "./prune.ts";
import * as pullCommand from "./pull.ts";
import * as createCommand from "./create.ts";
import * as showCommand from "./show.ts";

/** Each command module exports `register(program)`; add a command by adding its module here. */
const commandModules: Array<{ register(program: Command): void }> = [inspectCommand, convertCommand, quantizeCommand, listCommand, cpCommand, rmCommand, exportCommand, importCommand, verifyCommand, pruneCommand, createCommand, showCommand, pullCommand];

export async function main(argv: string[]): Promise<number> {
  const program = new Command("gguf-tool")
    .version(packageVersion(), "-V, --version")
    .description("Inspect, convert and quantize GGUF and safetensors models; manage the Ollama store without a server.")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const m of commandModules) m.register(program);
  try {
    await program.parseAsync(argv);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    return reportError(err);
  }
}

/** The version in package.json (two folders up from this file, in src/ and in dist/ alike). */
function packageVersion(): string {
  return (createRequire(import.meta.url)("../../package.json") as { version: string }).version;
}

/** Prints an error as `gguf-tool: <message>` and returns the exit code (2 for usage errors). */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // commander has already printed its message; help and version exit 0
    return err.exitCode === 0 ? 0 : 2;
  }
  if (process.env.GGUF_TOOL_DEBUG === "1" && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  const message = err instanceof ToolError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`gguf-tool: ${message.split("\n")[0]}\n`);
  return 1;
}

