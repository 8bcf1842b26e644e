// The crosscoder panel of the feature dashboard: one bar per hook (layer) with the feature's decoder norm
// there, scaled to the largest, so a feature local to one layer and one shared by all read at a glance.
// Hook names are untrusted text: textContent only.

import type { DecoderNormEntry } from "./dashboard-data";
import { h } from "./dom";
import { formatValue } from "./format";

/** Bar widths in percent of the largest norm (all 0 when every norm is 0). */
export function normShares(entries: readonly DecoderNormEntry[]): number[] {
  const top = Math.max(0, ...entries.map((e) => e.norm));
  return entries.map((e) => (top > 0 ? (100 * e.norm) / top : 0));
}

/** The "Decoder norm per layer" section, or null for pages without decoder norms (one-hook sources). */
export function decoderNormsSection(entries: readonly DecoderNormEntry[]): HTMLElement | null {
  if (entries.length === 0) return null;
  const total = entries.reduce((sum, e) => sum + e.norm, 0);
  const shares = normShares(entries);
  const rows = entries.map((e, i) => {
    const bar = h("span", { className: "fv-decnorm-bar" });
    bar.style.width = `${shares[i].toFixed(1)}%`;
    const share = total > 0 ? ` (${formatValue((100 * e.norm) / total)}% of the total)` : "";
    return h("div", { className: "fv-decnorm", title: `${e.hook}: ${formatValue(e.norm)}${share}` }, [
      h("span", { className: "fv-decnorm-hook", text: e.hook }),
      h("span", { className: "fv-decnorm-track" }, [bar]),
      h("span", { className: "fv-decnorm-value", text: formatValue(e.norm) }),
    ]);
  });
  return h("section", { className: "fv-dash-section fv-dash-decoder-norms" }, [
    h("div", { className: "fv-dash-h" }, [h("span", { text: "Decoder norm per layer" })]),
    ...rows,
  ]);
}

export const DECODER_NORMS_CSS = `
.fv-decnorm { display: grid; grid-template-columns: minmax(0, 1.4fr) 1fr auto; align-items: center; gap: 6px; line-height: 1.45; }
.fv-decnorm-hook { font-family: var(--fv-code); font-size: 11px; overflow-wrap: anywhere; min-width: 0; }
.fv-decnorm-track { height: 7px; border-radius: 2px; background: var(--fv-track); overflow: hidden; }
.fv-decnorm-bar { display: block; height: 100%; border-radius: 2px; background: var(--fv-accent); }
.fv-decnorm-value { font-family: var(--fv-code); font-size: 10px; color: var(--fv-fg2); text-align: right; min-width: 3.6em; }
`;
