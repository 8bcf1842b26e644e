// What the dashboard asks Python for on request only (issue 18): the feature's activation on a text the user
// types (probe_text -> probe) and the per-token ablation effect on the next-token loss in the shown top contexts
// (ablation_for -> ablation). Both need a kernel and a model (the `live` trait); otherwise the controls are
// disabled and say why. Tokens and messages from Python are untrusted: textContent only.

import type { RGB } from "./colour";
import { mix } from "./colour";
import type { Example } from "./dashboard-data";
import type { Palette } from "./dashboard-parts";
import { h } from "./dom";
import { formatValue } from "./format";
import { cleanLabel, tokenLabel } from "./tokens";
import { type AnyModel, arrayOf, safeGet, setTrait } from "./traits";
import type { Scope } from "./view";

const MAX_TOKENS = 4096;
const MAX_MESSAGE = 400;

export interface ProbeResult {
  feature: number;
  text: string;
  tokens: string[];
  acts: number[];
  /** Why nothing was computed ("" when tokens and acts are there). */
  error: string;
}

export interface AblationResult {
  feature: number;
  /** Per top context, per token: the next-token loss change when the feature is zeroed there (null: none). */
  effects: (number | null)[][];
  error: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : Number.NaN);

/** The probe trait, or null when it holds nothing usable. Never throws. */
export function readProbe(raw: unknown): ProbeResult | null {
  try {
    if (!isObject(raw) || !Number.isSafeInteger(raw.feature)) return null;
    const error = typeof raw.error === "string" ? cleanLabel(raw.error, MAX_MESSAGE) : "";
    const tokens = (arrayOf(raw.tokens) ?? []).slice(0, MAX_TOKENS).map((t) => (typeof t === "string" ? t : ""));
    const acts = (arrayOf(raw.acts) ?? []).slice(0, tokens.length).map(num);
    if (!error && (tokens.length === 0 || acts.length !== tokens.length)) return null;
    return { feature: raw.feature as number, text: typeof raw.text === "string" ? raw.text : "", tokens, acts, error };
  } catch {
    return null;
  }
}

/** The ablation trait, or null. Never throws. */
export function readAblation(raw: unknown): AblationResult | null {
  try {
    if (!isObject(raw) || !Number.isSafeInteger(raw.feature)) return null;
    const error = typeof raw.error === "string" ? cleanLabel(raw.error, MAX_MESSAGE) : "";
    const effects = (arrayOf(raw.top) ?? []).map((ex) => {
      const list = isObject(ex) ? arrayOf(ex.effects) : null;
      return (list ?? []).slice(0, MAX_TOKENS).map((e) => (typeof e === "number" && Number.isFinite(e) ? e : null));
    });
    if (!error && !arrayOf(raw.top)) return null;
    return { feature: raw.feature as number, effects, error };
  } catch {
    return null;
  }
}

/** The probe as an example row: its max token is the centre (none when the feature never fires on it). */
export function probeExample(p: ProbeResult): Example {
  let center = -1;
  p.acts.forEach((a, i) => {
    if (a > 0 && (center < 0 || a > p.acts[center])) center = i;
  });
  return { value: center >= 0 ? p.acts[center] : 0, tokens: p.tokens, acts: p.acts, center };
}

/** The largest |effect| (the underline scale; 0 when there is none). */
export function effectScale(effects: readonly (readonly (number | null)[])[]): number {
  let m = 0;
  for (const row of effects) for (const e of row) if (e !== null && Math.abs(e) > m) m = Math.abs(e);
  return m;
}

/** Underline colour of an effect: red when zeroing the feature raises the loss (it helped), blue when it lowers. */
export function effectColour(effect: number, scale: number, pal: Palette): RGB {
  const t = scale > 0 ? Math.min(1, Math.abs(effect) / scale) : 0;
  return mix(pal.theme.background, effect > 0 ? pal.pos : pal.neg, 0.3 + 0.7 * t);
}

export function formatEffect(e: number): string {
  return `${e > 0 ? "+" : ""}${formatValue(e)}`;
}

export interface LiveControls {
  /** The text box: input, button and its status line. */
  readonly probeEl: HTMLElement;
  /** The ablation button and its status, for the top contexts' header. */
  readonly ablationEl: HTMLElement;
  /** Re-read the live, probe and ablation traits for the shown feature (null: no page). */
  update(feature: number | null): void;
  /** The probe result for the shown feature, if any. */
  probe(): ProbeResult | null;
  /** The ablation effects for the shown feature, if any. */
  ablation(): AblationResult | null;
}

