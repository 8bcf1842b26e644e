// Test helpers: a fake anywidget model, matrix builders and a canvas stub.

import { afterEach, beforeEach, expect, vi } from "vitest";
import type { AnyModel, Handler } from "../src/lib/traits";

export class FakeModel implements AnyModel {
  state: Record<string, unknown>;
  saves = 0;
  sets: Array<[string, unknown]> = [];
  private handlers = new Map<string, Set<Handler>>();

  constructor(state: Record<string, unknown>) {
    this.state = { ...state };
  }
  get(name: string): unknown {
    return this.state[name];
  }
  set(name: string, value: unknown): void {
    const old = this.state[name];
    this.state[name] = value;
    this.sets.push([name, value]);
    if (old !== value) this.emit(`change:${name}`);
  }
  save_changes(): void {
    this.saves++;
  }
  on(event: string, cb: Handler): void {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)!.add(cb);
  }
  off(event?: string | null, cb?: Handler | null): void {
    if (!event) this.handlers.clear();
    else if (!cb) this.handlers.delete(event);
    else this.handlers.get(event)?.delete(cb);
  }
  emit(event: string): void {
    for (const cb of [...(this.handlers.get(event) ?? [])]) cb();
  }
  /** Simulate a change coming from Python (sets state and fires the event). */
  remoteSet(name: string, value: unknown): void {
    this.state[name] = value;
    this.emit(`change:${name}`);
  }
  listenerCount(): number {
    let n = 0;
    for (const s of this.handlers.values()) n += s.size;
    return n;
  }
}

export function f32(values: number[]): DataView {
  return new DataView(new Float32Array(values).buffer);
}

export function i32(values: number[]): DataView {
  return new DataView(new Int32Array(values).buffer);
}

export function denseTrait(rows: number[][]): Record<string, unknown> {
  const nCols = rows[0]?.length ?? 0;
  return { shape: [rows.length, nCols], format: "dense", data: f32(rows.flat()) };
}

export function csrTrait(rows: number[][]): Record<string, unknown> {
  const nCols = rows[0]?.length ?? 0;
  const data: number[] = [];
  const indices: number[] = [];
  const indptr = [0];
  for (const row of rows) {
    row.forEach((v, c) => {
      if (v !== 0) {
        data.push(v);
        indices.push(c);
      }
    });
    indptr.push(data.length);
  }
  return { shape: [rows.length, nCols], format: "csr", data: f32(data), indices: i32(indices), indptr: i32(indptr) };
}

export interface CtxCall {
  name: string;
  args: unknown[];
  fillStyle?: unknown;
  strokeStyle?: unknown;
}

/** Replace HTMLCanvasElement.getContext with a recording 2D context stub. */
export function stubCanvas(): { calls: CtxCall[]; restore(): void } {
  const calls: CtxCall[] = [];
  const proto = HTMLCanvasElement.prototype as unknown as { getContext: unknown };
  const original = proto.getContext;
  proto.getContext = function (this: HTMLCanvasElement) {
    const props: Record<string, unknown> = { canvas: this, fillStyle: "#000", strokeStyle: "#000", globalAlpha: 1 };
    return new Proxy(props, {
      get(target, key: string) {
        if (key in target) return target[key];
        if (key === "measureText") return (s: string) => ({ width: s.length * 6 });
        return (...args: unknown[]) => {
          calls.push({ name: key, args, fillStyle: target.fillStyle, strokeStyle: target.strokeStyle });
        };
      },
      set(target, key: string, value) {
        target[key] = value;
        return true;
      },
    });
  };
  return {
    calls,
    restore() {
      proto.getContext = original;
    },
  };
}

export const tick = (ms = 40) => new Promise((r) => setTimeout(r, ms));

export function mouse(target: Element, type: string, x: number, y: number): void {
  target.dispatchEvent(new MouseEvent(type, { clientX: x, clientY: y, bubbles: true }));
}

interface Widget {
  render(ctx: { model: AnyModel; el: HTMLElement }): unknown;
}

/**
 * A widget mounted on a fresh element in each test (registers beforeEach / afterEach): mount(state)
 * renders it with a FakeModel and finds its root; afterEach unmounts it, removes the element, restores
 * real timers and (with canvas: true) the real canvas context.
 */
export function widgetPage(widget: Widget, rootSelector: string, opts: { canvas?: boolean } = {}) {
  let el: HTMLElement | null = null;
  let stub: ReturnType<typeof stubCanvas> | null = null;
  let cleanup: (() => void) | undefined;
  beforeEach(() => {
    if (opts.canvas) stub = stubCanvas();
    el = document.createElement("div");
    document.body.appendChild(el);
  });
  afterEach(() => {
    page.unmount();
    el?.remove();
    el = null;
    stub?.restore();
    stub = null;
    vi.useRealTimers();
  });
  const page = {
    get el(): HTMLElement {
      if (!el) throw new Error("widgetPage: no element outside a test");
      return el;
    },
    /** The recording canvas stub (canvas: true). */
    get canvas(): { calls: CtxCall[] } {
      if (!stub) throw new Error("widgetPage: created without canvas: true");
      return stub;
    },
    /** Render the widget with this model; returns its root element. */
    render(model: AnyModel): HTMLElement {
      const dispose = widget.render({ model, el: page.el });
      cleanup = typeof dispose === "function" ? (dispose as () => void) : undefined;
      return page.el.querySelector<HTMLElement>(rootSelector)!;
    },
    mount(state: Record<string, unknown>): { model: FakeModel; root: HTMLElement } {
      const model = new FakeModel(state);
      return { model, root: page.render(model) };
    },
    /** Tear the widget down (its cleanup), keeping the element. */
    unmount(): void {
      cleanup?.();
      cleanup = undefined;
    },
    /** Unmount, and check that every model listener and the widget's root are gone. */
    expectTornDown(model: FakeModel): void {
      expect(model.listenerCount()).toBeGreaterThan(0);
      page.unmount();
      expect(model.listenerCount()).toBe(0);
      expect(page.el.querySelector(rootSelector)).toBeNull();
    },
  };
  return page;
}
