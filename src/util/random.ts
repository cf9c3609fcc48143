/**
 * Seeded pseudo-random numbers (mulberry32) for simulators, tests and benchmarks:
 * the same seed gives the same sequence on every machine.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A circular complex Gaussian draw of mean power 2 amp^2 into out[i], out[i + 1] (Box-Muller):
 * single-look complex speckle, amp = sqrt(power / 2).
 */
export function complexGaussian(rand: () => number, amp: number, out: Float32Array, i: number): void {
  const u1 = rand() || 1e-12;
  const u2 = rand();
  const r = amp * Math.sqrt(-2 * Math.log(u1));
  out[i] = r * Math.cos(2 * Math.PI * u2);
  out[i + 1] = r * Math.sin(2 * Math.PI * u2);
}

/** Exponential(1) draws: single-look intensity speckle (gamma with L = 1). */
export function exponential(rand: () => number): number {
  return -Math.log(1 - rand());
}

/** Gamma(shape L, mean 1) draws: L-look intensity speckle (Marsaglia-Tsang). */
export function gammaUnitMean(rand: () => number, looks: number): number {
  if (looks === 1) return exponential(rand);
  const d = looks - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      const u1 = rand() || 1e-12;
      const u2 = rand();
      x = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rand();
    if (u < 1 - 0.0331 * x * x * x * x || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v)))
      return (d * v) / looks;
  }
}