/** onChange runs after a probe / ablation / live trait from Python was read (to redraw what shows them). */
export function createLiveControls(
  model: AnyModel,
  scope: Scope,
  kernelFree: boolean,
  onChange: () => void,
): LiveControls {
  const input = h("input", {
    className: "fv-probe-input",
    attrs: { type: "text", placeholder: "type a text…", "aria-label": "text to test against the feature" },
  });
  const run = h("button", { className: "fv-probe-run", text: "Run", attrs: { type: "button" } });
  const probeStatus = h("div", { className: "fv-probe-status", attrs: { role: "status", "aria-live": "polite" } });
  const probeEl = h("div", { className: "fv-probe" }, [
    h("div", { className: "fv-probe-row" }, [input, run]),
    probeStatus,
  ]);
  const ablate = h("button", { className: "fv-ablate", text: "loss effect", attrs: { type: "button" } });
  const ablationStatus = h("span", { className: "fv-ablate-status", attrs: { role: "status" } });
  const ablationEl = h("span", { className: "fv-ablate-tools" }, [ablate, ablationStatus]);
  let feature: number | null = null;
  let probe: ProbeResult | null = null;
  let ablation: AblationResult | null = null;
  let waitingProbe: string | null = null;
  let waitingAblation = false;

  const why = kernelFree
    ? "needs a running kernel (this is an exported file)"
    : "needs the model: Dashboard(data, model=..., source=...)";

  function render(): void {
    const live = !kernelFree && safeGet(model, "live") === true;
    for (const el of [input, run, ablate]) {
      el.disabled = !live;
      el.title = live ? "" : why;
    }
    if (live) {
      run.title = "the feature's activation on each token of this text (Enter)";
      ablate.title =
        "for each top context: how much the next-token loss rises (red) or falls (blue) when the feature is zeroed at that token";
    }
    const stale = probe !== null && waitingProbe !== null && probe.text !== waitingProbe;
    if (!live) probeStatus.textContent = why;
    else if (waitingProbe !== null && (probe === null || stale)) probeStatus.textContent = "computing…";
    else if (probe?.error) probeStatus.textContent = `⚠ ${probe.error}`;
    else if (probe) {
      const ex = probeExample(probe);
      probeStatus.textContent =
        ex.center >= 0 ? `max ${formatValue(ex.value)} at “${tokenLabel(ex.tokens[ex.center], 40)}”` : "does not fire";
    } else probeStatus.textContent = "";
    probeEl.dataset.state = probe?.error
      ? "error"
      : waitingProbe !== null && (probe === null || stale)
        ? "loading"
        : "";
    ablate.setAttribute("aria-pressed", String(ablation !== null && !ablation.error));
    if (waitingAblation && ablation === null) ablationStatus.textContent = "computing…";
    else if (ablation?.error) ablationStatus.textContent = `⚠ ${ablation.error}`;
    else if (ablation) ablationStatus.textContent = "underline: loss if zeroed, up red / down blue";
    else ablationStatus.textContent = "";
    ablationEl.dataset.state = ablation?.error ? "error" : "";
  }

  function readTraits(): void {
    const p = readProbe(safeGet(model, "probe"));
    probe = p && p.feature === feature ? p : null;
    if (probe && probe.text === waitingProbe) waitingProbe = null;
    const a = readAblation(safeGet(model, "ablation"));
    ablation = a && a.feature === feature ? a : null;
    if (ablation) waitingAblation = false;
  }

  function submit(): void {
    if (input.disabled) return;
    waitingProbe = input.value;
    setTrait(model, "probe_text", input.value);
    readTraits();
    render();
  }

  scope.listen(["probe", "ablation", "live"], () => {
    readTraits();
    render();
    onChange();
  });
  scope.on(run, "click", submit);
  scope.on<KeyboardEvent>(input, "keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      submit();
    }
  });
  scope.on(ablate, "click", () => {
    if (ablate.disabled || feature === null) return;
    waitingAblation = true;
    if (safeGet(model, "ablation_for") === feature) setTrait(model, "ablation_for", -1);
    setTrait(model, "ablation_for", feature);
    readTraits();
    render();
  });

  return {
    probeEl,
    ablationEl,
    update(f) {
      if (f !== feature) waitingAblation = false;
      feature = f;
      readTraits();
      if (waitingProbe === null && probe === null && document.activeElement !== input) {
        const text = safeGet(model, "probe_text");
        if (typeof text === "string" && input.value === "") input.value = text;
      }
      render();
    },
    probe: () => probe,
    ablation: () => ablation,
  };
}

export const LIVE_CSS = `
.fv-probe { margin-bottom: 8px; }
.fv-probe-row { display: flex; gap: 4px; }
.fv-dashboard input.fv-probe-input {
  flex: 1 1 auto; min-width: 0; font: inherit; font-family: var(--fv-code); color: var(--fv-fg); background: var(--fv-bg);
  border: 1px solid var(--fv-border); border-radius: 3px; height: 22px; padding: 0 5px; margin: 0;
}
.fv-probe-run, .fv-ablate {
  font: inherit; color: var(--fv-fg); background: var(--fv-bg); border: 1px solid var(--fv-border);
  border-radius: 3px; padding: 0 7px; height: 22px; cursor: pointer; line-height: 1;
}
.fv-ablate {
  height: 17px; padding: 0 5px; font-size: 10px; text-transform: none; letter-spacing: 0; font-weight: 400; white-space: nowrap;
}
.fv-dash-top > .fv-dash-h { flex-wrap: wrap; }
.fv-dash-top > .fv-dash-h > span:first-child { white-space: nowrap; }
.fv-probe-run:disabled, .fv-ablate:disabled { opacity: 0.45; cursor: default; }
.fv-probe-run:not(:disabled):hover, .fv-ablate:not(:disabled):hover { background: var(--fv-panel); border-color: var(--fv-accent); }
.fv-ablate[aria-pressed="true"] { border-color: var(--fv-accent); color: var(--fv-accent); }
.fv-ablate-tools { display: inline-flex; align-items: center; gap: 5px; min-width: 0; }
.fv-ablate-status, .fv-probe-status { color: var(--fv-fg2); font-size: 10px; font-weight: 400; text-transform: none; letter-spacing: 0; }
.fv-probe-status:empty { display: none; }
.fv-ablate-tools[data-state="error"] .fv-ablate-status, .fv-probe[data-state="error"] .fv-probe-status { color: var(--fv-neg-text); }
.fv-probe-result .fv-context { border-bottom: none; }
.fv-token[data-effect] { border-bottom: 3px solid transparent; }
`;
