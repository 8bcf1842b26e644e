// The interpolation view's controls: play / pause, the slider over the sweep's values with the first
// and last value beside it, and the "more" buttons that ask Python for values beyond the range (off in
// an export, where no kernel answers).
//
// DOM: .fv-interp-controls > button.fv-play, .fv-slider-wrap > button.fv-extend-low, .fv-interp-min,
// input.fv-slider, .fv-interp-max, button.fv-extend-high

import { h } from "./dom";
import { formatValue } from "./format";
import { createPlaySlider, type Player } from "./player";
import type { Scope } from "./view";

export interface SweepControlsOptions {
  scope: Scope;
  /** The view's root (the player sets data-playing on it). */
  root: HTMLElement;
  intervalMs: number;
  /** No kernel: the "more" buttons say why they do nothing. */
  kernelFree: boolean;
  count(): number;
  index(): number;
  /** Show value i and tell Python (player steps, slider). */
  go(i: number): void;
  /** A "more" button was pressed. */
  extend(direction: "low" | "high"): void;
}

export interface SweepControls {
  readonly el: HTMLElement;
  readonly player: Player;
  /** New sweep: the slider's range, the end labels; `ablate` hides the "more" buttons. */
  build(values: readonly number[], ablate: boolean): void;
  /** Show value `index` (slider, its spoken label, the play button). */
  update(index: number, valueText: string): void;
  /** The "more" buttons are off (waiting for Python, or nothing to extend). */
  setExtendDisabled(disabled: boolean): void;
}

export function createSweepControls(o: SweepControlsOptions): SweepControls {
  const ps = createPlaySlider({ ...o, label: "steering value" });
  const extendButton = (direction: "low" | "high") =>
    h("button", {
      className: `fv-extend-${direction}`,
      text: direction === "low" ? "◀ more" : "more ▶",
      title: o.kernelFree
        ? "computing more values needs a running Python kernel (this is an exported file)"
        : `compute values ${direction === "low" ? "below" : "above"} the range (needs the Python kernel)`,
      attrs: { type: "button" },
    });
  const extendLow = extendButton("low");
  const extendHigh = extendButton("high");
  const minLabel = h("span", { className: "fv-interp-min" });
  const maxLabel = h("span", { className: "fv-interp-max" });
  const sliderWrap = h("div", { className: "fv-slider-wrap" }, [extendLow, minLabel, ps.slider, maxLabel, extendHigh]);
  const el = h("div", { className: "fv-interp-controls" }, [ps.play, sliderWrap]);
  o.scope.on(extendLow, "click", () => o.extend("low"));
  o.scope.on(extendHigh, "click", () => o.extend("high"));

  return {
    el,
    player: ps.player,
    build(values, ablate) {
      const S = values.length;
      ps.setCount(S);
      minLabel.textContent = S > 0 ? formatValue(values[0]) : "";
      maxLabel.textContent = S > 0 ? formatValue(values[S - 1]) : "";
      extendLow.style.display = ablate ? "none" : "";
      extendHigh.style.display = ablate ? "none" : "";
    },
    update(index, valueText) {
      ps.update(index, `value ${valueText}`);
    },
    setExtendDisabled(disabled) {
      extendLow.disabled = disabled;
      extendHigh.disabled = disabled;
    },
  };
}
