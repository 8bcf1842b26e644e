// anywidget entry point for featureviz.Heatmap: token x feature heatmap.
// Bundled to src/featureviz/static/heatmap.js by build.mjs.

import { createHeatmapView } from "./lib/heatmap-view";
import type { AnyModel } from "./lib/traits";

export interface RenderProps {
  model: AnyModel;
  el: HTMLElement;
}

function render({ model, el }: RenderProps): () => void {
  const start = typeof performance !== "undefined" && performance.now ? performance.now() : Date.now();
  const view = createHeatmapView(model, el, start);
  return () => view.destroy();
}

export default { render };
