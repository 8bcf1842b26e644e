// The anywidget model interface and the one safe way to read and write its traits.
// Everything coming from the model is treated as untrusted `unknown`.

export type Handler = (...args: unknown[]) => void;

/** The subset of the anywidget model API the views use. */
export interface AnyModel {
  get(name: string): unknown;
  set(name: string, value: unknown): void;
  save_changes(): void;
  on(event: string, cb: Handler): void;
  off(event?: string | null, cb?: Handler | null): void;
}

/** Set to true by the HTML export's runtime (js/src/export_runtime.ts): no Python answers this model, so the
 * views disable what needs a kernel (and say so) instead of waiting for an answer that never comes. */
export const KERNEL_FREE = "_kernel_free";

export function isKernelFree(model: AnyModel): boolean {
  try {
    return model.get(KERNEL_FREE) === true;
  } catch {
    return false;
  }
}

/** A trait's value, or undefined where reading it throws (a closed comm, a missing trait). */
export function safeGet(model: AnyModel, name: string): unknown {
  try {
    return model.get(name);
  } catch {
    return undefined;
  }
}

/** Set a trait and send it to Python. */
export function setTrait(model: AnyModel, name: string, value: unknown): void {
  model.set(name, value);
  model.save_changes();
}

export function arrayOf(v: unknown): unknown[] | null {
  if (Array.isArray(v)) return v;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<unknown>);
  return null;
}

export function numArray(
  v: unknown,
  n: number,
  name: string,
  warnings: string[],
  fill: (i: number) => number,
): number[] {
  const a = arrayOf(v);
  if (a && a.length !== n) warnings.push(`${name} has ${a.length} entries, expected ${n}`);
  const out: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const x = a ? a[i] : undefined;
    out[i] = typeof x === "number" ? x : fill(i);
  }
  return out;
}

export function strArray(v: unknown, n: number, name: string, warnings: string[]): string[] {
  const a = arrayOf(v);
  if (a && a.length !== n) warnings.push(`${name} has ${a.length} entries, expected ${n}`);
  const out: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const x = a ? a[i] : undefined;
    out[i] = typeof x === "string" ? x : x == null ? "" : String(x);
  }
  return out;
}

/**
 * Labels per column from `feature_labels`: {feature id: label} (what Python sends; JSON keys are strings),
 * or a per-column list (older saved states). Non-string labels are dropped.
 */
export function labelsOf(raw: unknown, featureIds: readonly number[], warnings: string[]): string[] {
  if (Array.isArray(raw)) return strArray(raw, featureIds.length, "feature_labels", warnings);
  if (!raw || typeof raw !== "object") return featureIds.map(() => "");
  const byId = raw as Record<string, unknown>;
  // Keys are numeric strings, so no lookup can reach Object.prototype's own names.
  return featureIds.map((id) => {
    const label = Number.isFinite(id) ? byId[String(id)] : undefined;
    return typeof label === "string" ? label : "";
  });
}
