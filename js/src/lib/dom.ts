// Tiny DOM helpers. Text is only ever set through textContent: token strings
// and labels are untrusted input, so nothing in this codebase uses innerHTML.

export interface HOptions {
  className?: string;
  text?: string;
  title?: string;
  attrs?: Record<string, string>;
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  opts: HOptions = {},
  children: Node[] = [],
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (opts.className) el.className = opts.className;
  if (opts.text !== undefined) el.textContent = opts.text;
  if (opts.title !== undefined) el.title = opts.title;
  if (opts.attrs) for (const [k, v] of Object.entries(opts.attrs)) el.setAttribute(k, v);
  for (const c of children) el.appendChild(c);
  return el;
}

/** The canvas's 2D context, or null where there is none (or it throws). */
export function context2d(canvas: HTMLCanvasElement): CanvasRenderingContext2D | null {
  try {
    return canvas.getContext("2d");
  } catch {
    return null;
  }
}

/**
 * The range input of a scrub / play control (min 0; max and value set by the view). JupyterLab and
 * Notebook 7 bind the arrow keys to notebook commands (Left / Right: headings, Up / Down: cells) wherever
 * the focus is outside a text field, so a focused slider would never see them; Lumino skips its shortcuts
 * for elements marked `data-lm-suppress-shortcuts`, which leaves the keys to the slider.
 */
export function rangeSlider(label: string): HTMLInputElement {
  return h("input", {
    className: "fv-slider",
    attrs: { type: "range", min: "0", max: "0", step: "1", "aria-label": label, "data-lm-suppress-shortcuts": "true" },
  });
}

/** Remove every child of node. */
export function clear(node: Element): void {
  while (node.firstChild) node.removeChild(node.firstChild);
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element with the given attributes and children. */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  children: Node[] = [],
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.appendChild(c);
  return el;
}

/** The element matching selector at or above target, inside within (null otherwise). */
export function closestIn(within: Element, target: EventTarget | null, selector: string): HTMLElement | null {
  const node = target as Element | null;
  if (!node || typeof node.closest !== "function") return null;
  const found = node.closest(selector) as HTMLElement | null;
  return found && within.contains(found) ? found : null;
}
