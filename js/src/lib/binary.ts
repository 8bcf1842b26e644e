// Decoding of the `matrix` trait: {shape, format, data, indices?, indptr?, scale?, zero?}.
//
// Formats (src/featureviz/widgets/arrays.py writes them): "dense" (row-major
// float32), "csr" (float32 data, int32 indices and indptr) and "dense_u8"
// (one uint8 code per cell; per column a float32 scale and a float32 integer
// zero: value = (code - zero) * scale, within scale / 2 of the original).
//
// Buffers may arrive as DataView (anywidget, nested in a dict), ArrayBuffer,
// any TypedArray (restored widget state) or, for convenience, a plain number
// array. Nothing in this module throws on malformed input: decodeMatrix
// returns {ok: false, error} with a readable message instead.

export interface Matrix {
  readonly format: "dense" | "csr" | "dense_u8";
  readonly nRows: number;
  readonly nCols: number;
  /** Number of stored values (dense: nRows * nCols). */
  readonly nnz: number;
  /** Value at (row, col); 0 for entries a sparse matrix does not store. */
  get(row: number, col: number): number;
  /** Calls fn for each stored value of a row (dense: every column). */
  forEachInRow(row: number, fn: (col: number, value: number) => void): void;
  /** Quantisation step of a column: values are within step / 2 of the originals (0: exact). */
  step(col: number): number;
}

export type DecodeResult = { ok: true; matrix: Matrix } | { ok: false; error: string };

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** View any supported buffer form as bytes (no copy); null if unsupported. */
export function toBytes(buf: unknown): Uint8Array | null {
  if (buf == null) return null;
  if (buf instanceof Uint8Array) return buf;
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf);
  if (ArrayBuffer.isView(buf)) {
    // DataView or any TypedArray (including Node's Buffer).
    return new Uint8Array(buf.buffer as ArrayBuffer, buf.byteOffset, buf.byteLength);
  }
  if (typeof SharedArrayBuffer !== "undefined" && buf instanceof SharedArrayBuffer) {
    return new Uint8Array(buf);
  }
  // Some serialisers wrap buffers: {buffer: ArrayBuffer | DataView}.
  if (typeof buf === "object" && "buffer" in (buf as object)) {
    const inner = (buf as { buffer: unknown }).buffer;
    if (inner !== buf && (inner instanceof ArrayBuffer || ArrayBuffer.isView(inner))) {
      return toBytes(inner);
    }
  }
  return null;
}

type NumArrayResult<T> = { ok: true; values: T } | { ok: false; error: string };

/** Read a little-endian float32 buffer (or a plain number array). */
export function readFloat32(buf: unknown, name = "data"): NumArrayResult<Float32Array> {
  if (Array.isArray(buf)) {
    const out = new Float32Array(buf.length);
    for (let i = 0; i < buf.length; i++) {
      const v = buf[i];
      out[i] = typeof v === "number" ? v : NaN;
    }
    return { ok: true, values: out };
  }
  if (buf instanceof Float32Array) return { ok: true, values: buf };
  const bytes = toBytes(buf);
  if (!bytes) return { ok: false, error: `${name} is missing or is not a binary buffer` };
  if (bytes.byteLength % 4 !== 0) {
    return { ok: false, error: `${name} has ${bytes.byteLength} bytes, not a multiple of 4 (float32)` };
  }
  const n = bytes.byteLength / 4;
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
    return { ok: true, values: new Float32Array(bytes.buffer, bytes.byteOffset, n) };
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
  return { ok: true, values: out };
}

/** Read a little-endian int32 buffer (or a plain number array). */
export function readInt32(buf: unknown, name: string): NumArrayResult<Int32Array> {
  if (Array.isArray(buf)) {
    const out = new Int32Array(buf.length);
    for (let i = 0; i < buf.length; i++) {
      const v = buf[i];
      if (typeof v !== "number" || !Number.isInteger(v)) {
        return { ok: false, error: `${name}[${i}] is not an integer` };
      }
      out[i] = v;
    }
    return { ok: true, values: out };
  }
  if (buf instanceof Int32Array) return { ok: true, values: buf };
  const bytes = toBytes(buf);
  if (!bytes) return { ok: false, error: `${name} is missing or is not a binary buffer` };
  if (bytes.byteLength % 4 !== 0) {
    return { ok: false, error: `${name} has ${bytes.byteLength} bytes, not a multiple of 4 (int32)` };
  }
  const n = bytes.byteLength / 4;
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
    return { ok: true, values: new Int32Array(bytes.buffer, bytes.byteOffset, n) };
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true);
  return { ok: true, values: out };
}

