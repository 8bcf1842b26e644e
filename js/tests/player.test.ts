import { afterEach, describe, expect, it, vi } from "vitest";
import { createPlayer } from "../src/lib/player";

function setup(n: number, start = 0) {
  const button = document.createElement("button");
  const root = document.createElement("div");
  let index = start;
  const player = createPlayer({
    button,
    root,
    intervalMs: 100,
    count: () => n,
    index: () => index,
    go: (i) => {
      index = i;
    },
    guard: (fn) => fn(),
  });
  player.update();
  return { button, root, player, index: () => index };
}

describe("createPlayer", () => {
  afterEach(() => vi.useRealTimers());

  it("steps to the last value and stops", () => {
    vi.useFakeTimers();
    const p = setup(3);
    p.player.toggle();
    expect(p.button.textContent).toBe("⏸ pause");
    expect(p.root.dataset.playing).toBe("true");
    vi.advanceTimersByTime(100);
    expect(p.index()).toBe(1);
    vi.advanceTimersByTime(500);
    expect(p.index()).toBe(2);
    expect(p.player.playing()).toBe(false);
    expect(p.button.textContent).toBe("▶ play");
    expect(p.button.getAttribute("aria-pressed")).toBe("false");
  });

  it("restarts from the first value at the end, and pauses", () => {
    vi.useFakeTimers();
    const p = setup(3, 2);
    p.player.toggle();
    expect(p.index()).toBe(0);
    p.player.toggle();
    vi.advanceTimersByTime(500);
    expect(p.index()).toBe(0);
    expect(p.root.dataset.playing).toBe("false");
  });

  it("is disabled with one value or fewer", () => {
    const p = setup(1);
    expect(p.button.disabled).toBe(true);
    p.player.toggle();
    expect(p.player.playing()).toBe(false);
  });
});
