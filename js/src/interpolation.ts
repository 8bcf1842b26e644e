// anywidget entry point for featureviz.Interpolation: steer one feature over a
// precomputed sweep of values and scrub through the generated text and the
// next-token probabilities. The slider needs no kernel round trip.
// Bundled to src/featureviz/static/interpolation.js by build.mjs.

import { createInterpolationView } from "./lib/interpolation-view";
import { widget } from "./lib/view";

export default widget(createInterpolationView);
