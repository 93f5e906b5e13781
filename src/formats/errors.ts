/**
 * An error caused by the user's input (a file, a folder, a model name), not by a bug.
 * The CLI prints it as one line, `gguf-tool: <subject>: <detail>`, with no stack trace.
 */
export class ToolError extends Error {
  constructor(
    /** the file, folder or model name at fault */
    readonly subject: string,
    /** what is wrong, one line */
    readonly detail: string,
  ) {
    super(`${subject}: ${detail}`);
    this.name = "ToolError";
  }
}
