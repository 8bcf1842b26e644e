// anywidget entry point for featureviz.CheckpointScrubber: play through
// training checkpoints and watch features form. Bundled to
// src/featureviz/static/scrubber.js by build.mjs. DOM hooks: see
// lib/scrubber-view.ts.

import { createScrubberView } from "./lib/scrubber-view";
import { widget } from "./lib/view";

export default widget(createScrubberView);
