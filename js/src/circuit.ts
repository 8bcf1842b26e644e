// anywidget entry point for featureviz.CircuitView: a feature circuit as a layered node-link graph.
// Bundled to src/featureviz/static/circuit.js by build.mjs.

import { createCircuitView } from "./lib/circuit-view";
import { widget } from "./lib/view";

export default widget(createCircuitView);
