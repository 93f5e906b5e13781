/**
 * Deterministic weight-like test data: N(0, sigma) float32 values from a seeded xorshift32
 * generator (Box-Muller), so every run and every machine quantizes the same input.
 */

/** Fills `out` with N(0, sigma) values; the same seed gives the same values. */
export function fillGaussian(out: Float32Array, sigma: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 1) / 4294967297; // in (0, 1): log() stays finite
  };
  for (let i = 0; i < out.length; i += 2) {
    const r = sigma * Math.sqrt(-2 * Math.log(uniform()));
    const a = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(a);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

/** A new rows x cols matrix of N(0, sigma) values. */
export function gaussianMatrix(rows: number, cols: number, sigma = 0.02, seed = 1): Float32Array {
  return fillGaussian(new Float32Array(rows * cols), sigma, seed);
}
