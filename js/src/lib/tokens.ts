// Token display helpers: make whitespace / control characters visible and
// truncate long tokens. Tokens are untrusted; these helpers only transform
// strings, which are then shown via textContent or canvas fillText.

export const TOOLTIP_MAX_CHARS = 200;
export const LABEL_MAX_CHARS = 18;
// Never look at more than this many code units of a token (huge strings).
const SCAN_LIMIT = 4096;

const SPECIAL: Record<string, string> = {
  " ": "·",
  "\n": "↵",
  "\t": "→",
  "\r": "␍",
  "\u00a0": "⍽", // no-break space
};

function escapeCodeUnit(code: number): string {
  return `\\u${code.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** True for code points that render invisibly or unpredictably. */
function isInvisible(cp: number): boolean {
  return (
    (cp >= 0x80 && cp <= 0x9f) || // C1 controls
    cp === 0xad || // soft hyphen
    cp === 0x034f ||
    cp === 0x061c ||
    (cp >= 0x115f && cp <= 0x1160) ||
    cp === 0x180e ||
    (cp >= 0x2000 && cp <= 0x200f) || // spaces, ZW chars, LRM/RLM
    (cp >= 0x2028 && cp <= 0x202f) || // separators, bidi embeddings
    (cp >= 0x205f && cp <= 0x206f) || // word joiner, bidi isolates
    cp === 0x3000 ||
    cp === 0x3164 ||
    (cp >= 0xfe00 && cp <= 0xfe0f) || // variation selectors
    cp === 0xfeff ||
    cp === 0xffa0 ||
    (cp >= 0xfff0 && cp <= 0xfffb) ||
    (cp >= 0xe0000 && cp <= 0xe0fff) // tags, variation selectors supplement
  );
}

/**
 * Make whitespace and invisible characters visible:
 * ' ' -> '·', '\n' -> '↵', '\t' -> '→', C0 controls -> Control Pictures
 * (U+2400 + code, e.g. '\0' -> '␀'), DEL -> '␡', other invisible characters
 * and lone surrogates -> \uXXXX escapes.
 */
export function visibleWhitespace(token: unknown, limit = SCAN_LIMIT, keepSpaces = false): string {
  const s = typeof token === "string" ? token : token == null ? "" : String(token);
  const src = s.length > limit ? s.slice(0, limit) : s;
  let out = "";
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    const code = src.charCodeAt(i);
    const special = SPECIAL[ch];
    if (ch === " " && keepSpaces) {
      out += ch;
    } else if (special) {
      out += special;
    } else if (code < 0x20) {
      out += String.fromCharCode(0x2400 + code);
    } else if (code === 0x7f) {
      out += "␡";
    } else if (code >= 0xd800 && code <= 0xdbff) {
      const next = src.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        const cp = (code - 0xd800) * 0x400 + (next - 0xdc00) + 0x10000;
        out += isInvisible(cp) ? `\\u{${cp.toString(16).toUpperCase()}}` : ch + src[i + 1];
        i++;
      } else {
        out += escapeCodeUnit(code); // lone high surrogate
      }
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      out += escapeCodeUnit(code); // lone low surrogate
    } else if (isInvisible(code)) {
      out += escapeCodeUnit(code);
    } else {
      out += ch;
    }
  }
  return out;
}

/** Truncate to at most max code points (ellipsis included), never splitting a surrogate pair. */
export function truncate(s: string, max: number): string {
  if (max <= 0) return "";
  if (s.length <= max) return s;
  const cps = Array.from(s.length > max * 2 + 2 ? s.slice(0, max * 2 + 2) : s);
  if (cps.length <= max) return cps.join("");
  return `${cps.slice(0, Math.max(0, max - 1)).join("")}…`;
}

/** Short label for a token (gutter / header). Empty tokens show as '∅'. */
export function tokenLabel(token: unknown, max = LABEL_MAX_CHARS): string {
  const v = visibleWhitespace(token, max * 4 + 8);
  return v === "" ? "∅" : truncate(v, max);
}

/** Full token for tooltips, still capped. */
export function tokenTooltip(token: unknown, max = TOOLTIP_MAX_CHARS): string {
  const v = visibleWhitespace(token, max * 4 + 8);
  return v === "" ? "∅ (empty)" : truncate(v, max);
}

/**
 * Human-written text (feature labels, group names): spaces stay spaces, but
 * newlines / control / invisible characters are made visible, and the result
 * is truncated to max code points.
 */
export function cleanLabel(text: unknown, max: number): string {
  return truncate(visibleWhitespace(text, max * 4 + 8, true), max);
}
