// Play / pause, the checkpoint slider and its tick labels: the controls of the checkpoint scrubber and
// the vision scrubber.
//
// DOM: .fv-scrub-controls > button.fv-play, .fv-slider-box > input.fv-slider, .fv-ticks > .fv-tick-label

import { h } from "./dom";
import { createPlaySlider, type Player } from "./player";
import { cleanLabel } from "./tokens";
import type { Scope } from "./view";

const MAX_TICKS = 7;
/** Clear space between two tick labels, px. */
const TICK_GAP = 8;
/** Width of a 10 px tick label per character where the browser has not laid it out (hidden, headless DOM). */
const TICK_CHAR_PX = 6;

/**
 * Which ticks to show so no two labels overlap (issue 18): `pos` are the ticks' x (px, increasing), `widths`
 * their label widths. The first label starts at its x and the last ends at its x (the CSS), the others are
 * centred. The first and the last are kept; the others left to right while they stay TICK_GAP clear of
 * the previous label and of the last. Returns the kept positions in `pos`.
 */
export function fitTicks(pos: readonly number[], widths: readonly number[], gap = TICK_GAP): number[] {
  const n = pos.length;
  if (n <= 1) return n ? [0] : [];
  const left = (i: number) => (i === 0 ? pos[i] : i === n - 1 ? pos[i] - widths[i] : pos[i] - widths[i] / 2);
  const right = (i: number) => left(i) + widths[i];
  if (left(n - 1) < right(0) + gap) return [0]; // not even the two ends fit
  const kept = [0];
  for (let i = 1; i < n - 1; i++)
    if (left(i) >= right(kept[kept.length - 1]) + gap && right(i) + gap <= left(n - 1)) kept.push(i);
  kept.push(n - 1);
  return kept;
}

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
  let fractions: number[] = []; // each tick's position along the slider, 0..1

  /** Hide the ticks that would overlap at the current width (all shown while there is no layout). */
  const thin = () => {
    const spans = Array.from(ticks.children) as HTMLElement[];
    const width = ticks.clientWidth;
    for (const s of spans) s.style.display = "";
    if (!(width > 0)) return;
    const widths = spans.map((s) => s.offsetWidth || (s.textContent ?? "").length * TICK_CHAR_PX);
    const keep = new Set(
      fitTicks(
        fractions.map((f) => f * width),
        widths,
      ),
    );
    spans.forEach((s, i) => {
      s.style.display = keep.has(i) ? "" : "none";
    });
    ticks.dataset.shown = String(keep.size);
  };
  o.scope.onResize(ticks, thin);

  return {
    el,
    player,
    pick,
    build(labels, count) {
      ps.setCount(count);
      ticks.replaceChildren();
      fractions = [];
      for (const i of tickIndices(count, MAX_TICKS)) {
        const tick = h("span", {
          className: "fv-tick-label",
          text: cleanLabel(labels[i], 16),
          title: cleanLabel(labels[i], 200),
        });
        fractions.push(count > 1 ? i / (count - 1) : 0);
        tick.style.left = `${fractions[fractions.length - 1] * 100}%`;
        tick.dataset.index = String(i);
        tick.addEventListener("click", () => pick(i));
        ticks.appendChild(tick);
      }
      thin();
    },
    update(index, label) {
      ps.update(index, label);
      for (const t of Array.from(ticks.children) as HTMLElement[])
        t.classList.toggle("fv-current", t.dataset.index === String(index));
    },
  };
}
