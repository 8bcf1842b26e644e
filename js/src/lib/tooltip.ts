// DOM tooltip. Content is set ONLY through textContent (tokens are untrusted).

import { closestIn, h } from "./dom";
import type { Scope } from "./view";

export type TooltipRow = [label: string, value: string];

export interface Tooltip {
  readonly el: HTMLElement;
  /** Show rows at (x, y), in pixels relative to the container's padding box. */
  show(rows: TooltipRow[], x: number, y: number): void;
  hide(): void;
  readonly visible: boolean;
  destroy(): void;
}

export function createTooltip(container: HTMLElement): Tooltip {
  const el = h("div", { className: "fv-tooltip", attrs: { role: "tooltip" } });
  el.style.display = "none";
  container.appendChild(el);
  let visible = false;

  return {
    el,
    get visible() {
      return visible;
    },
    show(rows, x, y) {
      while (el.firstChild) el.removeChild(el.firstChild);
      for (const [label, value] of rows) {
        const row = h("div", { className: "fv-tooltip-row" }, [
          h("span", { className: "fv-tooltip-label", text: label }),
          h("span", { className: "fv-tooltip-value", text: value }),
        ]);
        el.appendChild(row);
      }
      el.style.display = "block";
      visible = true;
      // Place below-right of the pointer, flipped to stay inside the container.
      const offset = 14;
      const cw = container.clientWidth || Infinity;
      const tw = el.offsetWidth || 0;
      const th = el.offsetHeight || 0;
      let left = x + offset;
      if (left + tw > cw && x - offset - tw >= 0) left = x - offset - tw;
      let top = y + offset;
      const ch = container.clientHeight || Infinity;
      if (top + th > ch && y - offset - th >= 0) top = y - offset - th;
      el.style.left = `${Math.max(0, left)}px`;
      el.style.top = `${Math.max(0, top)}px`;
    },
    hide() {
      if (!visible) return;
      el.style.display = "none";
      visible = false;
    },
    destroy() {
      el.remove();
    },
  };
}

export interface HoverTooltipOptions {
  scope: Scope;
  /** Where the pointer is watched. */
  within: HTMLElement;
  /** The tooltip's container (positions are relative to it). */
  host: HTMLElement;
  tooltip: Tooltip;
  /** The elements that have a tooltip. */
  selector: string;
  /** Rows for one of them (null: none). */
  rows(target: HTMLElement): TooltipRow[] | null;
  /** Follow the pointer within the same element (else the tooltip stays where it appeared). */
  follow?: boolean;
}

/** DOM tooltips: rows for the element under the pointer, computed once per element entered. */
export function hoverTooltips(o: HoverTooltipOptions): void {
  const { tooltip } = o;
  let current: HTMLElement | null = null;
  const leave = () => {
    current = null;
    tooltip.hide();
  };
  o.scope.on<MouseEvent>(o.within, "mousemove", (e) => {
    const target = closestIn(o.within, e.target, o.selector);
    if (!target) return leave();
    const rect = o.host.getBoundingClientRect();
    const x = e.clientX - rect.left;
    const y = e.clientY - rect.top;
    if (target !== current || !tooltip.visible) {
      current = target;
      const rows = o.rows(target);
      if (rows) tooltip.show(rows, x, y);
      else tooltip.hide();
    } else if (o.follow) {
      tooltip.el.style.left = `${Math.max(0, x + 14)}px`;
      tooltip.el.style.top = `${Math.max(0, y + 14)}px`;
    }
  });
  o.scope.on(o.within, "mouseleave", leave);
}
