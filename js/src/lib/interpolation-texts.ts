// The interpolation view's two texts: the continuation steered with the value shown (its tokens from
// the first one that differs from the unsteered text highlighted, with the unsteered token in the
// title) and the unsteered continuation (its diverged part dimmed).
//
// DOM: .fv-interp-texts > .fv-generated[data-first-diff] (.fv-prompt, .fv-token[data-pos]),
// .fv-baseline (.fv-base-token)

import { clear, h } from "./dom";
import { diffTokens, flowText, type InterpolationData } from "./interpolation-data";
import { tokenTooltip } from "./tokens";

export interface SteeredTexts {
  readonly el: HTMLElement;
  /** Show the continuation for value i (nothing when out of range or without data). */
  update(d: InterpolationData | null, i: number): void;
}

function tokenSpan(token: string, className: string, title: string): HTMLSpanElement {
  return h("span", { className, text: token === "" ? "∅" : flowText(token), title });
}

const noTokens = () => h("span", { className: "fv-interp-empty-text", text: " (no tokens generated)" });

function renderSteered(generated: HTMLElement, d: InterpolationData, i: number): void {
  if (d.prompt) generated.appendChild(h("span", { className: "fv-prompt", text: flowText(d.prompt, 20000) }));
  const tokens = d.newTokens[i] ?? [];
  const base = d.baselineTokens;
  const diff = diffTokens(tokens, base);
  if (tokens.length === 0 && d.texts[i]) {
    // No tokens (malformed trait): show the text; diff it as a whole.
    const differs = d.texts[i] !== d.baselineText;
    generated.appendChild(tokenSpan(d.texts[i], differs ? "fv-token fv-diff fv-diff-first" : "fv-token", ""));
  }
  tokens.forEach((t, k) => {
    let cls = "fv-token";
    let title = `token ${k}: ${tokenTooltip(t)}`;
    if (diff.diverged[k]) {
      cls += k === diff.firstDiff ? " fv-diff fv-diff-first" : " fv-diff";
      title += k < base.length ? `\nunsteered: ${tokenTooltip(base[k])}` : "\nunsteered: (ended)";
    }
    const span = tokenSpan(t, cls, title);
    span.dataset.pos = String(k);
    generated.appendChild(span);
  });
  if (tokens.length === 0 && !d.texts[i]) generated.appendChild(noTokens());
  if (diff.endsEarly) {
    generated.appendChild(h("span", { className: "fv-interp-end", text: " ∎ ends here; the unsteered text goes on" }));
  }
  generated.dataset.firstDiff = diff.firstDiff < tokens.length ? String(diff.firstDiff) : "";
}

function renderBaseline(baseline: HTMLElement, d: InterpolationData, i: number): void {
  const tokens = d.newTokens[i] ?? [];
  const base = d.baselineTokens;
  const firstDiff = diffTokens(tokens, base).firstDiff;
  baseline.appendChild(h("span", { className: "fv-prompt", text: "…" }));
  if (base.length === 0 && d.baselineText) baseline.appendChild(tokenSpan(d.baselineText, "fv-base-token", ""));
  base.forEach((t, k) => {
    const diverged = tokens.length > 0 && k >= firstDiff;
    baseline.appendChild(
      tokenSpan(t, diverged ? "fv-base-token fv-base-diff" : "fv-base-token", `token ${k}: ${tokenTooltip(t)}`),
    );
  });
  if (base.length === 0 && !d.baselineText) baseline.appendChild(noTokens());
}

export function createSteeredTexts(): SteeredTexts {
  const generated = h("div", { className: "fv-generated", attrs: { "aria-live": "off" } });
  const baseline = h("div", { className: "fv-baseline" });
  const el = h("div", { className: "fv-interp-texts" }, [
    h("div", { className: "fv-interp-label", text: "steered" }),
    generated,
    h("div", { className: "fv-interp-label", text: "unsteered" }),
    baseline,
  ]);
  return {
    el,
    update(d, i) {
      clear(generated);
      clear(baseline);
      if (!d || i < 0 || i >= d.values.length) return;
      renderSteered(generated, d, i);
      renderBaseline(baseline, d, i);
    },
  };
}
