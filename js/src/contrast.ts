// anywidget entry point for featureviz.ContrastView: per-group means of the
// features that separate groups of prompts, with significance marks.
// Bundled to src/featureviz/static/contrast.js by build.mjs.

import { createContrastView } from "./lib/contrast-view";
import { widget } from "./lib/view";

export default widget(createContrastView);
