// anywidget entry point for featureviz.vision.Gallery (units x optimised images).
import type { AnyModel } from "./lib/traits";
import { createGalleryView } from "./lib/vision-view";

function render({ model, el }: { model: AnyModel; el: HTMLElement }): () => void {
  const view = createGalleryView(model, el);
  return () => view.destroy();
}

export default { render };
