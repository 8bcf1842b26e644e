// Theme: read JupyterLab / VS Code CSS variables (with plain fallbacks) and
// detect dark vs light from the background luminance.

import { luminance, mix, parseColour, type RGB, toCss } from "./colour";

export interface Theme {
  dark: boolean;
  background: RGB; // cell area / canvas background
  panel: RGB; // gutter + header background
  text: RGB;
  textMuted: RGB;
  border: RGB;
  separator: RGB; // prompt separator lines
  selection: RGB; // outline of the selected feature
  hover: RGB;
  fontUi: string;
  fontCode: string;
}

const UI_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const CODE_FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace";

/** First non-empty CSS custom property among names, read from el. */
export function readVar(style: CSSStyleDeclaration | null, names: string[]): string {
  if (!style) return "";
  for (const n of names) {
    let v = "";
    try {
      v = style.getPropertyValue(n).trim();
    } catch {
      v = "";
    }
    if (v) return v;
  }
  return "";
}

/** Resolve any CSS colour (names, hsl(), color-mix(), ...) to RGB via a probe element. */
function resolveColour(raw: string, host: HTMLElement | null): RGB | null {
  const direct = parseColour(raw);
  if (direct || !raw || !host || typeof getComputedStyle !== "function") return direct;
  try {
    const probe = document.createElement("span");
    probe.style.color = raw;
    probe.style.display = "none";
    host.appendChild(probe);
    const resolved = getComputedStyle(probe).color;
    probe.remove();
    return parseColour(resolved);
  } catch {
    return null;
  }
}

export function readTheme(el: HTMLElement | null): Theme {
  let style: CSSStyleDeclaration | null = null;
  try {
    style = el && typeof getComputedStyle === "function" ? getComputedStyle(el) : null;
  } catch {
    style = null;
  }
  const colour = (names: string[]) => resolveColour(readVar(style, names), el);

  const bg0 = colour(["--jp-layout-color0", "--vscode-editor-background"]);
  const fg0 = colour(["--jp-ui-font-color1", "--vscode-editor-foreground"]);
  // Dark if the background is dark; without a background, if the text is light.
  const dark = bg0 ? luminance(bg0) < 0.4 : fg0 ? luminance(fg0) > 0.5 : false;
  const background: RGB = bg0 ?? (dark ? [30, 30, 30] : [255, 255, 255]);
  const text: RGB = fg0 ?? (dark ? [212, 212, 212] : [33, 33, 33]);
  const panel: RGB = colour(["--jp-layout-color2", "--vscode-editorWidget-background"]) ?? mix(background, text, 0.06);
  const textMuted: RGB =
    colour(["--jp-ui-font-color2", "--vscode-descriptionForeground"]) ?? mix(text, background, 0.35);
  const border: RGB = colour(["--jp-border-color1", "--vscode-editorWidget-border"]) ?? mix(background, text, 0.25);
  const fontUi = readVar(style, ["--jp-ui-font-family", "--vscode-font-family"]) || UI_FONT;
  const fontCode = readVar(style, ["--jp-code-font-family", "--vscode-editor-font-family"]) || CODE_FONT;
  return {
    dark,
    background,
    panel,
    text,
    textMuted,
    border,
    separator: mix(background, text, dark ? 0.55 : 0.5),
    selection: dark ? [80, 200, 255] : [0, 110, 220],
    hover: mix(background, text, 0.8),
    fontUi,
    fontCode,
  };
}

export { toCss };

/**
 * Call fn whenever the notebook theme may have changed: JupyterLab switches
 * themes through attributes on <body>, VS Code through its class, and the OS
 * colour scheme through prefers-color-scheme. Returns a disposer. Never throws.
 */
export function watchTheme(fn: () => void): () => void {
  const run = () => {
    try {
      fn();
    } catch {
      /* a theme refresh must never break the view */
    }
  };
  let observer: MutationObserver | null = null;
  try {
    if (typeof MutationObserver === "function" && typeof document !== "undefined" && document.body) {
      observer = new MutationObserver(run);
      observer.observe(document.body, {
        attributes: true,
        attributeFilter: ["data-jp-theme-light", "data-jp-theme-name", "class"],
      });
    }
  } catch {
    observer = null;
  }
  let media: MediaQueryList | null = null;
  try {
    media = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;
    media?.addEventListener?.("change", run);
  } catch {
    media = null;
  }
  return () => {
    observer?.disconnect();
    try {
      media?.removeEventListener?.("change", run);
    } catch {
      /* ignore */
    }
  };
}

/**
 * Set the one accent colour of a view (selection, focus ring, cursor) on its root as --fv-accent, and,
 * where given, its translucent background --fv-accent-bg.
 */
export function setAccent(root: HTMLElement, accent: readonly [number, number, number], bgAlpha?: number): void {
  root.style.setProperty("--fv-accent", toCss(accent as RGB));
  if (bgAlpha !== undefined)
    root.style.setProperty("--fv-accent-bg", `rgba(${accent[0]},${accent[1]},${accent[2]},${bgAlpha})`);
}
