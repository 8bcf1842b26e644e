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
