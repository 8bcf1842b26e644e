// anywidget entry point for featureviz.CheckpointScrubber: play through
// training checkpoints and watch features form. Bundled to
// src/featureviz/static/scrubber.js by build.mjs. DOM hooks: see
// lib/scrubber-view.ts.

import { createScrubberView } from "./lib/scrubber-view";
import type { AnyModel } from "./lib/traits";

export interface RenderProps {
  model: AnyModel;
  el: HTMLElement;
}

function render({ model, el }: RenderProps): () => void {
  const view = createScrubberView(model, el);
  return () => view.destroy();
}

export default { render };
