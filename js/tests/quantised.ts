// Test helper: the "dense_u8" matrix trait, quantised like
// src/featureviz/widgets/arrays.py (per column: 255 steps of `scale` cover
// [min, max], `zero` is the integer code of 0.0).

function nextFloat32Up(x: number): number {
  const f = new Float32Array([x]);
  const i = new Int32Array(f.buffer);
  if (f[0] >= x) return f[0];
  i[0] += f[0] >= 0 ? 1 : -1;
  return f[0];
}

export interface U8Matrix {
  trait: Record<string, unknown>;
  scale: Float32Array;
  zero: Float32Array;
}

/** Quantise a row-major nRows x nCols block (values as a flat array or a generator). */
export function u8Trait(nRows: number, nCols: number, value: (row: number, col: number) => number): U8Matrix {
  const lo = new Float64Array(nCols).fill(Infinity);
  const hi = new Float64Array(nCols).fill(-Infinity);
  for (let r = 0; r < nRows; r++) {
    for (let c = 0; c < nCols; c++) {
      const v = Math.fround(value(r, c));
      if (v < lo[c]) lo[c] = v;
      if (v > hi[c]) hi[c] = v;
    }
  }
  const scale = new Float32Array(nCols);
  const zero = new Float32Array(nCols);
  for (let c = 0; c < nCols; c++) {
    if (nRows === 0) continue;
    const wanted = Math.max((hi[c] - lo[c]) / 255, Math.max(Math.abs(lo[c]), Math.abs(hi[c])) * 2 ** -22);
    scale[c] = nextFloat32Up(wanted);
    zero[c] = scale[c] > 0 ? Math.round(-lo[c] / scale[c]) : 0;
  }
  const codes = new Uint8Array(nRows * nCols);
  for (let r = 0; r < nRows; r++) {
    for (let c = 0; c < nCols; c++) {
      const s = scale[c];
      const q = s > 0 ? Math.round(Math.fround(value(r, c)) / s + zero[c]) : 0;
      codes[r * nCols + c] = q < 0 ? 0 : Math.min(q, 255);
    }
  }
  return { trait: u8Payload(nRows, nCols, codes, scale, zero), scale, zero };
}

/** The "dense_u8" trait for given codes and per-column grid, as it arrives from anywidget. */
export function u8Payload(nRows: number, nCols: number, codes: Uint8Array, scale: Float32Array, zero: Float32Array) {
  return {
    shape: [nRows, nCols],
    format: "dense_u8",
    data: new DataView(codes.buffer),
    scale: new DataView(scale.buffer),
    zero: new DataView(zero.buffer),
  };
}
