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
