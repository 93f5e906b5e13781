/**
 * Ollama's human units (format/format.go), byte for byte, so our numbers read like
 * `ollama list` / `ollama show` and the config blob's `model_type` ("8.0B", "494.03M").
 * Go's %.Nf rounds the exact binary value half to even: goFormatFixed does the same.
 */
import { goFormatFixed } from "./go-format.ts";

/** format.HumanNumber: ≥1e9 "8B"/"8.0B", ≥1e6 "494M"/"494.03M", ≥1e3 "745K", else the integer. */
export function humanNumber(n: number): string {
  const scaled = (value: number, decimals: number, unit: string) =>
    value === Math.floor(value) ? `${goFormatFixed(value, 0)}${unit}` : `${goFormatFixed(value, decimals)}${unit}`;
  if (n >= 1e9) return scaled(n / 1e9, 1, "B");
  if (n >= 1e6) return scaled(n / 1e6, 2, "M");
  if (n >= 1e3) return `${goFormatFixed(n / 1e3, 0)}K`;
  return String(n);
}

/** format.HumanBytes: decimal units; below 10 one decimal when fractional ("4.9 GB", "12 MB", "512 B"). */
export function humanBytes(n: number): string {
  const units: Array<[number, string]> = [
    [1e12, "TB"],
    [1e9, "GB"],
    [1e6, "MB"],
    [1e3, "KB"],
  ];
  for (const [size, unit] of units) {
    if (n < size) continue;
    const value = n / size;
    if (value >= 10 || value === Math.trunc(value)) return `${Math.trunc(value)} ${unit}`;
    return `${goFormatFixed(value, 1)} ${unit}`;
  }
  return `${n} B`;
}
