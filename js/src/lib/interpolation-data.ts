// Reading and validating the Interpolation traits (featureviz.Interpolation),
// plus the pure helpers of the view: the token diff against the unsteered
// continuation, the header sentence and value lookups. Everything read from
// the model is untrusted `unknown`; nothing here throws on malformed input,
// inconsistencies become warnings and the view shows what it can.

import { decodeMatrix } from "./binary";
import { cleanLabel, visibleWhitespace } from "./tokens";
import { type AnyModel, numArray, safeGet, strArray } from "./traits";

/** Most next-token lines the chart draws (next_token_strings is sorted by max probability). */
export const MAX_LINES = 8;

/** What a steering result is for: the four inputs that change it. */
export interface SteeringInputs {
  prompt: string;
  feature: number;
  mode: string;
  positions: string;
}

export interface InterpolationData extends SteeringInputs {
  /** The inputs now asked for; they differ from the shown result's while Python re-steers (stale). */
  requested: SteeringInputs;
  /** The shown texts, probabilities and KL belong to other inputs than `requested`. */
  stale: boolean;
  /** [S] steering values (ascending); NaN where an entry was not a number. */
  values: number[];
  /** [S] generated continuation per value. */
  texts: string[];
  /** [S] its tokens per value. */
  newTokens: string[][];
  baselineText: string;
  baselineTokens: string[];
  /** [U] tokens in the next-token chart. */
  tokenStrings: string[];
  /** [S][U] next-token probabilities (NaN where unavailable). */
  probs: number[][];
  /** Whether probs came from a valid next_token_probs matrix. */
  hasProbs: boolean;
  /** [U] unsteered next-token probabilities (NaN where unavailable). */
  baselineProbs: number[];
  /** [S] KL(steered || unsteered) of the next-token distribution (NaN where unavailable). */
  kl: number[];
  /** Non-fatal inconsistencies, shown as a small note. */
  warnings: string[];
}

function listLength(v: unknown): number {
  if (Array.isArray(v)) return v.length;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return (v as unknown as ArrayLike<unknown>).length;
  return 0;
}

function asString(v: unknown): string {
  return typeof v === "string" ? v : v == null ? "" : String(v);
}

/** Read every data trait. Never throws. */
export function readInterpolation(model: AnyModel): InterpolationData {
  const warnings: string[] = [];
  const get = (k: string) => safeGet(model, k);

  const rawValues = get("values");
  if (rawValues != null && !Array.isArray(rawValues) && listLength(rawValues) === 0) {
    warnings.push("values is not a list");
  }
  const S = listLength(rawValues);
  const values = numArray(rawValues, S, "values", warnings, () => NaN).map((v) => (Number.isFinite(v) ? v : NaN));
  if (values.some((v) => Number.isNaN(v))) warnings.push("values has entries that are not finite numbers");
  for (let s = 1; s < S; s++) {
    if (values[s] < values[s - 1]) {
      warnings.push("values are not in ascending order");
      break;
    }
  }

  const texts = strArray(get("texts"), S, "texts", warnings);
  const rawTokens = get("new_tokens");
  const tokenRows = Array.isArray(rawTokens) ? rawTokens : [];
  if (rawTokens != null && !Array.isArray(rawTokens)) warnings.push("new_tokens is not a list");
  else if (tokenRows.length !== S) warnings.push(`new_tokens has ${tokenRows.length} entries, expected ${S}`);
  let badRow = false;
  const newTokens: string[][] = [];
  for (let s = 0; s < S; s++) {
    const row = tokenRows[s];
    if (row !== undefined && listLength(row) === 0 && !Array.isArray(row)) badRow = true;
    const ignore: string[] = [];
    newTokens.push(strArray(row, listLength(row), "new_tokens row", ignore));
  }
  if (badRow) warnings.push("new_tokens has rows that are not lists");

  const rawBaseTokens = get("baseline_tokens");
  const baselineTokens = strArray(rawBaseTokens, listLength(rawBaseTokens), "baseline_tokens", warnings);

  const rawStrings = get("next_token_strings");
  const U = listLength(rawStrings);
  const tokenStrings = strArray(rawStrings, U, "next_token_strings", warnings);

  const probs: number[][] = [];
  for (let s = 0; s < S; s++) probs.push(new Array<number>(U).fill(NaN));
  let hasProbs = false;
  const decoded = decodeMatrix(get("next_token_probs"));
  if (!decoded.ok) {
    if (S > 0 && U > 0) warnings.push(`next-token probabilities unavailable: ${decoded.error}`);
  } else {
    const m = decoded.matrix;
    if (m.nRows !== S || m.nCols !== U) {
      warnings.push(`next_token_probs has shape ${m.nRows}×${m.nCols}, expected ${S}×${U}`);
    }
    const rows = Math.min(m.nRows, S);
    const cols = Math.min(m.nCols, U);
    for (let s = 0; s < rows; s++) {
      for (let u = 0; u < cols; u++) {
        const p = m.get(s, u);
        probs[s][u] = Number.isFinite(p) ? p : NaN;
      }
    }
    hasProbs = rows > 0 && cols > 0;
  }

  const baselineProbs = numArray(get("baseline_probs"), U, "baseline_probs", warnings, () => NaN);
  const kl = numArray(get("kl"), S, "kl", warnings, () => NaN);

  const requested = readInputs(get);
  // computed_for names the inputs the results were steered with (absent in states saved before it existed).
  const rawComputed = get("computed_for");
  const hasComputed = !!rawComputed && typeof rawComputed === "object" && !Array.isArray(rawComputed);
  const shown = hasComputed ? readInputs((k) => (rawComputed as Record<string, unknown>)[k]) : requested;
  return {
    ...shown,
    requested,
    stale: staleInputs(shown, requested).length > 0,
    values,
    texts,
    newTokens,
    baselineText: asString(get("baseline_text")),
    baselineTokens,
    tokenStrings,
    probs,
    hasProbs,
    baselineProbs,
    kl,
    warnings,
  };
}

