// Play / pause control shared by the scrubber and interpolation views: steps
// an index on a timer, stops at the last value, restarts from the first.

import { h, rangeSlider } from "./dom";
import type { Scope } from "./view";

export interface PlayerOptions {
  button: HTMLButtonElement;
  root: HTMLElement;
  intervalMs: number;
  count: () => number;
  index: () => number;
  go: (i: number) => void;
  /** Runs each timer step (the view's error guard). */
  guard: (fn: () => void) => void;
}

export interface Player {
  playing(): boolean;
  /** Syncs the button and root.dataset.playing with the state. */
  update(): void;
  stop(): void;
  toggle(): void;
}

export function createPlayer(o: PlayerOptions): Player {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const schedule = () => {
    timer = setTimeout(() => o.guard(step), o.intervalMs);
  };

  function update(): void {
    const playing = timer !== null;
    o.button.textContent = playing ? "⏸ pause" : "▶ play";
    o.button.setAttribute("aria-pressed", playing ? "true" : "false");
    o.button.disabled = o.count() <= 1;
    o.root.dataset.playing = playing ? "true" : "false";
  }

  function stop(): void {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    update();
  }

  function step(): void {
    timer = null;
    const n = o.count();
    const next = o.index() + 1;
    if (n <= 1 || next >= n) {
      update();
      return;
    }
    // Keep the timer "on" while selecting so the button reads pause.
    if (next < n - 1) schedule();
    o.go(next);
    update(); // reads "play" again after the last value
  }

  function start(): void {
    const n = o.count();
    if (n <= 1 || timer !== null) return;
    if (o.index() >= n - 1) o.go(0); // at the end: play again from the start
    schedule();
    update();
  }

  return {
    playing: () => timer !== null,
    update,
    stop,
    toggle: () => (timer !== null ? stop() : start()),
  };
}

export interface PlaySliderOptions {
  scope: Scope;
  /** The view's root (data-playing). */
  root: HTMLElement;
  intervalMs: number;
  /** The slider's aria-label. */
  label: string;
  count(): number;
  index(): number;
  /** Show step i and tell Python (player steps, the slider, pick()). */
  go(i: number): void;
}

export interface PlaySlider {
  /** button.fv-play */
  readonly play: HTMLButtonElement;
  /** input.fv-slider */
  readonly slider: HTMLInputElement;
  readonly player: Player;
  /** Stop playing and go to step i (tick labels, chart points). */
  pick(i: number): void;
  /** A new number of steps. */
  setCount(n: number): void;
  /** Show step i: the slider, its spoken value, the play button. */
  update(i: number, valueText: string): void;
}

/** A play / pause button and a range slider over the same steps, wired to each other and to go(). */
export function createPlaySlider(o: PlaySliderOptions): PlaySlider {
  const play = h("button", {
    className: "fv-play",
    text: "▶ play",
    attrs: { type: "button", "aria-pressed": "false" },
  });
  const slider = rangeSlider(o.label);
  const player = createPlayer({
    button: play,
    root: o.root,
    intervalMs: o.intervalMs,
    count: o.count,
    index: o.index,
    go: o.go,
    guard: o.scope.safely,
  });
  const onSlider = () => {
    player.stop();
    const i = Number(slider.value);
    if (Number.isFinite(i)) o.go(i);
  };
  o.scope.on(slider, "input", onSlider);
  o.scope.on(slider, "change", onSlider);
  o.scope.on(play, "click", player.toggle);
  o.scope.defer(player.stop);
  return {
    play,
    slider,
    player,
    pick: (i) =>
      o.scope.safely(() => {
        player.stop();
        o.go(i);
      }),
    setCount(n) {
      slider.max = String(Math.max(0, n - 1));
      slider.disabled = n <= 1;
    },
    update(i, valueText) {
      if (slider.value !== String(i)) slider.value = String(i);
      slider.setAttribute("aria-valuetext", valueText);
      player.update();
    },
  };
}
