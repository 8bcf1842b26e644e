import { describe, expect, it } from "vitest";
import { decodeMatrix, readFloat32, toBytes } from "../src/lib/binary";
import { csrTrait, denseTrait, f32, i32 } from "./helpers";

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
    ["csr indices length mismatch", { shape: [1, 2], format: "csr", data: f32([1]), indices: i32([0, 1]), indptr: i32([0, 1]) }],
    ["csr indptr wrong length", { shape: [2, 2], format: "csr", data: f32([1]), indices: i32([0]), indptr: i32([0, 1]) }],
    ["csr indptr not ending at nnz", { shape: [1, 2], format: "csr", data: f32([1]), indices: i32([0]), indptr: i32([0, 2]) }],
    ["csr indptr not starting at 0", { shape: [1, 2], format: "csr", data: f32([1]), indices: i32([0]), indptr: i32([1, 1]) }],
    ["csr decreasing indptr", { shape: [2, 2], format: "csr", data: f32([1, 2]), indices: i32([0, 1]), indptr: i32([0, 2, 1]) }],
    ["csr decreasing then ok end", { shape: [3, 2], format: "csr", data: f32([1, 2]), indices: i32([0, 1]), indptr: i32([0, 2, 0, 2]) }],
    ["csr column out of range", { shape: [1, 2], format: "csr", data: f32([1]), indices: i32([2]), indptr: i32([0, 1]) }],
    ["csr negative column", { shape: [1, 2], format: "csr", data: f32([1]), indices: i32([-1]), indptr: i32([0, 1]) }],
    ["csr truncated int32 bytes", { shape: [1, 2], format: "csr", data: f32([1]), indices: new Uint8Array(3), indptr: i32([0, 1]) }],
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

  it("readFloat32 reads little-endian", () => {
    const dv = new DataView(new ArrayBuffer(4));
    dv.setFloat32(0, 0.25, true);
    const res = readFloat32(dv);
    expect(res.ok && res.values[0]).toBe(0.25);
  });
});
