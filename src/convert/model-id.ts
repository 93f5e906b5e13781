/**
 * Hugging Face model ids as gguf-py's `Metadata` reads them: the parts of an id
 * (`get_model_id_components`), titles (`id_to_title`) and the size label from a parameter count.
 */
/** Parts of a Hugging Face model id, as gguf-py's heuristics split them. */
export interface ModelIdParts {
  fullName?: string;
  organization?: string;
  basename?: string;
  finetune?: string;
  version?: string;
  sizeLabel?: string;
}

const SIZE_SUFFIXES = " KMBT";

function sizeLabelParams(label: string): number {
  return Number.parseFloat(label.slice(0, -1)) * 1000 ** SIZE_SUFFIXES.indexOf(label[label.length - 1]);
}

function isActiveParamsLabel(label: string): boolean {
  return /^A\d+([._]\d+)?[KMBT][\d]?$/i.test(label);
}

const isDecimal = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";

function normalizeSizeLabel(label: string): string {
  label = label.replaceAll("_", ".");
  // bloom-7b1 notation
  if (isDecimal(label[label.length - 1])) label = `${label.slice(0, -2)}.${label[label.length - 1]}${label[label.length - 2]}`;
  if (label.length > 1 && isDecimal(label[label.length - 2]) && "kmbt".includes(label[label.length - 1])) {
    label = label.slice(0, -1) + label[label.length - 1].toUpperCase();
  }
  return label;
}

/** gguf-py `Metadata.id_to_title`: title-case words unless acronyms or version numbers. */
export function idToTitle(text: string): string {
  return text
    .trim()
    .replaceAll("-", " ")
    .split(/\s+/)
    .filter((w) => w.length > 0)
    .map((w) => (isLower(w) && !/^(v\d+(?:\.\d+)*|\d.*)$/.test(w) ? pythonTitle(w) : w))
    .join(" ");
}

/** Python's str.islower(): at least one cased character, all of them lower case. */
function isLower(w: string): boolean {
  return w === w.toLowerCase() && w !== w.toUpperCase();
}

/** Python's str.title(): upper-case the first letter of each run of letters. */
function pythonTitle(word: string): string {
  let out = "";
  let prevLetter = false;
  for (const ch of word) {
    const isLetter = ch.toLowerCase() !== ch.toUpperCase();
    out += isLetter ? (prevLetter ? ch.toLowerCase() : ch.toUpperCase()) : ch;
    prevLetter = isLetter;
  }
  return out;
}

/** A port of gguf-py's `Metadata.get_model_id_components`. */
export function modelIdParts(modelId: string | undefined, totalParams: number): ModelIdParts {
  if (modelId === undefined) return {};
  if (modelId.includes(" ")) return { fullName: modelId };
  let org: string | undefined;
  let full = modelId;
  const slash = modelId.indexOf("/");
  if (slash >= 0) {
    org = modelId.slice(0, slash);
    full = modelId.slice(slash + 1);
  }
  if (org !== undefined && org.length > 0 && org[0] === ".") org = undefined;

  const parts = full.split("-").filter((p) => p.length > 0);
  const types: Set<string>[] = parts.map(() => new Set());
  for (let i = 0; i < parts.length; i++) {
    let part = parts[i];
    if (/^(v|iter)?\d+([.]\d+)*$/i.test(part)) {
      types[i].add("version");
    } else if (/^(i?q\d(_\w)*|b?fp?(16|32))$/i.test(part)) {
      types[i].add("type");
      parts[i] = part.toUpperCase();
    } else if (i > 0 && /^(([A]|\d+[x])?\d+([._]\d+)?[KMBT][\d]?|small|mini|medium|large|x?xl)$/i.test(part)) {
      part = normalizeSizeLabel(part);
      if (totalParams !== 0) {
        const labelParams = sizeLabelParams(part);
        if (!Number.isNaN(labelParams)) {
          const next = i + 1 < parts.length ? normalizeSizeLabel(parts[i + 1]) : undefined;
          const followedByActive =
            next !== undefined &&
            isActiveParamsLabel(next) &&
            Math.abs(sizeLabelParams(next.slice(1)) - Math.abs(totalParams)) <= Math.floor((7 * Math.abs(totalParams)) / 8);
          const farFromModel =
            (totalParams < 0 && labelParams < Math.floor(Math.abs(totalParams) / 8)) ||
            (totalParams > 0 && Math.abs(labelParams - totalParams) > Math.floor((7 * totalParams) / 8));
          if (!followedByActive && farFromModel) {
            types[i].add("finetune"); // likely a context length
            part = part.slice(0, -1) + part[part.length - 1].toLowerCase();
          }
        }
      }
      if (types[i].size === 0) types[i].add("size_label");
      parts[i] = part;
    } else if (i > 0 && /^(chat|instruct|vision|lora)$/i.test(part)) {
      types[i].add(totalParams < 0 && part.toLowerCase() === "lora" ? "type" : "finetune");
    }
  }
  // word-based size labels give way to a number-based one
  if (parts.some((p, i) => types[i].has("size_label") && /\d/.test(p))) {
    parts.forEach((p, i) => {
      if (types[i].has("size_label") && /^[^\W\d_]+$/u.test(p)) types[i].delete("size_label");
    });
  }
  let atStart = true;
  parts.forEach((p, i) => {
    const t = types[i];
    if (atStart && ((t.size === 0 && /^\p{L}/u.test(p)) || t.has("version"))) t.add("basename");
    else {
      atStart = false;
      if (t.size === 0) t.add("finetune");
    }
  });
  for (let i = parts.length - 1; i >= 0; i--) {
    if (types[i].has("basename") && types[i].size > 1) types[i].delete("basename");
    else break;
  }
  const join = (pick: (t: Set<string>) => boolean) => {
    const picked = parts.filter((_, i) => pick(types[i]));
    return picked.length > 0 ? picked.join("-") : undefined;
  };
  let basename = join((t) => t.has("basename"));
  const sizeLabels = [...new Set(parts.filter((_, i) => types[i].has("size_label")))];
  const sizeLabel = sizeLabels.length > 0 ? sizeLabels.join("-") : undefined;
  const finetune = join((t) => t.has("finetune"));
  const version = join((t) => t.has("version") && !t.has("basename"));
  if (sizeLabel === undefined && finetune === undefined && version === undefined) basename = undefined;
  return { fullName: full, organization: org, basename, finetune, version, sizeLabel };
}

/** gguf-py `model_weight_count_rounded_notation`: "1.3M", "494K", "8.0B". */
export function roundedParameterCount(count: number, minDigits = 2): string {
  let scaled: number;
  let suffix: string;
  if (count > 1e12) [scaled, suffix] = [count * 1e-12, "T"];
  else if (count > 1e9) [scaled, suffix] = [count * 1e-9, "B"];
  else if (count > 1e6) [scaled, suffix] = [count * 1e-6, "M"];
  else [scaled, suffix] = [count * 1e-3, "K"];
  const digits = String(pythonRound(scaled)).replace(/^0+/, "").length;
  const fix = Math.max(minDigits - digits, 0);
  return `${scaled.toFixed(fix)}${suffix}`;
}

/** Python's round(): half to even. */
function pythonRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
