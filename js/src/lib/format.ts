// Number formatting shared by tooltips, legends and headers.

/** Format with 3 significant digits, trimming trailing zeros. */
export function formatValue(v: number): string {
  if (typeof v !== "number" || Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "∞";
  if (v === -Infinity) return "-∞";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e3 && a < 1e6) return String(Math.round(v));
  if (a >= 1e6 || a < 1e-3) {
    const [mant, exp] = v.toExponential(2).split("e");
    return `${stripZeros(mant)}e${exp.replace("+", "")}`;
  }
  return stripZeros(v.toPrecision(3));
}

function stripZeros(s: string): string {
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

/**
 * A value with its uncertainty (e.g. a quantisation step's half-width), issue 18: the error to one
 * significant digit and the value rounded to the error's decimal place, then written like formatValue
 * (so never more digits than elsewhere): 5.2 ± 0.0306 -> "5.2 ± 0.03". No error (0, NaN) -> formatValue.
 */
export function formatUncertain(v: number, err: number): string {
  if (!(err > 0) || !Number.isFinite(err) || typeof v !== "number" || !Number.isFinite(v)) return formatValue(v);
  const e1 = Number(err.toPrecision(1)); // 0.096 -> 0.1: take the place after rounding
  const place = Math.floor(Math.log10(e1));
  const rounded = place < 0 ? Number(v.toFixed(Math.min(100, -place))) : Math.round(v / 10 ** place) * 10 ** place;
  return `${formatValue(rounded)} ± ${formatValue(e1)}`;
}

const UNITS: ReadonlyArray<readonly [number, string]> = [
  [1e12, "T"],
  [1e9, "B"],
  [1e6, "M"],
  [1e3, "k"],
];

/**
 * Axis and checkpoint numbers in one format (issue 18): below 1,000 as formatValue, above with a k / M / B / T
 * suffix and 3 significant digits, at least one decimal under 10 ("122880" -> "123k", 3e6 -> "3.0M",
 * 1.234e6 -> "1.23M", 45600 -> "45.6k"). scripts and Python's checkpoint labels use the same rule.
 */
export function formatCompact(v: number): string {
  if (typeof v !== "number" || !Number.isFinite(v)) return formatValue(v);
  const a = Math.abs(v);
  if (a < 999.5) return formatValue(v);
  const sign = v < 0 ? "-" : "";
  for (let k = UNITS.length - 1; k >= 0; k--) {
    const [unit, suffix] = UNITS[k];
    const s = a / unit;
    if (s >= 999.5 && k > 0) continue; // 999,999 -> "1.0M", not "1000k"
    const text = s >= 99.95 ? s.toFixed(0) : s >= 9.995 ? stripZeros(s.toFixed(1)) : s.toFixed(2).replace(/0$/, "");
    return `${sign}${text}${suffix}`;
  }
  return formatValue(v);
}
