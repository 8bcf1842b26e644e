// Reading / validation of the Dashboard traits (one feature's `page`, the
// navigation order, search results) and small pure helpers (navigation,
// density wording). Everything from the model is untrusted `unknown`;
// nothing here throws, and whatever is valid is kept.

import { formatValue } from "./format";

/** Caps that keep a malformed or huge page from freezing the notebook. */
export const MAX_EXAMPLES = 100;
export const MAX_TOKENS_PER_EXAMPLE = 512;
export const MAX_INTERVALS = 50;
export const MAX_LOGITS = 100;
export const MAX_NEAREST = 100;
export const MAX_BINS = 4096;
export const MAX_SEARCH_RESULTS = 200;
export const MAX_DECODER_NORMS = 256;

export interface Example {
  /** The context's max activation (NaN if missing: recomputed from acts when possible). */
  value: number;
  tokens: string[];
  /** One per token; NaN where missing or not a number. */
  acts: number[];
  /** Index of the max token (validated; falls back to the argmax of acts, or -1). */
  center: number;
}

export interface Interval {
  low: number;
  high: number;
  /** Fraction of the sampled active contexts in this interval (NaN if unknown). */
  fraction: number;
  examples: Example[];
}

export interface LogitEntry {
  token: string;
  value: number;
}

export interface NearestEntry {
  feature: number;
  cosine: number;
}

/** A feature that fires on the same tokens: tokens where both are > 0 and their Jaccard index. */
export interface CoactiveEntry {
  feature: number;
  jaccard: number;
  count: number;
}

/** A crosscoder feature's decoder norm at one of its hooks (layers). */
export interface DecoderNormEntry {
  hook: string;
  norm: number;
}

export interface Histogram {
  counts: number[];
  /** counts.length + 1 increasing edges (empty when counts is empty). */
  edges: number[];
}

export interface DashboardPage {
  /** The page's feature id, or null when missing / not an integer. */
  feature: number | null;
  nTokens: number;
  density: number;
  max: number;
  histogram: Histogram;
  top: Example[];
  intervals: Interval[];
  logitsTop: LogitEntry[];
  logitsBottom: LogitEntry[];
  nearest: NearestEntry[];
  /** The distribution of the feature's logit effects over the whole vocabulary (empty when unknown). */
  logitHistogram: Histogram;
  /** Features that fire on the same tokens, best Jaccard first; null when not counted for this feature. */
  coactive: CoactiveEntry[] | null;
  /** Crosscoders only: the decoder norm per hook, in the crosscoder's layer order (empty otherwise). */
  decoderNorms: DecoderNormEntry[];
  /** Non-fatal problems found while reading (shown as a small note). */
  warnings: string[];
}

export type PageRead = { kind: "page"; page: DashboardPage } | { kind: "empty" } | { kind: "error"; error: string };

export interface SearchResult {
  feature: number;
  value: number;
  token: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

function arrayOf(v: unknown): unknown[] | null {
  if (Array.isArray(v)) return v;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<unknown>);
  return null;
}

/** A finite number, or NaN. */
function finite(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : NaN;
}

function isId(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v);
}

function str(v: unknown): string {
  if (typeof v === "string") return v;
  if (v == null) return "";
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return "";
}

/** Field of an object, never throwing (getters on hostile objects). */
function field(o: Record<string, unknown>, key: string): unknown {
  try {
    return o[key];
  } catch {
    return undefined;
  }
}

function listField<T>(
  o: Record<string, unknown>,
  key: string,
  cap: number,
  warnings: string[],
  readItem: (item: unknown) => T | null,
): T[] {
  const raw = field(o, key);
  if (raw === undefined) return [];
  const a = arrayOf(raw);
  if (!a) {
    warnings.push(`${key} is not a list`);
    return [];
  }
  const out: T[] = [];
  let bad = 0;
  for (let i = 0; i < a.length && out.length < cap; i++) {
    const item = readItem(a[i]);
    if (item === null) bad++;
    else out.push(item);
  }
  if (bad) warnings.push(`${key}: skipped ${bad} malformed entr${bad === 1 ? "y" : "ies"}`);
  if (a.length > cap) warnings.push(`${key}: showing the first ${cap} of ${a.length}`);
  return out;
}

export function readExample(v: unknown): Example | null {
  if (!isObject(v)) return null;
  const rawTokens = arrayOf(field(v, "tokens"));
  if (!rawTokens || rawTokens.length === 0) return null;
  const n = Math.min(rawTokens.length, MAX_TOKENS_PER_EXAMPLE);
  const rawActs = arrayOf(field(v, "acts"));
  const tokens: string[] = new Array(n);
  const acts: number[] = new Array(n);
  let argmax = -1;
  for (let i = 0; i < n; i++) {
    tokens[i] = str(rawTokens[i]);
    acts[i] = rawActs ? finite(rawActs[i]) : NaN;
    if (!Number.isNaN(acts[i]) && (argmax < 0 || acts[i] > acts[argmax])) argmax = i;
  }
  const c = field(v, "center");
  const center = isId(c) && c >= 0 && c < n ? c : argmax;
  let value = finite(field(v, "value"));
  if (Number.isNaN(value) && argmax >= 0) value = acts[argmax];
  return { value, tokens, acts, center };
}

