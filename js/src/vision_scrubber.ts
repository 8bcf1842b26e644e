// anywidget entry point for featureviz.vision.VisionScrubber (the gallery over training checkpoints).
import type { AnyModel } from "./lib/traits";
import { createVisionScrubberView } from "./lib/vision-view";

function render({ model, el }: { model: AnyModel; el: HTMLElement }): () => void {
  const view = createVisionScrubberView(model, el);
  return () => view.destroy();
}

export default { render };
