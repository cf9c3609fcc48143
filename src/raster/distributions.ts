/**
 * Distribution functions for detection thresholds: log-gamma, the regularized incomplete gamma
 * functions, the normal upper tail and its inverse, and the upper tail of K-distributed intensity.
 * Formulas: Lanczos (g = 7, 9 terms) for log-gamma; the series and Lentz's continued fraction for the
 * incomplete gamma (Abramowitz and Stegun 6.5.29 and 6.5.31); erfc(x) = Q(1/2, x^2).
 */

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln(Gamma(x)) for x > 0. */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const EPS = 1e-16;
const TINY = 1e-300;

/** Regularized lower incomplete gamma P(a, x) by its series (converges fast for x < a + 1). */
function gammaPSeries(a: number, x: number): number {
  let ap = a;
  let del = 1 / a;
  let sum = del;
  for (let n = 0; n < 10000; n++) {
    ap += 1;
    del *= x / ap;
    sum += del;
    if (Math.abs(del) < Math.abs(sum) * EPS) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - lnGamma(a));
}

/** Regularized upper incomplete gamma Q(a, x) by its continued fraction (for x >= a + 1). */
function gammaQFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h;
}

/** Regularized upper incomplete gamma Q(a, x) = 1 - P(a, x); a > 0, x >= 0. */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  return x < a + 1 ? 1 - gammaPSeries(a, x) : gammaQFraction(a, x);
}

/** Regularized lower incomplete gamma P(a, x). */
export function gammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  return x < a + 1 ? gammaPSeries(a, x) : 1 - gammaQFraction(a, x);
}

/** The complementary error function, accurate to about 1e-15 relative. */
export function erfc(x: number): number {
  return x >= 0 ? gammaQ(0.5, x * x) : 2 - gammaQ(0.5, x * x);
}

/** P(Z > z) for a standard normal Z. */
export function normalUpperTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/**
 * The z with P(Z > z) = p for a standard normal Z (0 < p < 1): Acklam's rational approximation
 * refined by Newton steps on the exact tail, so the result is exact to double precision.
 */
export function normalUpperQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`tail probability must be in (0, 1), got ${p}`);
  const q = Math.min(p, 1 - p);
  // Acklam's lower-tail approximation for the quantile of q (then the sign fixed).
  const r = Math.sqrt(-2 * Math.log(q));
  let z =
    -(
      ((((-7.784894002430293e-3 * r - 3.223964580411365e-1) * r - 2.400758277161838) * r -
        2.549732539343734) *
        r +
        4.374664141464968) *
        r +
      2.938163982698783
    ) /
    ((((7.784695709041462e-3 * r + 3.224671290700398e-1) * r + 2.445134137142996) * r + 3.754408661907416) *
      r +
      1);
  // z approximates the upper quantile of q (positive); Newton on the exact tail.
  for (let i = 0; i < 4; i++) {
    const f = normalUpperTail(z) - q;
    const dens = Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
    z += f / dens;
  }
  return p <= 0.5 ? z : -z;
}

/**
 * P(I > T) for K-distributed intensity of unit mean: I = tau * s, texture tau ~ Gamma(nu, mean 1),
 * speckle s ~ Gamma(L, mean 1). P = integral of Q(L, L T / tau) over the texture density, by the
 * trapezoid rule in ln(tau) (spectrally accurate for this smooth, fast-decaying integrand).
 * nu = Infinity gives the gamma (pure speckle) tail.
 */
