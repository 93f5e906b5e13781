/**
 * Ollama model names (`types/model/name.go`, ollama-store.md §3): parsing with the defaults
 * `registry.ollama.ai` / `library` / `latest`, Ollama's per-part validation, the short display form,
 * the manifest path, and the case-insensitive match Ollama applies to existing names.
 */
import { join } from "node:path";
import { ToolError } from "../formats/errors.ts";

/** A fully qualified model name; each part is also one directory level under `manifests/`. */
export interface ModelName {
  host: string;
  namespace: string;
  model: string;
  tag: string;
}

export const DEFAULT_HOST = "registry.ollama.ai";
export const DEFAULT_NAMESPACE = "library";
export const DEFAULT_TAG = "latest";

/** Ollama's marker for a part that was present but empty (`a:`, `/m`): never valid. */
const MISSING_PART = "!MISSING!";

type PartKind = "host" | "namespace" | "model" | "tag";

const MAX_PART_LENGTH: Record<PartKind, number> = { host: 350, namespace: 80, model: 80, tag: 80 };

function isAlphanumericOrUnderscore(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f;
}

/**
 * Ollama's `isValidPart`: ASCII only; the first character a letter, digit or `_`; then also `-`,
 * `.` (not in a namespace) and `:` (host only). Checked per UTF-16 unit, so any non-ASCII fails as
 * it does byte-wise in Go.
 */
function isValidPart(kind: PartKind, s: string): boolean {
  if (s.length < 1 || s.length > MAX_PART_LENGTH[kind]) return false;
  if (!isAlphanumericOrUnderscore(s.charCodeAt(0))) return false;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isAlphanumericOrUnderscore(c) || c === 0x2d /* - */) continue;
    if (c === 0x2e /* . */ && kind !== "namespace") continue;
    if (c === 0x3a /* : */ && kind === "host") continue;
    return false;
  }
  return true;
}

/** Go's `cutLast` + `cmp.Or(after, MissingPart)`: splits at the last `sep`; an empty right side is missing. */
function cutPromised(s: string, sep: string): [before: string, after: string, found: boolean] {
  const i = s.lastIndexOf(sep);
  if (i < 0) return [s, "", false];
  const after = s.slice(i + sep.length);
  return [s.slice(0, i), after === "" ? MISSING_PART : after, true];
}

/** Ollama's `ParseNameBare`: splits without defaults or validation; empty strings are absent parts. */
function parseNameBare(text: string): ModelName {
  const n: ModelName = { host: "", namespace: "", model: "", tag: "" };
  let s = text;
  // "/" is not allowed in a tag, so a ":" after the last "/" starts the tag (and a host port does not)
  if (s.lastIndexOf(":") > s.lastIndexOf("/")) [s, n.tag] = cutPromised(s, ":");
  let found: boolean;
  [s, n.model, found] = cutPromised(s, "/");
  if (!found) {
    n.model = s;
    return n;
  }
  [s, n.namespace, found] = cutPromised(s, "/");
  if (!found) {
    n.namespace = s;
    return n;
  }
  // a scheme ("https://host/ns/m") is Ollama's ProtocolScheme and never part of the stored name
  const scheme = s.indexOf("://");
  n.host = scheme >= 0 ? s.slice(scheme + 3) : s;
  return n;
}

/**
 * Parses a model name as Ollama does (`ParseName`): `[host/][namespace/]model[:tag]` with the
 * defaults filled in, then validated part by part. Throws a ToolError naming the bad part.
 */
export function parseModelName(text: string): ModelName {
  const bare = parseNameBare(text);
  const name: ModelName = {
    host: bare.host || DEFAULT_HOST,
    namespace: bare.namespace || DEFAULT_NAMESPACE,
    model: bare.model,
    tag: bare.tag || DEFAULT_TAG,
  };
  for (const kind of ["host", "namespace", "model", "tag"] as const) {
    const part = name[kind];
    if (isValidPart(kind, part)) continue;
    const what = part === MISSING_PART || part === "" ? "is empty" : `"${part}" is not valid`;
    throw new ToolError(text, `invalid model name: the ${kind} ${what} (${describePartRule(kind)})`);
  }
  return name;
}

function describePartRule(kind: PartKind): string {
  const extra = { host: "- . :", namespace: "-", model: "- .", tag: "- ." }[kind];
  return `1-${MAX_PART_LENGTH[kind]} ASCII letters, digits, _ or ${extra}, starting with a letter, digit or _`;
}

/**
 * Ollama's `ParseNameFromFilepath`: the four path parts under `manifests/` as a name, or undefined
 * when any part is not valid (Ollama then treats the file as a corrupt manifest).
 */
export function modelNameFromParts(parts: ModelName): ModelName | undefined {
  for (const kind of ["host", "namespace", "model", "tag"] as const) {
    if (!isValidPart(kind, parts[kind])) return undefined;
  }
  return { host: parts.host, namespace: parts.namespace, model: parts.model, tag: parts.tag };
}

/** True when `parseModelName` would accept `text`. */
export function isValidModelName(text: string): boolean {
  try {
    parseModelName(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * The name as `ollama list` shows it (`DisplayShortest`): the host is dropped when it is the default
 * registry, then the namespace when it is `library` (both case-insensitive); `:tag` is always shown.
 */
export function displayName(name: ModelName): string {
  let prefix = "";
  if (name.host.toLowerCase() !== DEFAULT_HOST) prefix = `${name.host}/${name.namespace}/`;
  else if (name.namespace.toLowerCase() !== DEFAULT_NAMESPACE) prefix = `${name.namespace}/`;
  return `${prefix}${name.model}:${name.tag}`;
}

/** The fully qualified form `host/namespace/model:tag`. */
export function fullName(name: ModelName): string {
  return `${name.host}/${name.namespace}/${name.model}:${name.tag}`;
}

/** `<modelsDir>/manifests/<host>/<namespace>/<model>/<tag>`; safe because every part was validated. */
export function manifestPath(modelsDir: string, name: ModelName): string {
  return join(modelsDir, "manifests", name.host, name.namespace, name.model, name.tag);
}

/** True when both names are the same model, ignoring case as Ollama's `EqualFold` does. */
export function sameNameIgnoringCase(a: ModelName, b: ModelName): boolean {
  return (
    a.host.toLowerCase() === b.host.toLowerCase() &&
    a.namespace.toLowerCase() === b.namespace.toLowerCase() &&
    a.model.toLowerCase() === b.model.toLowerCase() &&
    a.tag.toLowerCase() === b.tag.toLowerCase()
  );
}

/**
 * Ollama's `getExistingName`: each part of `name` independently takes the casing of a
 * case-insensitively equal part among `existing` names, so a new manifest joins existing folders
 * (`Alice/m` written where `alice/` exists goes into `alice/`). An exact-case match is kept when
 * there is one, which makes the choice deterministic where Ollama's map order is not.
 */
export function canonicalNameCase(name: ModelName, existing: Iterable<ModelName>): ModelName {
  const out = { ...name };
  const exact = { host: false, namespace: false, model: false, tag: false };
  for (const e of existing) {
    for (const kind of ["host", "namespace", "model", "tag"] as const) {
      if (exact[kind] || e[kind].toLowerCase() !== name[kind].toLowerCase()) continue;
      out[kind] = e[kind];
      exact[kind] = e[kind] === name[kind];
    }
  }
  return out;
}
