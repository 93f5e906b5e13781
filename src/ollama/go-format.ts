/**
 * Go's number formatting where it differs from JavaScript's, byte for byte: `encoding/json`'s
 * float32 form (params blobs) and `fmt`'s `%.Nf` rounding (HumanNumber in the config blob).
 * Strings and float64s are go-json.ts's job (JSON.stringify already matches Go there).
 */

/** Shortest decimal digits (no dot) and decimal exponent such that 0.d1d2... × 10^exp reads back as x. */
function shortestDigits(x: number, roundTrips: (candidate: number) => boolean): { digits: string; exp: number } {
  for (let p = 1; p <= 17; p++) {
    const s = x.toExponential(p - 1); // d.ddde±n
    if (roundTrips(Number(s))) {
      const [mant, e] = s.split("e");
      const digits = mant.replace(".", "").replace(/0+$/, "") || "0";
      return { digits, exp: Number(e) + 1 };
    }
  }
  throw new Error(`cannot format ${x}`);
}

/** digits × 10^(exp - len) in plain positional form ('f' with shortest precision). */
function positional(digits: string, exp: number): string {
  if (exp <= 0) return `0.${"0".repeat(-exp)}${digits}`;
  if (exp >= digits.length) return digits + "0".repeat(exp - digits.length);
  return `${digits.slice(0, exp)}.${digits.slice(exp)}`;
}

/** Go's 'e' format with shortest precision, then encoding/json's "e-07" -> "e-7" clean-up. */
function exponential(digits: string, exp: number): string {
  const e = exp - 1;
  const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const abs = Math.abs(e);
  const expText = e < 0 && abs < 10 ? `-${abs}` : `${e < 0 ? "-" : "+"}${abs < 10 ? "0" : ""}${abs}`;
  return `${mant}e${expText}`;
}

/** A float32 as Go's encoding/json writes it (shortest digits that read back as the same float32). */
export function goJsonFloat32(value: number): string {
  const f = Math.fround(value);
  if (!Number.isFinite(f)) throw new Error(`json: unsupported value: ${f}`);
  if (f === 0) return Object.is(f, -0) ? "-0" : "0";
  const abs = Math.abs(f);
  const { digits, exp } = shortestDigits(abs, (c) => Math.fround(c) === abs);
  // Go compares float32(abs) with the constants converted to float32
  const useExp = abs < Math.fround(1e-6) || abs >= Math.fround(1e21);
  return (f < 0 ? "-" : "") + (useExp ? exponential(digits, exp) : positional(digits, exp));
}

/**
 * Go's `fmt.Sprintf("%.<prec>f", x)`: the exact binary value rounded half-to-even, unlike
 * `Number.prototype.toFixed`, which rounds exact ties up (1.25 -> "1.3" where Go prints "1.2").
 */
export function goFormatFixed(x: number, prec: number): string {
  if (!Number.isFinite(x)) return x > 0 ? "+Inf" : x < 0 ? "-Inf" : "NaN";
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  // exact value of |x| as num / 2^k
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, Math.abs(x));
  const bits = buf.getBigUint64(0);
  const biasedExp = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  const mant = biasedExp === 0 ? frac : frac | (1n << 52n);
  const e2 = (biasedExp === 0 ? 1 : biasedExp) - 1075; // |x| = mant * 2^e2
  const scale = 10n ** BigInt(prec);
  let q: bigint;
  if (e2 >= 0) q = (mant << BigInt(e2)) * scale;
  else {
    const den = 1n << BigInt(-e2);
    const n = mant * scale;
    q = n / den;
    const rem2 = (n % den) * 2n;
    if (rem2 > den || (rem2 === den && q % 2n === 1n)) q += 1n;
  }
  let text = q.toString().padStart(prec + 1, "0");
  if (prec > 0) text = `${text.slice(0, -prec)}.${text.slice(-prec)}`;
  return sign + text;
}
