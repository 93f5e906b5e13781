/**
 * Ollama's human-readable ages (`format/time.go` HumanTime), as `ollama list` prints MODIFIED:
 * "Less than a second ago", "3 days ago". (Sizes: human-units.ts.)
 */

/** Ollama's `humanDuration` (a non-negative duration in milliseconds). */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  // Go's math.Round rounds halves away from zero; durations here are positive
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(hours / 24 / 365)} years`;
}

/** Ollama's `HumanTime`: `<duration> ago`, or `<duration> from now` for a time in the future. */
export function humanTime(time: Date, now: Date = new Date()): string {
  const delta = now.getTime() - time.getTime();
  if (Math.trunc(delta / 3_600_000 / 24 / 365) < -20) return "Forever";
  return delta < 0 ? `${humanDuration(-delta)} from now` : `${humanDuration(delta)} ago`;
}