function readInputs(get: (k: string) => unknown): SteeringInputs {
  const feature = get("feature");
  return {
    prompt: asString(get("prompt")),
    feature: typeof feature === "number" ? feature : NaN,
    mode: asString(get("mode")),
    positions: asString(get("positions")),
  };
}

/** Names of the inputs that differ between a shown result and the requested one. */
export function staleInputs(shown: SteeringInputs, requested: SteeringInputs): (keyof SteeringInputs)[] {
  const keys: (keyof SteeringInputs)[] = ["feature", "prompt", "mode", "positions"];
  return keys.filter((k) => !Object.is(shown[k], requested[k]));
}

/** What the view says while the shown result is not the requested one ("feature 42", "the new prompt"). */
export function describeRequest(shown: SteeringInputs, requested: SteeringInputs): string {
  const changed = staleInputs(shown, requested);
  if (changed.includes("feature")) return `feature ${Number.isFinite(requested.feature) ? requested.feature : "?"}`;
  if (changed.includes("prompt")) return "the new prompt";
  if (changed.includes("mode")) return `mode “${cleanLabel(requested.mode, 24)}”`;
  return `positions “${cleanLabel(requested.positions, 24)}”`;
}

/** The index trait as a valid index into values (0 when there are none). */
export function clampIndex(raw: unknown, count: number): number {
  if (count <= 0) return 0;
  const n = typeof raw === "number" && Number.isFinite(raw) ? Math.round(raw) : 0;
  return n < 0 ? 0 : n >= count ? count - 1 : n;
}

export { nearestIndex } from "./numbers";

export interface TokenDiff {
  /** Position of the first token that differs from the baseline (tokens.length if none does). */
  firstDiff: number;
  /** Per token: true from the first difference on (the continuation has diverged). */
  diverged: boolean[];
  /** True when the steered continuation is a strict prefix of the baseline (it stopped earlier). */
  endsEarly: boolean;
}

/**
 * Position-wise comparison with the baseline continuation. Once one token
 * differs everything after it is diverged too: later tokens are conditioned on
 * a different prefix, so an accidental match there means nothing.
 */
export function diffTokens(tokens: readonly string[], baseline: readonly string[]): TokenDiff {
  let firstDiff = tokens.length;
  for (let i = 0; i < tokens.length; i++) {
    if (i >= baseline.length || tokens[i] !== baseline[i]) {
      firstDiff = i;
      break;
    }
  }
  const diverged = tokens.map((_, i) => i >= firstDiff);
  return { firstDiff, diverged, endsEarly: firstDiff === tokens.length && tokens.length < baseline.length };
}

const POSITION_TEXT: Record<string, string> = {
  all: "all positions",
  prompt: "prompt positions",
  generated: "generated positions",
};

/** Header sentence, e.g. "add feature 1234 × value at all positions". */
export function describeSteering(mode: string, feature: number, positions: string): string {
  const f = Number.isFinite(feature) ? String(feature) : "?";
  const at = POSITION_TEXT[positions] ?? (positions ? `${cleanLabel(positions, 24)} positions` : "all positions");
  switch (mode) {
    case "add":
      return `add feature ${f} × value at ${at}`;
    case "clamp":
      return `clamp feature ${f} to value at ${at}`;
    case "ablate":
      return `ablate feature ${f} (set to 0) at ${at}`;
    default:
      return `${mode ? cleanLabel(mode, 24) : "steer"} feature ${f} at ${at}`;
  }
}

/**
 * Text that flows like prose: spaces stay spaces, newlines show as '↵' and
 * still break the line, control / invisible characters are made visible.
 */
export function flowText(s: string, limit = 4096): string {
  if (!s.includes("\n")) return visibleWhitespace(s, limit, true);
  return s
    .split("\n")
    .map((part) => visibleWhitespace(part, limit, true))
    .join("↵\n");
}

/** A probability as a short percentage ("12.3%", "0.04%", "<0.01%"). */
export function formatProb(p: number): string {
  if (!Number.isFinite(p)) return "–";
  const pct = p * 100;
  if (pct === 0) return "0%";
  if (pct < 0.01) return "<0.01%";
  if (pct < 1) return `${pct.toFixed(2)}%`;
  if (pct < 99.95) return `${pct.toFixed(1)}%`;
  return "100%";
}

/**
 * Order of the first `lines` tokens by their probability in `row` (one steering value), highest first:
 * the legend's order, so the leading token at the shown value reads first. Unavailable probabilities go
 * last; ties keep the tokens' own order (a token's colour is its index, not its place).
 */
export function tokenOrder(row: ArrayLike<number>, lines: number): number[] {
  const p = (u: number) => (Number.isFinite(row[u]) ? row[u] : -Infinity);
  return Array.from({ length: lines }, (_, u) => u).sort((a, b) => p(b) - p(a) || a - b);
}
