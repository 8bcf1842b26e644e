// The view kit: one scope owns a view's listeners, events, timers and frames; dispose undoes them all,
// and a throw in any handler reaches the view's error display instead of the notebook.

import { afterEach, describe, expect, it, vi } from "vitest";
import { createScope, frameScheduler } from "../src/lib/view";
import { FakeModel } from "./helpers";

afterEach(() => vi.useRealTimers());

describe("createScope", () => {
  it("listens to traits and DOM events until dispose", () => {
    const model = new FakeModel({ a: 1, b: 2 });
    const scope = createScope(model, () => undefined);
    const calls: string[] = [];
    scope.listen(["a", "b"], () => calls.push("trait"));
    const button = document.createElement("button");
    scope.on(button, "click", () => calls.push("click"));
    model.remoteSet("a", 3);
    button.click();
    expect(calls).toEqual(["trait", "click"]);
    expect(model.listenerCount()).toBe(2);
    scope.dispose();
    model.remoteSet("b", 4);
    button.click();
    expect(calls).toEqual(["trait", "click"]);
    expect(model.listenerCount()).toBe(0);
  });

  it("sends a throw from any handler to onError", () => {
    const model = new FakeModel({ a: 1 });
    const errors: string[] = [];
    const scope = createScope(model, (m) => errors.push(m));
    scope.listen("a", () => {
      throw new Error("bad data");
    });
    expect(() => model.remoteSet("a", 2)).not.toThrow();
    scope.safely(() => {
      throw "plain";
    });
    expect(errors).toEqual(["bad data", "plain"]);
  });

  it("runs timers once, restarts them, and cancels them on dispose", () => {
    vi.useFakeTimers();
    const scope = createScope(new FakeModel({}), () => undefined);
    let fired = 0;
    const timer = scope.timer(() => fired++, 100);
    timer.start();
    vi.advanceTimersByTime(60);
    timer.start(); // restarts the wait
    vi.advanceTimersByTime(60);
    expect(fired).toBe(0);
    expect(timer.pending).toBe(true);
    vi.advanceTimersByTime(40);
    expect(fired).toBe(1);
    expect(timer.pending).toBe(false);
    timer.start();
    scope.dispose();
    vi.advanceTimersByTime(500);
    expect(fired).toBe(1);
  });

  it("runs deferred teardown in order, even when one throws", () => {
    const scope = createScope(new FakeModel({}), () => undefined);
    const order: number[] = [];
    scope.defer(() => order.push(1));
    scope.defer(() => {
      throw new Error("x");
    });
    scope.defer(() => order.push(3));
    scope.dispose();
    scope.dispose(); // a second dispose does nothing
    expect(order).toEqual([1, 3]);
  });
});

describe("frameScheduler", () => {
  it("coalesces schedules into one run per frame; flush runs now; cancel drops the frame", () => {
    vi.useFakeTimers();
    let runs = 0;
    const frames = frameScheduler(() => runs++);
    frames.schedule();
    frames.schedule();
    vi.advanceTimersByTime(50);
    expect(runs).toBe(1);
    frames.schedule();
    frames.flush();
    vi.advanceTimersByTime(50);
    expect(runs).toBe(2);
    frames.schedule();
    frames.cancel();
    vi.advanceTimersByTime(50);
    expect(runs).toBe(2);
  });
});
