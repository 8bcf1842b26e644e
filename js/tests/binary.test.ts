import { describe, expect, it } from "vitest";
import { decodeMatrix, readFloat32, toBytes } from "../src/lib/binary";
import { csrTrait, denseTrait, f32, i32 } from "./helpers";
import { u8Trait } from "./quantised";

const rows = [
  [0, 1.5, 0],
  [2, 0, -3],
];

function dense(m: ReturnType<typeof decodeMatrix>) {
  if (!m.ok) throw new Error(m.error);
  const out: number[][] = [];
  for (let r = 0; r < m.matrix.nRows; r++) {
    out.push([]);
    for (let c = 0; c < m.matrix.nCols; c++) out[r].push(m.matrix.get(r, c));
  }
  return out;
}

describe("decodeMatrix", () => {
  it("decodes dense row-major float32 from a DataView", () => {
    const res = decodeMatrix(denseTrait(rows));
    expect(res.ok).toBe(true);
    expect(dense(res)).toEqual(rows);
    if (res.ok) {
      expect(res.matrix.format).toBe("dense");
      expect(res.matrix.get(5, 5)).toBe(0); // out of range -> 0
    }
  });

  it("decodes CSR", () => {
    const res = decodeMatrix(csrTrait(rows));
    expect(res.ok).toBe(true);
    expect(dense(res)).toEqual(rows);
    if (res.ok) {
      expect(res.matrix.format).toBe("csr");
      expect(res.matrix.nnz).toBe(3);
      const seen: Array<[number, number]> = [];
      res.matrix.forEachInRow(1, (c, v) => seen.push([c, v]));
      expect(seen).toEqual([
        [0, 2],
        [2, -3],
      ]);
    }
  });

  it("handles CSR with unsorted indices", () => {
    const res = decodeMatrix({
      shape: [1, 4],
      format: "csr",
      data: f32([4, 1]),
      indices: i32([3, 0]),
      indptr: i32([0, 2]),
    });
    expect(dense(res)).toEqual([[1, 0, 0, 4]]);
  });

  it("accepts ArrayBuffer, typed arrays, unaligned views and plain arrays", () => {
    const values = [1, 2, 3, 4];
    const buf = new Float32Array(values).buffer;
    for (const data of [buf, new Float32Array(values), new Uint8Array(buf), new DataView(buf), values]) {
      expect(dense(decodeMatrix({ shape: [2, 2], format: "dense", data }))).toEqual([
        [1, 2],
        [3, 4],
      ]);
    }
    // Unaligned DataView (offset 1) still decodes.
    const bytes = new Uint8Array(17);
    bytes.set(new Uint8Array(buf), 1);
    const unaligned = new DataView(bytes.buffer, 1, 16);
    expect(dense(decodeMatrix({ shape: [2, 2], format: "dense", data: unaligned }))).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(toBytes("nope")).toBeNull();
  });

  it("supports empty matrices", () => {
    const res = decodeMatrix({ shape: [0, 5], format: "dense", data: new ArrayBuffer(0) });
    expect(res.ok).toBe(true);
    const csr = decodeMatrix({ shape: [0, 5], format: "csr", data: f32([]), indices: i32([]), indptr: i32([0]) });
    expect(csr.ok).toBe(true);
  });

  const malformed: Array<[string, unknown]> = [
    ["null", null],
    ["a string", "matrix"],
    ["an array", [1, 2]],
    ["missing shape", { format: "dense", data: f32([1]) }],
    ["bad shape", { shape: [1], format: "dense", data: f32([1]) }],
    ["negative shape", { shape: [-1, 2], format: "dense", data: f32([]) }],
    ["fractional shape", { shape: [1.5, 2], format: "dense", data: f32([1, 2, 3]) }],
    ["unknown format", { shape: [1, 1], format: "coo", data: f32([1]) }],
    ["missing data", { shape: [1, 1], format: "dense" }],
    ["data not a buffer", { shape: [1, 1], format: "dense", data: { a: 1 } }],
    ["dense too short", { shape: [2, 2], format: "dense", data: f32([1, 2, 3]) }],
    ["dense too long", { shape: [1, 2], format: "dense", data: f32([1, 2, 3]) }],
    ["truncated float32 bytes", { shape: [1, 2], format: "dense", data: new Uint8Array(7) }],
    ["csr missing indices", { shape: [1, 2], format: "csr", data: f32([1]), indptr: i32([0, 1]) }],
    [
      "csr indices length mismatch",
      { shape: [1, 2], format: "csr", data: f32([1]), indices: i32([0, 1]), indptr: i32([0, 1]) },
    ],
    [
      "csr indptr wrong length",
      { shape: [2, 2], format: "csr", data: f32([1]), indices: i32([0]), indptr: i32([0, 1]) },
    ],
    [
      "csr indptr not ending at nnz",
      { shape: [1, 2], format: "csr", data: f32([1]), indices: i32([0]), indptr: i32([0, 2]) },
    ],
    [
      "csr indptr not starting at 0",
      { shape: [1, 2], format: "csr", data: f32([1]), indices: i32([0]), indptr: i32([1, 1]) },
    ],
    [
      "csr decreasing indptr",
      { shape: [2, 2], format: "csr", data: f32([1, 2]), indices: i32([0, 1]), indptr: i32([0, 2, 1]) },
    ],
    [
      "csr decreasing then ok end",
      { shape: [3, 2], format: "csr", data: f32([1, 2]), indices: i32([0, 1]), indptr: i32([0, 2, 0, 2]) },
    ],
    [
      "csr column out of range",
      { shape: [1, 2], format: "csr", data: f32([1]), indices: i32([2]), indptr: i32([0, 1]) },
    ],
    ["csr negative column", { shape: [1, 2], format: "csr", data: f32([1]), indices: i32([-1]), indptr: i32([0, 1]) }],
    [
      "u8 codes too short",
      { shape: [2, 2], format: "dense_u8", data: new Uint8Array(3), scale: f32([1, 1]), zero: f32([0, 0]) },
    ],
    ["u8 missing scale", { shape: [1, 2], format: "dense_u8", data: new Uint8Array(2), zero: f32([0, 0]) }],
    [
      "u8 scale per row not column",
      { shape: [1, 2], format: "dense_u8", data: new Uint8Array(2), scale: f32([1]), zero: f32([0]) },
    ],
    [
      "u8 negative scale",
      { shape: [1, 1], format: "dense_u8", data: new Uint8Array(1), scale: f32([-1]), zero: f32([0]) },
    ],
    ["u8 NaN scale", { shape: [1, 1], format: "dense_u8", data: new Uint8Array(1), scale: f32([NaN]), zero: f32([0]) }],
    [
      "u8 fractional zero",
      { shape: [1, 1], format: "dense_u8", data: new Uint8Array(1), scale: f32([1]), zero: f32([0.5]) },
    ],
    [
      "csr truncated int32 bytes",
      { shape: [1, 2], format: "csr", data: f32([1]), indices: new Uint8Array(3), indptr: i32([0, 1]) },
    ],
  ];

  for (const [name, raw] of malformed) {
    it(`returns an error (no throw) for ${name}`, () => {
      let res: ReturnType<typeof decodeMatrix> | undefined;
      expect(() => (res = decodeMatrix(raw))).not.toThrow();
      expect(res?.ok).toBe(false);
      if (res && !res.ok) expect(res.error.length).toBeGreaterThan(5);
    });
  }

  it("does not throw on a detached buffer", () => {
    const buf = new ArrayBuffer(8);
    const view = new DataView(buf);
    structuredClone(buf, { transfer: [buf] });
    expect(() => decodeMatrix({ shape: [1, 2], format: "dense", data: view })).not.toThrow();
  });

  it("decodes dense_u8 as (code - zero) * scale per column", () => {
    const res = decodeMatrix({
      shape: [2, 3],
      format: "dense_u8",
      data: new Uint8Array([0, 10, 255, 5, 12, 3]),
      scale: f32([0.5, 0.25, 2]),
      zero: f32([0, 10, -1]),
    });
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    expect(res.matrix.format).toBe("dense_u8");
    expect(res.matrix.nnz).toBe(6);
    expect(dense(res)).toEqual([
      [0, 0, 512],
      [2.5, 0.5, 8],
    ]);
    expect([0, 1, 2, 3].map((c) => res.matrix.step(c))).toEqual([0.5, 0.25, 2, 0]);
    const seen: number[] = [];
    res.matrix.forEachInRow(1, (_c, v) => seen.push(v));
    expect(seen).toEqual([2.5, 0.5, 8]);
    expect(res.matrix.get(2, 0)).toBe(0); // out of range
    // Exact formats have step 0.
    const exact = decodeMatrix(denseTrait(rows));
    expect(exact.ok && exact.matrix.step(0)).toBe(0);
  });

  it("dense_u8 values are within scale / 2 of the originals; zeros stay zero", () => {
    // Mixed columns: sparse non-negative (SAE-like), signed (neurons), offset, constant, all zero.
    const nR = 300;
    const nC = 5;
    const value = (r: number, c: number): number => {
      const x = Math.sin(r * 12.9898 + c * 78.233) * 43758.5453;
      const u = x - Math.floor(x); // deterministic noise in [0, 1)
      return [u < 0.4 ? 0 : u * 7.3, (u - 0.3) * 0.9, 1000 + u, -2.5, 0][c];
    };
    const { trait, scale } = u8Trait(nR, nC, value);
    const res = decodeMatrix(trait);
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    let worst = 0;
    for (let r = 0; r < nR; r++) {
      for (let c = 0; c < nC; c++) {
        const x = Math.fround(value(r, c));
        const err = Math.abs(res.matrix.get(r, c) - x);
        expect(err).toBeLessThanOrEqual(scale[c] / 2 + 1e-12);
        if (x === 0) expect(res.matrix.get(r, c)).toBe(0);
        if (scale[c] > 0) worst = Math.max(worst, err / scale[c]);
        expect(res.matrix.step(c)).toBe(scale[c]);
      }
    }
    expect(worst).toBeGreaterThan(0.3); // the bound is tight, not vacuous
    expect(scale[0]).toBeLessThanOrEqual(7.3 / 255 + 1e-6); // step <= column range / 255
    expect(scale[4]).toBe(0);
  });

  it("readFloat32 reads little-endian", () => {
    const dv = new DataView(new ArrayBuffer(4));
    dv.setFloat32(0, 0.25, true);
    const res = readFloat32(dv);
    expect(res.ok && res.values[0]).toBe(0.25);
  });
});
