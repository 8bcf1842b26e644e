import { describe, expect, it } from "vitest";
import { formatUncertain, formatValue } from "../src/lib/format";
import { valueText } from "../src/lib/token-grid";
import { TOOLTIP_MAX_CHARS, tokenLabel, tokenTooltip, truncate, visibleWhitespace } from "../src/lib/tokens";

describe("visibleWhitespace", () => {
  it("maps space, newline and tab", () => {
    expect(visibleWhitespace(" the")).toBe("·the");
    expect(visibleWhitespace("a\nb")).toBe("a↵b");
    expect(visibleWhitespace("\t")).toBe("→");
    expect(visibleWhitespace("\n\n")).toBe("↵↵");
  });
  it("shows control characters as control pictures", () => {
    expect(visibleWhitespace("\u0000")).toBe("␀");
    expect(visibleWhitespace("\u0007")).toBe("␇");
    expect(visibleWhitespace("\u001b")).toBe("␛");
    expect(visibleWhitespace("\u007f")).toBe("␡");
    expect(visibleWhitespace("\r")).toBe("␍");
  });
  it("escapes invisible characters and lone surrogates", () => {
    expect(visibleWhitespace("a\u200bb")).toBe("a\\u200Bb");
    expect(visibleWhitespace("\ufeff")).toBe("\\uFEFF");
    expect(visibleWhitespace("\u0085")).toBe("\\u0085");
    expect(visibleWhitespace("\ud800")).toBe("\\uD800");
    expect(visibleWhitespace("x\udc00")).toBe("x\\uDC00");
  });
  it("keeps ordinary text, emoji and non-Latin scripts", () => {
    expect(visibleWhitespace("héllo")).toBe("héllo");
    expect(visibleWhitespace("😀")).toBe("😀");
    expect(visibleWhitespace("日本")).toBe("日本");
    expect(visibleWhitespace("<img src=x>")).toBe("<img·src=x>");
  });
  it("copes with non-strings", () => {
    expect(visibleWhitespace(null)).toBe("");
    expect(visibleWhitespace(42)).toBe("42");
  });
});

describe("truncation", () => {
  it("truncates with an ellipsis and never splits surrogate pairs", () => {
    expect(truncate("abcdef", 4)).toBe("abc…");
    expect(truncate("abc", 4)).toBe("abc");
    expect(truncate("😀😀😀😀😀", 3)).toBe("😀😀…");
  });
  it("labels are short, tooltips keep more but are capped", () => {
    const long = " word".repeat(1000);
    expect(Array.from(tokenLabel(long)).length).toBeLessThanOrEqual(18);
    expect(tokenLabel(long).startsWith("·word")).toBe(true);
    const tip = tokenTooltip(long);
    expect(Array.from(tip).length).toBe(TOOLTIP_MAX_CHARS);
    expect(tip.endsWith("…")).toBe(true);
    expect(tokenTooltip(" hi")).toBe("·hi");
  });
  it("shows empty tokens explicitly", () => {
    expect(tokenLabel("")).toBe("∅");
    expect(tokenTooltip("")).toContain("empty");
  });
});

describe("formatValue", () => {
  it("uses 3 significant digits", () => {
    expect(formatValue(0)).toBe("0");
    expect(formatValue(1.23456)).toBe("1.23");
    expect(formatValue(0.5)).toBe("0.5");
    expect(formatValue(-12.345)).toBe("-12.3");
    expect(formatValue(0.000123456)).toBe("1.23e-4");
    expect(formatValue(1234.5)).toBe("1235");
    expect(formatValue(12345678)).toBe("1.23e7");
    expect(formatValue(NaN)).toBe("NaN");
  });
});

describe("formatUncertain (issue 18)", () => {
  it("gives the error one significant digit and the value no digits finer than the error", () => {
    expect(formatUncertain(5.2, 0.0306)).toBe("5.2 ± 0.03"); // was "5.2 ± 0.0306"
    expect(formatUncertain(5.2137, 0.0306)).toBe("5.21 ± 0.03");
    expect(formatUncertain(5.2137, 0.096)).toBe("5.2 ± 0.1"); // the error rounds up a decade
    expect(formatUncertain(1234.5, 20.4)).toBe("1230 ± 20");
    expect(formatUncertain(0.5, 0.01)).toBe("0.5 ± 0.01");
    expect(formatUncertain(1.23456, 0.00001)).toBe("1.23 ± 1e-5"); // never more digits than formatValue
    expect(formatUncertain(0.0123, 0)).toBe(formatValue(0.0123)); // exact: no error shown
    expect(formatUncertain(NaN, 0.1)).toBe("NaN");
  });

  it("is what the grid tooltips show", () => {
    expect(valueText(5.2, 0.0306)).toBe("5.2 ± 0.03");
    expect(valueText(5.2)).toBe("5.2");
  });
});
