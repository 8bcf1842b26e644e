// The views' CSS. Colours come from Jupyter / VS Code variables with fallbacks, so light and dark themes both
// work; the canvas uses readTheme(). Every rule is scoped under a root class (scopeCss): several widgets share
// one page (and one document's styles), so a view's `.fv-token:hover` must not reach another view's tokens.
// The one accent colour (selection, focus, cursor) is --fv-accent, set per view from the theme (theme.ts).

/**
 * Prefix every selector of css with `root ` unless it already starts with root (`root`, `root[...]`,
 * `root.x`, `root x`); @media / @supports / @container blocks are scoped inside, @keyframes are left as they are.
 */
export function scopeCss(root: string, css: string): string {
  let out = "";
  let i = 0;
  while (i < css.length) {
    const open = css.indexOf("{", i);
    if (open < 0) return out + css.slice(i);
    const prelude = css.slice(i, open);
    const close = matchingBrace(css, open);
    const body = css.slice(open + 1, close);
    const head = prelude.trim();
    const lead = prelude.slice(0, prelude.length - prelude.trimStart().length);
    if (/^@(media|supports|container)\b/.test(head)) out += `${lead}${head} {${scopeCss(root, body)}}`;
    else if (head.startsWith("@")) out += `${prelude}{${body}}`;
    else
      out += `${lead}${splitSelectors(head)
        .map((sel) => scopeSelector(root, sel))
        .join(", ")} {${body}}`;
    i = close + 1;
  }
  return out;
}

function matchingBrace(css: string, open: number): number {
  let depth = 0;
  for (let j = open; j < css.length; j++) {
    if (css[j] === "{") depth++;
    else if (css[j] === "}" && --depth === 0) return j;
  }
  throw new Error(`unbalanced CSS after ${css.slice(open, open + 40)}`);
}

/** Split a selector list at its top-level commas (not those inside :is(...) / :not(...)). */
function splitSelectors(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let j = 0; j < list.length; j++) {
    const c = list[j];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      parts.push(list.slice(start, j).trim());
      start = j + 1;
    }
  }
  parts.push(list.slice(start).trim());
  return parts;
}

function scopeSelector(root: string, sel: string): string {
  const rest = sel.slice(root.length);
  return sel.startsWith(root) && !/^[\w-]/.test(rest) ? sel : `${root} ${sel}`;
}

/**
 * Tokens drawn as running text (issue 18): subword pieces ("en" + "raged") sit flush against each other, so
 * no padding, margin, rounded chip or atomic inline-block box between them; the token's own leading space
 * marks the word boundary and may wrap the line. Hover and colour stay per token. Each view scopes it.
 */
export const TOKEN_RUN_CSS = `
.fv-token { display: inline; margin: 0; padding: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
`;

/**
 * One token alone in a cell (a logit row, a search result): it never wraps inside itself ("dprintin|g"); one
 * longer than its cell ends with an ellipsis, and the cell's tooltip (tokenTooltip) shows it whole.
 */
export const TOKEN_CELL_CSS = `
.fv-token-cell { display: block; min-width: 0; white-space: pre; overflow: hidden; text-overflow: ellipsis; }
`;

/**
 * Every view's base. A view is as wide as its content, at least 320 px, at most its output; a drawn heatmap is
 * as wide as its grid (min-content: its toolbar wraps within it instead of widening the view past the grid).
 */
export const BASE_CSS = scopeCss(
  ".fv-root",
  `
.fv-root {
  --fv-bg: var(--jp-layout-color0, var(--vscode-editor-background, #fff));
  --fv-panel: var(--jp-layout-color2, var(--vscode-editorWidget-background, #eee));
  --fv-fg: var(--jp-ui-font-color1, var(--vscode-editor-foreground, #212121));
  --fv-fg2: var(--jp-ui-font-color2, var(--vscode-descriptionForeground, #616161));
  --fv-border: var(--jp-border-color1, var(--vscode-editorWidget-border, #bdbdbd));
  --fv-font: var(--jp-ui-font-family, var(--vscode-font-family, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif));
  --fv-code: var(--jp-code-font-family, var(--vscode-editor-font-family, ui-monospace, Menlo, Consolas, monospace));
  position: relative;
  box-sizing: border-box;
  width: fit-content;
  min-width: 320px;
  max-width: 100%;
  color: var(--fv-fg);
  background: var(--fv-bg);
  font-family: var(--fv-font);
  font-size: 12px;
  line-height: 1.3;
}
.fv-root *, .fv-root *::before, .fv-root *::after { box-sizing: border-box; }
.fv-root.fv-heatmap[data-state="ready"] { width: min-content; min-width: 0; }
.fv-toolbar {
  display: flex; flex-wrap: wrap; align-items: center; gap: 4px 12px;
  padding: 4px 6px; border: 1px solid var(--fv-border); border-bottom: none;
  background: var(--fv-panel);
}
.fv-title { font-weight: 600; margin-right: 4px; overflow-wrap: anywhere; }
.fv-control { display: inline-flex; align-items: center; gap: 4px; white-space: nowrap; color: var(--fv-fg); }
.fv-control select, .fv-control input { font: inherit; margin: 0; }
.fv-control select {
  color: var(--fv-fg); background: var(--fv-bg); border: 1px solid var(--fv-border);
  border-radius: 2px; padding: 0 2px; height: 20px;
}
.fv-control.fv-disabled { color: var(--fv-fg2); opacity: 0.6; }
.fv-legend { display: inline-flex; align-items: center; gap: 4px; font-variant-numeric: tabular-nums; color: var(--fv-fg2); }
.fv-legend-bar { display: inline-block; width: 96px; height: 10px; border: 1px solid var(--fv-border); }
.fv-info, .fv-note { color: var(--fv-fg2); }
.fv-note { flex-basis: 100%; font-size: 11px; }
.fv-note:empty { display: none; }
.fv-scroll {
  position: relative; overflow: auto; max-height: 480px; width: fit-content; max-width: 100%;
  border: 1px solid var(--fv-border); background: var(--fv-bg);
  overscroll-behavior: contain;
}
.fv-scroll.fv-resizable { resize: vertical; max-height: none; min-height: 60px; }
.fv-spacer { position: relative; }
.fv-heatmap-canvas { position: sticky; top: 0; left: 0; display: block; cursor: crosshair; }
.fv-heatmap-canvas:focus-visible { outline: 2px solid var(--fv-accent, #06c); outline-offset: -2px; }
.fv-message {
  padding: 10px 12px; border: 1px solid var(--fv-border); color: var(--fv-fg2);
  white-space: pre-wrap; overflow-wrap: anywhere;
}
.fv-tooltip {
  position: absolute; z-index: 10; pointer-events: none; max-width: 360px;
  padding: 4px 6px; border: 1px solid var(--fv-border); border-radius: 3px;
  background: var(--fv-bg); color: var(--fv-fg); box-shadow: 0 2px 6px rgba(0,0,0,0.25);
  font-size: 11px;
}
.fv-tooltip-row { display: flex; gap: 8px; }
.fv-tooltip-label { color: var(--fv-fg2); min-width: 52px; flex: none; }
.fv-tooltip-value { font-family: var(--fv-code); white-space: pre-wrap; overflow-wrap: anywhere; }
`,
);
