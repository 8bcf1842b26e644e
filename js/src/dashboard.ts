// anywidget entry point for featureviz.Dashboard: one feature's card
// (density, histogram, logit effects, nearest features, top and interval
// contexts) with navigation and token search.
// Bundled to src/featureviz/static/dashboard.js by build.mjs.

import { createDashboardView } from "./lib/dashboard-view";
import { widget } from "./lib/view";

export default widget(createDashboardView);
