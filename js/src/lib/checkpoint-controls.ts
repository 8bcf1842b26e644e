// Play / pause, the checkpoint slider and its tick labels: the controls of the checkpoint scrubber and
// the vision scrubber.
//
// DOM: .fv-scrub-controls > button.fv-play, .fv-slider-box > input.fv-slider, .fv-ticks > .fv-tick-label

import { h } from "./dom";
import { createPlaySlider, type Player } from "./player";
import { cleanLabel } from "./tokens";
import type { Scope } from "./view";

const MAX_TICKS = 7;

/** Evenly spaced checkpoint indices for slider tick labels: the first, the last, and no two crowded. */
export function tickIndices(n: number, max: number): number[] {
  if (n <= 0) return [];
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const step = Math.ceil((n - 1) / (max - 1));
  const out: number[] = [];
  for (let i = 0; i < n - 1; i += step) if (n - 1 - i >= step * 0.6 || i === 0) out.push(i);
  out.push(n - 1);
  return out;
}

export interface CheckpointControlsOptions {
  scope: Scope;
  /** The view's root (the player sets data-playing on it). */
  root: HTMLElement;
  intervalMs: number;
  count(): number;
  index(): number;
  /** Show checkpoint i and tell Python (player steps, slider, ticks, pick()). */
  go(i: number): void;
}

export interface CheckpointControls {
  readonly el: HTMLElement;
  readonly player: Player;
  /** Stop playing and go to checkpoint i (ticks, chart points). */
  pick(i: number): void;
  /** New checkpoints: the slider's range and the tick labels. */
  build(labels: readonly string[], count: number): void;
  /** Show checkpoint `index` (slider, its spoken label, the current tick, the play button). */
  update(index: number, label: string): void;
}

export function createCheckpointControls(o: CheckpointControlsOptions): CheckpointControls {
  const ps = createPlaySlider({ ...o, label: "checkpoint" });
  const ticks = h("div", { className: "fv-ticks" });
  const el = h("div", { className: "fv-scrub-controls" }, [
    ps.play,
    h("div", { className: "fv-slider-box" }, [ps.slider, ticks]),
  ]);
  const { player, pick } = ps;

  return {
    el,
    player,
    pick,
    build(labels, count) {
      ps.setCount(count);
      ticks.replaceChildren();
      for (const i of tickIndices(count, MAX_TICKS)) {
        const tick = h("span", {
          className: "fv-tick-label",
          text: cleanLabel(labels[i], 16),
          title: cleanLabel(labels[i], 200),
        });
        tick.style.left = count > 1 ? `${(i / (count - 1)) * 100}%` : "0%";
        tick.dataset.index = String(i);
        tick.addEventListener("click", () => pick(i));
        ticks.appendChild(tick);
      }
    },
    update(index, label) {
      ps.update(index, label);
      for (const t of Array.from(ticks.children) as HTMLElement[])
        t.classList.toggle("fv-current", t.dataset.index === String(index));
    },
  };
}
