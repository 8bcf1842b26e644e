// Play / pause control shared by the scrubber and interpolation views: steps
// an index on a timer, stops at the last value, restarts from the first.

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
