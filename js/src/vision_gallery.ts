// anywidget entry point for featureviz.vision.Gallery (units x optimised images).

import { widget } from "./lib/view";
import { createGalleryView } from "./lib/vision-view";

export default widget(createGalleryView);
