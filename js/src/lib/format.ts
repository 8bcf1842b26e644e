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