class DenseMatrix implements Matrix {
  readonly format = "dense" as const;
  constructor(
    readonly nRows: number,
    readonly nCols: number,
    private readonly data: Float32Array,
  ) {}
  get nnz(): number {
    return this.data.length;
  }
  get values(): Float32Array {
    return this.data;
  }
  get(row: number, col: number): number {
    if (row < 0 || col < 0 || row >= this.nRows || col >= this.nCols) return 0;
    return this.data[row * this.nCols + col];
  }
  forEachInRow(row: number, fn: (col: number, value: number) => void): void {
    if (row < 0 || row >= this.nRows) return;
    const base = row * this.nCols;
    for (let c = 0; c < this.nCols; c++) fn(c, this.data[base + c]);
  }
  step(): number {
    return 0;
  }
}

/** uint8 codes with a per-column affine grid; decoded on read (1 byte per cell in memory). */
class QuantisedMatrix implements Matrix {
  readonly format = "dense_u8" as const;
  constructor(
    readonly nRows: number,
    readonly nCols: number,
    private readonly codes: Uint8Array,
    private readonly scale: Float32Array,
    private readonly zero: Float32Array,
  ) {}
  get nnz(): number {
    return this.codes.length;
  }
  get(row: number, col: number): number {
    if (row < 0 || col < 0 || row >= this.nRows || col >= this.nCols) return 0;
    return (this.codes[row * this.nCols + col] - this.zero[col]) * this.scale[col];
  }
  forEachInRow(row: number, fn: (col: number, value: number) => void): void {
    if (row < 0 || row >= this.nRows) return;
    const base = row * this.nCols;
    for (let c = 0; c < this.nCols; c++) fn(c, (this.codes[base + c] - this.zero[c]) * this.scale[c]);
  }
  step(col: number): number {
    return col >= 0 && col < this.nCols ? this.scale[col] : 0;
  }
}

class CsrMatrix implements Matrix {
  readonly format = "csr" as const;
  constructor(
    readonly nRows: number,
    readonly nCols: number,
    private readonly data: Float32Array,
    private readonly indices: Int32Array,
    private readonly indptr: Int32Array,
    private readonly sorted: boolean,
  ) {}
  get nnz(): number {
    return this.data.length;
  }
  get(row: number, col: number): number {
    if (row < 0 || col < 0 || row >= this.nRows || col >= this.nCols) return 0;
    let lo = this.indptr[row];
    let hi = this.indptr[row + 1];
    const idx = this.indices;
    if (!this.sorted) {
      let sum = 0; // unsorted CSR may hold duplicates: scipy semantics sum them
      for (let k = lo; k < hi; k++) if (idx[k] === col) sum += this.data[k];
      return sum;
    }
    hi -= 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = idx[mid];
      if (c === col) return this.data[mid];
      if (c < col) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }
  forEachInRow(row: number, fn: (col: number, value: number) => void): void {
    if (row < 0 || row >= this.nRows) return;
    for (let k = this.indptr[row]; k < this.indptr[row + 1]; k++) fn(this.indices[k], this.data[k]);
  }
  step(): number {
    return 0;
  }
}

/** The row-major float32 values of a dense matrix (no copy); null for CSR. */
export function denseValues(m: Matrix): Float32Array | null {
  return m instanceof DenseMatrix ? m.values : null;
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0x7fffffff;
}

/** Decode the `matrix` trait. Never throws. */
export function decodeMatrix(raw: unknown): DecodeResult {
  try {
    return decodeUnsafe(raw);
  } catch (e) {
    // Defensive: anything unexpected (e.g. detached buffers) becomes a message.
    return { ok: false, error: `could not decode matrix: ${e instanceof Error ? e.message : String(e)}` };
  }
}

