// anywidget entry point for featureviz.ContrastView: per-group means of the
// features that separate groups of prompts, with significance marks.
// Bundled to src/featureviz/static/contrast.js by build.mjs.

import { createContrastView } from "./lib/contrast-view";
import type { AnyModel } from "./lib/traits";

export interface RenderProps {
  model: AnyModel;
  el: HTMLElement;
}

function render({ model, el }: RenderProps): () => void {
  const view = createContrastView(model, el);
  return () => view.destroy();
}

export default { render };
