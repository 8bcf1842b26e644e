// The view kit: one scope per view that owns everything the view hooks up (trait listeners, DOM events,
// observers, timers, animation frames) and undoes it all in one dispose(). A throw inside any handler is
// shown through the view's onError instead of escaping into the notebook.

import { watchTheme } from "./theme";
import type { AnyModel, Handler } from "./traits";

export interface Scope {
  /** Run fn; a throw goes to the view's onError (a rendering bug must never escape into the notebook). */
  safely(fn: () => void): void;
  /** Run fn (safely) whenever any of the traits changes. */
  listen(traits: string | readonly string[], fn: () => void): void;
  /** addEventListener until dispose; the handler runs safely. */
  on<E extends Event = Event>(
    target: EventTarget,
    type: string,
    fn: (e: E) => void,
    options?: AddEventListenerOptions,
  ): void;
  /** Run fn (safely) whenever el changes size (where ResizeObserver exists). */
  onResize(el: Element, fn: () => void): void;
  /** Run fn (safely) whenever the notebook theme may have changed. */
  onTheme(fn: () => void): void;
  /** A cancellable one-shot timer; dispose cancels it too. */
  timer(fn: () => void, ms: number): Timer;
  /** A frame scheduler whose pending frame dispose cancels. */
  frames(fn: () => void): Frames;
  /** Run fn at dispose (children's destroy, root.remove()); disposers run in the order added. */
  defer(fn: () => void): void;
  dispose(): void;
}

export interface Timer {
  start(ms?: number): void;
  cancel(): void;
  readonly pending: boolean;
}

/** Coalesces many schedule() calls into one run on the next animation frame. */
export interface Frames {
  schedule(): void;
  /** Run now, dropping the pending frame. */
  flush(): void;
  cancel(): void;
}

const raf: (cb: () => void) => number =
  typeof requestAnimationFrame === "function"
    ? (cb) => requestAnimationFrame(cb)
    : (cb) => setTimeout(cb, 16) as unknown as number;
const caf: (id: number) => void =
  typeof cancelAnimationFrame === "function" ? (id) => cancelAnimationFrame(id) : (id) => clearTimeout(id);

/** One animation-frame scheduler: schedule() any number of times, fn runs once per frame. */
export function frameScheduler(fn: () => void): Frames {
  let frame: number | null = null;
  const cancel = () => {
    if (frame !== null) caf(frame);
    frame = null;
  };
  return {
    schedule() {
      if (frame === null)
        frame = raf(() => {
          frame = null;
          fn();
        });
    },
    flush() {
      cancel();
      fn();
    },
    cancel,
  };
}

/** The message of a thrown value. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function createScope(model: AnyModel, onError: (message: string) => void): Scope {
  const disposers: Array<() => void> = [];
  const defer = (fn: () => void) => void disposers.push(fn);
  const safely = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      try {
        onError(errorText(e));
      } catch {
        /* nothing more to do */
      }
    }
  };
  return {
    safely,
    defer,
    listen(traits, fn) {
      for (const t of typeof traits === "string" ? [traits] : traits) {
        const cb: Handler = () => safely(fn);
        model.on(`change:${t}`, cb);
        defer(() => model.off(`change:${t}`, cb));
      }
    },
    on(target, type, fn, options) {
      const cb = (e: Event) => safely(() => fn(e as never));
      target.addEventListener(type, cb, options);
      defer(() => target.removeEventListener(type, cb, options));
    },
    onResize(el, fn) {
      if (typeof ResizeObserver !== "function") return;
      const observer = new ResizeObserver(() => safely(fn));
      observer.observe(el);
      defer(() => observer.disconnect());
    },
    onTheme(fn) {
      defer(watchTheme(() => safely(fn)));
    },
    timer(fn, ms) {
      let id: ReturnType<typeof setTimeout> | null = null;
      const cancel = () => {
        if (id !== null) clearTimeout(id);
        id = null;
      };
      defer(cancel);
      return {
        start(delay = ms) {
          cancel();
          id = setTimeout(() => {
            id = null;
            safely(fn);
          }, delay);
        },
        cancel,
        get pending() {
          return id !== null;
        },
      };
    },
    frames(fn) {
      const f = frameScheduler(() => safely(fn));
      defer(f.cancel);
      return f;
    },
    dispose() {
      for (const d of disposers.splice(0)) {
        try {
          d();
        } catch {
          /* keep tearing down */
        }
      }
    },
  };
}

export interface RenderProps {
  model: AnyModel;
  el: HTMLElement;
}

/** An anywidget module (`export default widget(createXView)`): render() builds the view, its cleanup destroys it. */
export function widget(create: (model: AnyModel, el: HTMLElement) => { destroy(): void }): {
  render(props: RenderProps): () => void;
} {
  return {
    render({ model, el }) {
      const view = create(model, el);
      return () => view.destroy();
    },
  };
}