function readInterval(v: unknown): Interval | null {
  if (!isObject(v)) return null;
  const examples: Example[] = [];
  const raw = arrayOf(field(v, "examples")) ?? [];
  for (let i = 0; i < raw.length && examples.length < MAX_EXAMPLES; i++) {
    const ex = readExample(raw[i]);
    if (ex) examples.push(ex);
  }
  const low = finite(field(v, "low"));
  const high = finite(field(v, "high"));
  if (Number.isNaN(low) && Number.isNaN(high) && examples.length === 0) return null;
  const f = finite(field(v, "fraction_of_sample"));
  return { low, high, fraction: f >= 0 && f <= 1 ? f : NaN, examples };
}

function readLogit(v: unknown): LogitEntry | null {
  if (!isObject(v)) return null;
  const value = finite(field(v, "value"));
  const t = field(v, "token");
  if (Number.isNaN(value) || (typeof t !== "string" && typeof t !== "number")) return null;
  return { token: str(t), value };
}

function readNearest(v: unknown): NearestEntry | null {
  if (!isObject(v)) return null;
  const f = field(v, "feature");
  if (!isId(f)) return null;
  return { feature: f, cosine: finite(field(v, "cosine")) };
}

function readCoactive(v: unknown): CoactiveEntry | null {
  if (!isObject(v)) return null;
  const f = field(v, "feature");
  const jaccard = finite(field(v, "jaccard"));
  const count = finite(field(v, "count"));
  if (!isId(f) || !(jaccard >= 0 && jaccard <= 1) || !(count >= 0)) return null;
  return { feature: f, jaccard, count };
}

function readDecoderNorm(v: unknown): DecoderNormEntry | null {
  if (!isObject(v)) return null;
  const norm = finite(field(v, "norm"));
  const hook = field(v, "hook");
  if (Number.isNaN(norm) || norm < 0 || typeof hook !== "string") return null;
  return { hook, norm };
}

function readHistogram(v: unknown, max: number, warnings: string[]): Histogram {
  if (v === undefined) return { counts: [], edges: [] };
  if (!isObject(v)) {
    warnings.push("histogram is not an object");
    return { counts: [], edges: [] };
  }
  const rawCounts = arrayOf(field(v, "counts"));
  if (!rawCounts) {
    if (field(v, "counts") !== undefined) warnings.push("histogram.counts is not a list");
    return { counts: [], edges: [] };
  }
  const n = Math.min(rawCounts.length, MAX_BINS);
  const counts: number[] = new Array(n);
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const c = finite(rawCounts[i]);
    if (Number.isNaN(c) || c < 0) bad++;
    counts[i] = Number.isNaN(c) || c < 0 ? 0 : c;
  }
  if (bad) warnings.push(`histogram: ${bad} invalid count${bad === 1 ? "" : "s"} shown as 0`);
  if (n === 0) return { counts, edges: [] };
  const rawEdges = arrayOf(field(v, "edges"));
  let edges: number[] | null = null;
  if (rawEdges && rawEdges.length >= n + 1) {
    const e = rawEdges.slice(0, n + 1).map(finite);
    if (e.every((x, i) => !Number.isNaN(x) && (i === 0 || x > e[i - 1]))) edges = e;
  }
  if (!edges) {
    // Fall back to equal bins over [first edge or 0, last edge or the feature's max].
    const lo = rawEdges && Number.isFinite(finite(rawEdges[0])) ? finite(rawEdges[0]) : 0;
    let hi = rawEdges && rawEdges.length > 1 ? finite(rawEdges[rawEdges.length - 1]) : NaN;
    if (!(hi > lo)) hi = max > lo ? max : lo + n;
    edges = Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);
    warnings.push("histogram.edges missing or invalid; bins assumed equal");
  }
  return { counts, edges };
}

/** Read and validate a page. Never throws. */
export function readPage(raw: unknown): PageRead {
  try {
    return readPageUnsafe(raw);
  } catch (e) {
    return { kind: "error", error: `Cannot read the page: ${e instanceof Error ? e.message : String(e)}` };
  }
}

