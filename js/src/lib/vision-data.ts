// Decoding of the vision widgets' traits (src/featureviz/vision/widgets.py):
//   images       {shape: [C?, U, N, H, W, 3], format: "rgb_u8", data}: RGB bytes, one buffer
//   activations  matrix [U, N] (gallery) or [C, U * N] (scrubber), any binary.ts format
//   probe_mean, probe_max, weight_cosine  matrices [C, U] (scrubber; {} when absent)
// Never throws: errors come back as {ok: false, error}.

import { decodeMatrix, type Matrix, toBytes } from "./binary";
import type { AnyModel } from "./traits";

export interface VisionData {
  nCheckpoints: number;
  nUnits: number;
  nImages: number;
  height: number;
  width: number;
  /** RGB bytes, [C, U, N, H, W, 3] row-major. */
  pixels: Uint8Array;
  unitIds: number[];
  unitLabels: string[];
  /** Activation of image n of unit u at checkpoint c on its unit. */
  activation(c: number, u: number, n: number): number;
  /** Per checkpoint c and unit u (NaN when absent). */
  probeMean(c: number, u: number): number;
  probeMax(c: number, u: number): number;
  cosine(c: number, u: number): number;
  hasProbe: boolean;
  labels: string[];
  x: number[];
  xLabel: string;
}

export type VisionResult = { ok: true; data: VisionData } | { ok: false; error: string };

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

/** The images trait: its leading shape and bytes, checked against H * W * 3 per image. */
export function decodeImages(
  raw: unknown,
): { ok: true; shape: number[]; pixels: Uint8Array } | { ok: false; error: string } {
  if (raw == null || typeof raw !== "object") return { ok: false, error: "images is missing" };
  const m = raw as Record<string, unknown>;
  const shape = m.shape;
  if (!Array.isArray(shape) || shape.length < 3 || !shape.every(isCount) || shape[shape.length - 1] !== 3) {
    return { ok: false, error: "images.shape must be [..., height, width, 3]" };
  }
  if ((m.format ?? "rgb_u8") !== "rgb_u8") return { ok: false, error: `images.format must be "rgb_u8"` };
  const pixels = toBytes(m.data);
  if (!pixels) return { ok: false, error: "images.data is missing or is not a binary buffer" };
  const expected = (shape as number[]).reduce((a, b) => a * b, 1);
  if (pixels.length !== expected) {
    return {
      ok: false,
      error: `images.data has ${pixels.length} bytes but shape [${shape.join(", ")}] needs ${expected}`,
    };
  }
  return { ok: true, shape: shape as number[], pixels };
}

function optionalMatrix(raw: unknown, rows: number, cols: number, name: string): Matrix | null | string {
  if (raw == null || (typeof raw === "object" && Object.keys(raw as object).length === 0)) return null;
  const r = decodeMatrix(raw);
  if (!r.ok) return `${name}: ${r.error}`;
  if (r.matrix.nRows !== rows || r.matrix.nCols !== cols) {
    return `${name} is ${r.matrix.nRows}×${r.matrix.nCols}, expected ${rows}×${cols}`;
  }
  return r.matrix;
}

function strings(v: unknown, n: number, fallback: (i: number) => string): string[] {
  const a = Array.isArray(v) ? v : [];
  return Array.from({ length: n }, (_, i) => (typeof a[i] === "string" ? (a[i] as string) : fallback(i)));
}

/** Read a Gallery (scrubber = false: images [U, N, H, W, 3]) or a VisionScrubber ([C, U, N, H, W, 3]). */
export function readVision(model: AnyModel, scrubber: boolean): VisionResult {
  const img = decodeImages(model.get("images"));
  if (!img.ok) return img;
  const shape = scrubber ? img.shape : [1, ...img.shape];
  if (shape.length !== 6)
    return { ok: false, error: `images.shape has ${img.shape.length} axes, expected ${scrubber ? 6 : 5}` };
  const [C, U, N, H, W] = shape;
  const acts = decodeMatrix(model.get("activations"));
  if (!acts.ok) return { ok: false, error: `activations: ${acts.error}` };
  const [aRows, aCols] = scrubber ? [C, U * N] : [U, N];
  if (acts.matrix.nRows !== aRows || acts.matrix.nCols !== aCols) {
    return { ok: false, error: `activations is ${acts.matrix.nRows}×${acts.matrix.nCols}, expected ${aRows}×${aCols}` };
  }
  const extra: Record<string, Matrix | null> = {};
  for (const name of scrubber ? ["probe_mean", "probe_max", "weight_cosine"] : []) {
    const m = optionalMatrix(model.get(name), C, U, name);
    if (typeof m === "string") return { ok: false, error: m };
    extra[name] = m;
  }
  const at = (m: Matrix | null | undefined) => (c: number, u: number) => (m ? m.get(c, u) : NaN);
  const idsRaw = model.get("units");
  const unitIds = Array.from({ length: U }, (_, i) =>
    Array.isArray(idsRaw) && Number.isInteger(idsRaw[i]) ? (idsRaw[i] as number) : i,
  );
  const xRaw = model.get("x_values");
  const x = Array.from({ length: C }, (_, i) =>
    Array.isArray(xRaw) && Number.isFinite(xRaw[i]) ? (xRaw[i] as number) : i,
  );
  const m = acts.matrix;
  return {
    ok: true,
    data: {
      nCheckpoints: C,
      nUnits: U,
      nImages: N,
      height: H,
      width: W,
      pixels: img.pixels,
      unitIds,
      unitLabels: strings(model.get("unit_labels"), U, (i) => `unit ${unitIds[i]}`),
      activation: scrubber ? (c, u, n) => m.get(c, u * N + n) : (_c, u, n) => m.get(u, n),
      probeMean: at(extra.probe_mean),
      probeMax: at(extra.probe_max),
      cosine: at(extra.weight_cosine),
      hasProbe: !!extra.probe_mean,
      labels: strings(model.get("labels"), C, (i) => `checkpoint ${i}`),
      x,
      xLabel: typeof model.get("x_label") === "string" ? (model.get("x_label") as string) : "",
    },
  };
}

/** RGBA bytes of one image (ImageData wants 4 channels). */
export function rgba(d: VisionData, c: number, u: number, n: number): Uint8ClampedArray<ArrayBuffer> {
  const size = d.height * d.width;
  const start = ((c * d.nUnits + u) * d.nImages + n) * size * 3;
  const out = new Uint8ClampedArray(new ArrayBuffer(size * 4));
  for (let p = 0; p < size; p++) {
    out[p * 4] = d.pixels[start + p * 3];
    out[p * 4 + 1] = d.pixels[start + p * 3 + 1];
    out[p * 4 + 2] = d.pixels[start + p * 3 + 2];
    out[p * 4 + 3] = 255;
  }
  return out;
}