export function kUpperTail(T: number, looks: number, nu: number, points = 160): number {
  if (!Number.isFinite(nu)) return gammaQ(looks, looks * T);
  const sd = 1 / Math.sqrt(nu);
  // ln(tau) from where the texture density (left tail ~ tau^nu) or the speckle tail at L T / tau
  // becomes negligible (< 1e-17) to where the texture density's right tail does.
  const hi = 1 + 14 * sd + 60 / nu;
  // Relative to its peak (s = 0) the density of s = ln(tau) is exp(nu (s - e^s + 1)), below e^-40
  // for s < -(sqrt(80 / nu) + 40 / nu) (its Gaussian core for large nu, its e^(nu s) tail for small nu).
  const s0 = Math.max(
    Math.log(1e-12),
    -(Math.sqrt(80 / nu) + 40 / nu),
    Math.log((looks * T) / (looks + 10 * Math.sqrt(looks) + 45)),
  );
  if (s0 >= Math.log(hi)) return 0;
  const h = (Math.log(hi) - s0) / (points - 1);
  const lnNorm = nu * Math.log(nu) - lnGamma(nu);
  let sum = 0;
  for (let i = 0; i < points; i++) {
    const tau = Math.exp(s0 + i * h);
    // Density of ln(tau): g(tau) * tau with g the Gamma(nu, 1/nu) density.
    const w = Math.exp(lnNorm + nu * Math.log(tau) - nu * tau);
    const f = gammaQ(looks, (looks * T) / tau) * w;
    sum += i === 0 || i === points - 1 ? f / 2 : f;
  }
  return sum * h;
}

/** The T with P(I > T) = pfa for unit-mean K-distributed intensity (bracketed secant on ln P vs ln T). */
export function kUpperQuantile(pfa: number, looks: number, nu: number): number {
  const target = Math.log(pfa);
  const g = (lnT: number) => Math.log(Math.max(kUpperTail(Math.exp(lnT), looks, nu), 1e-300)) - target;
  let a = 0;
  let fa = g(a);
  let b = Math.log(8);
  let fb = g(b);
  while (fb > 0 && b < Math.log(1e6)) {
    a = b;
    fa = fb;
    b += Math.log(8);
    fb = g(b);
  }
  if (fa < 0) return 1;
  // Illinois variant of regula falsi: a stays on the positive side, b on the negative side.
  let side = 0;
  for (let i = 0; i < 60; i++) {
    const c = (a * fb - b * fa) / (fb - fa);
    const fc = g(c);
    if (Math.abs(fc) < 1e-10 || Math.abs(b - a) < 1e-12) return Math.exp(c);
    if (fc > 0) {
      a = c;
      fa = fc;
      if (side === 1) fb /= 2;
      side = 1;
    } else {
      b = c;
      fb = fc;
      if (side === -1) fa /= 2;
      side = -1;
    }
  }
  return Math.exp((a + b) / 2);
}

/**
 * A table of K-distribution thresholds over the texture order nu for fixed looks and pfa, looked up
 * by linear interpolation in ln(nu); beyond its largest nu it uses the gamma limit.
 */
export class KThresholdTable {
  private readonly lnNu0: number;
  private readonly step: number;
  private readonly values: Float64Array;
  readonly gammaLimit: number;

  constructor(
    readonly pfa: number,
    readonly looks: number,
    nuMin = 0.05,
    nuMax = 2e4,
    n = 48,
  ) {
    this.lnNu0 = Math.log(nuMin);
    this.step = (Math.log(nuMax) - this.lnNu0) / (n - 1);
    this.values = new Float64Array(n);
    for (let i = 0; i < n; i++)
      this.values[i] = kUpperQuantile(pfa, looks, Math.exp(this.lnNu0 + i * this.step));
    this.gammaLimit = kUpperQuantile(pfa, looks, Number.POSITIVE_INFINITY);
  }

  /** The normalised threshold T(nu); nu <= 0 or NaN means no texture (gamma limit). */
  threshold(nu: number): number {
    if (!(nu > 0)) return this.gammaLimit;
    const u = (Math.log(nu) - this.lnNu0) / this.step;
    const n = this.values.length;
    if (u <= 0) return this.values[0];
    if (u >= n - 1) return Math.max(this.values[n - 1], this.gammaLimit);
    // Catmull-Rom cubic through the neighbouring nodes (linear at the ends).
    const i = Math.floor(u);
    const f = u - i;
    const v = this.values;
    const p1 = v[i];
    const p2 = v[i + 1];
    if (i === 0 || i + 2 >= n) return p1 * (1 - f) + p2 * f;
    const p0 = v[i - 1];
    const p3 = v[i + 2];
    return p1 + 0.5 * f * (p2 - p0 + f * (2 * p0 - 5 * p1 + 4 * p2 - p3 + f * (3 * (p1 - p2) + p3 - p0)));
  }
}