function readPageUnsafe(raw: unknown): PageRead {
  if (raw == null) return { kind: "empty" };
  if (!isObject(raw))
    return { kind: "error", error: `page is not an object (got ${Array.isArray(raw) ? "a list" : typeof raw})` };
  if (Object.keys(raw).length === 0) return { kind: "empty" };
  const warnings: string[] = [];
  const f = field(raw, "feature");
  const feature = isId(f) ? f : null;
  if (feature === null) warnings.push("page has no valid feature id");
  const nt = finite(field(raw, "n_tokens"));
  const nTokens = nt >= 0 ? nt : NaN;
  const d = finite(field(raw, "density"));
  const density = d >= 0 && d <= 1 ? d : NaN;
  if (field(raw, "density") !== undefined && Number.isNaN(density)) warnings.push("density is not a number in [0, 1]");
  const max = finite(field(raw, "max"));
  const page: DashboardPage = {
    feature,
    nTokens,
    density,
    max,
    histogram: readHistogram(field(raw, "histogram"), max, warnings),
    top: listField(raw, "top", MAX_EXAMPLES, warnings, readExample),
    intervals: listField(raw, "intervals", MAX_INTERVALS, warnings, readInterval),
    logitsTop: listField(raw, "logits_top", MAX_LOGITS, warnings, readLogit),
    logitsBottom: listField(raw, "logits_bottom", MAX_LOGITS, warnings, readLogit),
    nearest: listField(raw, "nearest", MAX_NEAREST, warnings, readNearest),
    logitHistogram: readHistogram(field(raw, "logit_histogram"), NaN, warnings),
    coactive: field(raw, "coactive") == null ? null : listField(raw, "coactive", MAX_NEAREST, warnings, readCoactive),
    decoderNorms: listField(raw, "decoder_norms", MAX_DECODER_NORMS, warnings, readDecoderNorm),
    warnings,
  };
  return { kind: "page", page };
}

/** Integer feature ids in order (others dropped). */
export function readFeatureIds(raw: unknown): number[] {
  const a = arrayOf(raw);
  if (!a) return [];
  const out: number[] = [];
  for (const x of a) if (isId(x)) out.push(x);
  return out;
}

export function readSearchResults(raw: unknown): SearchResult[] {
  const a = arrayOf(raw);
  if (!a) return [];
  const out: SearchResult[] = [];
  for (let i = 0; i < a.length && out.length < MAX_SEARCH_RESULTS; i++) {
    const r = a[i];
    if (!isObject(r)) continue;
    const f = field(r, "feature");
    if (!isId(f)) continue;
    out.push({ feature: f, value: finite(field(r, "value")), token: str(field(r, "token")) });
  }
  return out;
}

export function readFeature(raw: unknown): number | null {
  return isId(raw) ? raw : null;
}

/**
 * The feature before (dir -1) or after (dir +1) `current` in `ids`, or null at
 * the ends. A current feature that is not in the list goes to the first (next)
 * or last (prev) id.
 */
export function neighbour(
  ids: readonly number[],
  index: ReadonlyMap<number, number>,
  current: number | null,
  dir: 1 | -1,
): number | null {
  if (ids.length === 0) return null;
  const i = current === null ? undefined : index.get(current);
  if (i === undefined) return dir > 0 ? ids[0] : ids[ids.length - 1];
  const j = i + dir;
  return j >= 0 && j < ids.length ? ids[j] : null;
}

/** Thousands separators, no decimals. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return "–";
  const r = Math.round(n);
  const s = String(Math.abs(r)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return r < 0 ? `-${s}` : s;
}

/** "0.123%" style density (3 significant digits). */
export function formatDensity(density: number): string {
  if (Number.isNaN(density)) return "–";
  if (density === 0) return "0%";
  return `${formatValue(density * 100)}%`;
}

/** "fires on 1 in 1,234 tokens" (or "never fired ..."). */
export function oneInN(density: number, nTokens: number): string {
  if (Number.isNaN(density)) return "";
  if (density === 0)
    return Number.isFinite(nTokens) && nTokens > 0 ? `never fired in ${formatCount(nTokens)} tokens` : "never fired";
  const n = 1 / density;
  const shown = n < 10 ? (Math.round(n * 10) / 10).toString() : formatCount(n);
  return `fires on 1 in ${shown} tokens`;
}

/** The colour-scale maximum for a page: its max, else the largest activation shown, else 1. */
export function scaleMax(page: DashboardPage): number {
  if (page.max > 0) return page.max;
  let m = 0;
  const visit = (ex: Example) => {
    for (const a of ex.acts) if (a > m) m = a;
  };
  page.top.forEach(visit);
  for (const iv of page.intervals) iv.examples.forEach(visit);
  return m > 0 ? m : 1;
}

/** Most negative activation shown (0 if none): neurons can be negative, SAE latents cannot. */
export function scaleMin(page: DashboardPage): number {
  let m = 0;
  const visit = (ex: Example) => {
    for (const a of ex.acts) if (a < m) m = a;
  };
  page.top.forEach(visit);
  for (const iv of page.intervals) iv.examples.forEach(visit);
  return m;
}

/** "0.80–1.00 of max" (relative) when the max is known, else the absolute range. */
export function intervalLabel(iv: Interval, max: number): string {
  const rel = (v: number) => (v / max).toFixed(2);
  if (max > 0 && Number.isFinite(iv.low) && Number.isFinite(iv.high)) return `${rel(iv.low)}–${rel(iv.high)} of max`;
  return `${formatValue(iv.low)}–${formatValue(iv.high)}`;
}

export { indexIds } from "./numbers";
