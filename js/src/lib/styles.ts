// Scoped CSS (fv- prefix). Colours come from Jupyter / VS Code variables with
// fallbacks, so light and dark themes both work; the canvas uses readTheme().

export const BASE_CSS = `
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
.fv-spacer { position: relative; }
.fv-heatmap-canvas { position: sticky; top: 0; left: 0; display: block; cursor: crosshair; }
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
`;
