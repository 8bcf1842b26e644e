// anywidget entry point for featureviz.CircuitView: a feature circuit as a layered node-link graph.
// Bundled to src/featureviz/static/circuit.js by build.mjs.

import { createCircuitView } from "./lib/circuit-view";
import type { AnyModel } from "./lib/traits";

export interface RenderProps {
  model: AnyModel;
  el: HTMLElement;
}

function render({ model, el }: RenderProps): () => void {
  const view = createCircuitView(model, el);
  return () => view.destroy();
}

export default { render };
