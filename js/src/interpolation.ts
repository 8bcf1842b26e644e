// anywidget entry point for featureviz.Interpolation: steer one feature over a
// precomputed sweep of values and scrub through the generated text and the
// next-token probabilities. The slider needs no kernel round trip.
// Bundled to src/featureviz/static/interpolation.js by build.mjs.

import { createInterpolationView } from "./lib/interpolation-view";
import type { AnyModel } from "./lib/traits";

export interface RenderProps {
  model: AnyModel;
  el: HTMLElement;
}

function render({ model, el }: RenderProps): () => void {
  const view = createInterpolationView(model, el);
  return () => view.destroy();
}

export default { render };
