// anywidget entry point for featureviz.Dashboard: one feature's card
// (density, histogram, logit effects, nearest features, top and interval
// contexts) with navigation and token search.
// Bundled to src/featureviz/static/dashboard.js by build.mjs.

import { createDashboardView } from "./lib/dashboard-view";
import type { AnyModel } from "./lib/traits";

export interface RenderProps {
  model: AnyModel;
  el: HTMLElement;
}

function render({ model, el }: RenderProps): () => void {
  const view = createDashboardView(model, el);
  return () => view.destroy();
}

export default { render };
