/**
 * Names read from a file (metadata keys, tensor names) shown inside a one-line error: plain when
 * they are short and printable, else quoted with escapes and cut, so a corrupt name can never
 * break the line or flood the terminal.
 */
const PLAIN = /^[\x21-\x7e]{1,100}$/;
const MAX_SHOWN = 60;

export function printable(name: string): string {
  if (PLAIN.test(name)) return name;
  const cut = name.length > MAX_SHOWN ? `${name.slice(0, MAX_SHOWN)}…` : name;
  return JSON.stringify(cut);
}

/** A JSON value from a file (a dtype, a shape) for an error message, cut to a readable length. */
export function printableJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}
