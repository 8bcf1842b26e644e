// anywidget entry point for featureviz.Heatmap: token x feature heatmap.
// Bundled to src/featureviz/static/heatmap.js by build.mjs.
// (createHeatmapView times its first paint from the call: data-first-paint-ms.)

import { createHeatmapView } from "./lib/heatmap-view";
import { widget } from "./lib/view";

export default widget(createHeatmapView);
