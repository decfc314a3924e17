// The standard normal pdf/cdf and a log-domain EI helper. Hand-written because the
// candidates on npm are either table-based (0.01 steps) or lose all precision in the far
// tail, where log EI still has to rank candidates (Ament et al. 2023, "LogEI").

const SQRT2 = Math.SQRT2;
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** erfc with relative error < 1.2e-7 (Numerical Recipes' Chebyshev fit). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** erfcx(x) = exp(x²)·erfc(x) for x ≥ 0 without overflow (same fit, exponent cancelled). */
export function erfcx(x: number): number {
  if (x < 0) return Math.exp(x * x) * erfc(x);
  const t = 1 / (1 + 0.5 * x);
  return (
    t *
    Math.exp(
      -1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    )
  );
}

export function normPdf(z: number): number {
  return Math.exp(-0.5 * z * z - LOG_SQRT_2PI);
}

export function normCdf(z: number): number {
  return 0.5 * erfc(-z / SQRT2);
}

/** log Φ(z), accurate in the lower tail. */
export function logNormCdf(z: number): number {
  if (z > -5) return Math.log(normCdf(z));
  // Φ(z) = ½·erfc(−z/√2) = ½·erfcx(−z/√2)·exp(−z²/2)
  return Math.log(0.5 * erfcx(-z / SQRT2)) - 0.5 * z * z;
}

/**
 * log h(z) where h(z) = φ(z) + zΦ(z), so EI = σ·h((f⁺ − μ)/σ). For very negative z
 * h(z) = φ(z)·(1 − z·Φ(z)/φ(z)) and Φ(z)/φ(z) = √(π/2)·erfcx(−z/√2): no cancellation.
 */
export function logH(z: number): number {
  if (z > -1) return Math.log(normPdf(z) + z * normCdf(z));
  // Asymptotic series h(z) ≈ φ(z)/z²·(1 − 3/z² + 15/z⁴) where the fit's error would dominate.
  if (z < -20) {
    const z2 = z * z;
    return -0.5 * z2 - LOG_SQRT_2PI - Math.log(z2) + Math.log(1 - 3 / z2 + 15 / (z2 * z2));
  }
  const ratio = Math.sqrt(Math.PI / 2) * erfcx(-z / SQRT2); // Φ(z)/φ(z)
  const inner = 1 + z * ratio;
  // For z → −∞ inner → 1/z²; guard the fit's tiny relative error from making it ≤ 0.
  const safeInner = inner > 1e-300 ? inner : 1 / (z * z);
  return -0.5 * z * z - LOG_SQRT_2PI + Math.log(safeInner);
}
