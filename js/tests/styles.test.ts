// Every view's CSS is scoped under its root class, so two widgets on one page do not style each other.

import { describe, expect, it } from "vitest";
import { CIRCUIT_CSS } from "../src/lib/circuit-view";
import { CONTRAST_CSS } from "../src/lib/contrast-view";
import { DASHBOARD_CSS } from "../src/lib/dashboard-view";
import { INTERPOLATION_CSS } from "../src/lib/interpolation-view";
import { SCRUBBER_CSS } from "../src/lib/scrubber-view";
import { BASE_CSS, scopeCss } from "../src/lib/styles";
import { VISION_CSS } from "../src/lib/vision-view";

/** The selectors of every style rule (at-rule blocks opened, @keyframes skipped). */
function selectors(css: string): string[] {
  const out: string[] = [];
  const noKeyframes = css.replace(/@keyframes[^{]*\{(?:[^{}]*\{[^}]*\})*\s*\}/g, "");
  for (const m of noKeyframes.matchAll(/([^{}]+)\{/g)) {
    const head = m[1].trim();
    if (!head.startsWith("@")) out.push(...head.split(",").map((s) => s.trim()));
  }
  return out;
}

describe("scopeCss", () => {
  it("prefixes selectors, keeps those already under the root, scopes inside @media, leaves @keyframes", () => {
    const css = `
.a, .r .b { color: red; }
.h:not(.c, .d) { z: 3; }
.r { x: 1; }
.r[data-x="1"] .e, .r.f, .rx { y: 2; }
@media (prefers-reduced-motion: reduce) { .g { animation: none; } }
@keyframes spin { to { transform: rotate(360deg); } }
`;
    const out = scopeCss(".r", css);
    expect(selectors(out)).toEqual([
      ".r .a",
      ".r .b",
      ".r .h:not(.c",
      ".d)",
      ".r",
      '.r[data-x="1"] .e',
      ".r.f",
      ".r .rx",
      ".r .g",
    ]);
    expect(out).toContain("@keyframes spin { to { transform: rotate(360deg); } }");
    expect(out).toContain(".r .h:not(.c, .d) { z: 3; }"); // one selector: the comma inside :not() is not a list
    // Container queries (the contrast view's narrow layout) are scoped like @media.
    expect(scopeCss(".r", "@container (max-width: 600px) { .t { width: 40px; } }")).toBe(
      "@container (max-width: 600px) { .r .t { width: 40px; } }",
    );
  });

  it("leaves no view rule unscoped", () => {
    const views: Array<[string, string]> = [
      [".fv-root", BASE_CSS],
      [".fv-dashboard", DASHBOARD_CSS],
      [".fv-interpolation", INTERPOLATION_CSS],
      [".fv-contrast", CONTRAST_CSS],
      [".fv-scrubber", SCRUBBER_CSS],
      [".fv-circuit", CIRCUIT_CSS],
      [".fv-vision", VISION_CSS],
    ];
    for (const [root, css] of views) {
      const sels = selectors(css);
      expect(sels.length).toBeGreaterThan(3);
      for (const s of sels)
        expect(s === root || (/^[\s[.:]/.test(s.slice(root.length)) && s.startsWith(root)), `${root}: ${s}`).toBe(true);
    }
    // The rule behind the bug: the interpolation view's token hover no longer matches the dashboard's tokens.
    expect(INTERPOLATION_CSS).toContain(".fv-interpolation .fv-token:hover");
    expect(DASHBOARD_CSS).not.toMatch(/(^|\})\s*\.fv-token/);
  });
});

/** Declarations of every rule whose selector ends at a bare `.fv-token` (or `.fv-token` + state / modifier). */
function tokenDeclarations(css: string): string[] {
  const out: string[] = [];
  for (const m of css.matchAll(/([^{}]+)\{([^{}]*)\}/g)) {
    const sels = m[1].split(",").map((s) => s.trim());
    if (sels.some((s) => /\.fv-(base-)?token(?![\w-])[^ ]*$/.test(s)))
      out.push(...m[2].split(";").map((d) => d.trim()));
  }
  return out.filter(Boolean);
}

describe("token runs (issue 18)", () => {
  // Subword pieces ("en" + "raged") must read as one word: no padding, margin or rounded chip between
  // neighbouring tokens, and no atomic inline-block boxes; the token's own leading space marks the word boundary.
  it.each([
    ["dashboard", DASHBOARD_CSS],
    ["interpolation", INTERPOLATION_CSS],
  ])("the %s draws tokens as contiguous text", (_name, css) => {
    const decls = tokenDeclarations(css);
    expect(decls.length).toBeGreaterThan(0);
    for (const d of decls) {
      const [prop, value] = d.split(":").map((x) => x.trim());
      if (/^(padding|margin)(-left|-right)?$/.test(prop)) expect(value, d).toMatch(/^0(px)?$/);
      expect(d, d).not.toMatch(/^(border-radius|gap|letter-spacing)\s*:/);
      expect(d, d).not.toMatch(/^display\s*:\s*inline-(block|flex)/);
    }
    expect(css).toMatch(/\.fv-token \{[^}]*white-space: pre-wrap/);
  });
});