function decodeUnsafe(raw: unknown): DecodeResult {
  if (raw == null || typeof raw !== "object" || Array.isArray(raw)) {
    return { ok: false, error: "matrix is missing or is not an object" };
  }
  const m = raw as Record<string, unknown>;
  const shape = m.shape;
  if (!Array.isArray(shape) || shape.length !== 2 || !isCount(shape[0]) || !isCount(shape[1])) {
    return { ok: false, error: "matrix.shape must be [n_rows, n_cols] (non-negative integers)" };
  }
  const nRows = shape[0];
  const nCols = shape[1];
  const format = m.format ?? "dense";
  if (format === "dense_u8") return decodeQuantised(m, nRows, nCols);
  const data = readFloat32(m.data, "matrix.data");
  if (!data.ok) return data;

  if (format === "dense") {
    const expected = nRows * nCols;
    if (data.values.length !== expected) {
      return {
        ok: false,
        error: `matrix.data has ${data.values.length} values but shape ${nRows}×${nCols} needs ${expected}`,
      };
    }
    return { ok: true, matrix: new DenseMatrix(nRows, nCols, data.values) };
  }

  if (format === "csr") {
    const indices = readInt32(m.indices, "matrix.indices");
    if (!indices.ok) return indices;
    const indptr = readInt32(m.indptr, "matrix.indptr");
    if (!indptr.ok) return indptr;
    const nnz = data.values.length;
    const ind = indices.values;
    const ptr = indptr.values;
    if (ind.length !== nnz) {
      return { ok: false, error: `matrix.indices has ${ind.length} entries but matrix.data has ${nnz}` };
    }
    if (ptr.length !== nRows + 1) {
      return { ok: false, error: `matrix.indptr has ${ptr.length} entries, expected n_rows + 1 = ${nRows + 1}` };
    }
    if (ptr[0] !== 0 || ptr[nRows] !== nnz) {
      return { ok: false, error: `matrix.indptr must start at 0 and end at nnz = ${nnz}` };
    }
    let sorted = true;
    for (let r = 0; r < nRows; r++) {
      const a = ptr[r];
      const b = ptr[r + 1];
      if (b < a) return { ok: false, error: `matrix.indptr is decreasing at row ${r}` };
      for (let k = a; k < b; k++) {
        const c = ind[k];
        if (c < 0 || c >= nCols) {
          return { ok: false, error: `matrix.indices[${k}] = ${c} is outside [0, ${nCols})` };
        }
        if (k > a && c <= ind[k - 1]) sorted = false;
      }
    }
    return { ok: true, matrix: new CsrMatrix(nRows, nCols, data.values, ind, ptr, sorted) };
  }

  return {
    ok: false,
    error: `matrix.format must be "dense", "csr" or "dense_u8", got ${JSON.stringify(String(format)).slice(0, 40)}`,
  };
}

function decodeQuantised(m: Record<string, unknown>, nRows: number, nCols: number): DecodeResult {
  let codes: Uint8Array | null;
  if (Array.isArray(m.data)) {
    codes = Uint8Array.from(m.data, (v) => (typeof v === "number" ? v : 0));
  } else {
    codes = toBytes(m.data);
  }
  if (!codes) return { ok: false, error: "matrix.data is missing or is not a binary buffer" };
  if (codes.length !== nRows * nCols) {
    return {
      ok: false,
      error: `matrix.data has ${codes.length} codes but shape ${nRows}×${nCols} needs ${nRows * nCols}`,
    };
  }
  const scale = readFloat32(m.scale, "matrix.scale");
  if (!scale.ok) return scale;
  const zero = readFloat32(m.zero, "matrix.zero");
  if (!zero.ok) return zero;
  for (const [name, v] of [
    ["scale", scale.values],
    ["zero", zero.values],
  ] as const) {
    if (v.length !== nCols)
      return { ok: false, error: `matrix.${name} has ${v.length} entries, expected n_cols = ${nCols}` };
  }
  for (let c = 0; c < nCols; c++) {
    const s = scale.values[c];
    const z = zero.values[c];
    if (!(Number.isFinite(s) && s >= 0 && Number.isInteger(z))) {
      return { ok: false, error: `matrix column ${c} has an invalid quantisation grid (scale ${s}, zero ${z})` };
    }
  }
  return { ok: true, matrix: new QuantisedMatrix(nRows, nCols, codes, scale.values, zero.values) };
}
