// anywidget entry point for featureviz.vision.VisionScrubber (the gallery over training checkpoints).

import { widget } from "./lib/view";
import { createVisionScrubberView } from "./lib/vision-view";

export default widget(createVisionScrubberView);
