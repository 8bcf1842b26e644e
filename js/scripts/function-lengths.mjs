// Lines per named function in TypeScript sources (issue 17: "no view function over ~200 lines").
//
//   node scripts/function-lengths.mjs [--min N] [files or folders ...]   (default: src, --min 60)
//
// A function is `function name(...)` or `const|let name = (...) => {` / `= function`; its length is the
// span from its first line to the line of its closing brace, inclusive (nested functions count towards
// the enclosing one as well). A small scanner skips strings, template literals, comments and regular
// expressions, so braces inside CSS strings do not count. Prints `lines  file:line  name`, longest first.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

/** Blank out comments, string / template / regex contents (keeping newlines), so braces can be matched. */
export function maskSource(src) {
  const out = src.split("");
  const blank = (from, to) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  let i = 0;
  const templateDepth = []; // brace depth at each open `${`
  let braces = 0;
  let prev = ""; // previous significant character (regex vs division)
  const n = src.length;
  const scanString = (q) => {
    const start = i++;
    while (i < n && src[i] !== q && src[i] !== "\n") i += src[i] === "\\" ? 2 : 1;
    i++;
    blank(start + 1, i - 1);
  };
  const scanTemplate = () => {
    // i is just after ` or }: scan to the closing ` or to `${`
    const start = i;
    while (i < n) {
      if (src[i] === "\\") i += 2;
      else if (src[i] === "`") {
        blank(start, i);
        i++;
        return;
      } else if (src[i] === "$" && src[i + 1] === "{") {
        blank(start, i);
        i += 2;
        templateDepth.push(braces);
        braces++;
        return;
      } else i++;
    }
    blank(start, i);
  };
  while (i < n) {
    const c = src[i];
    if (c === "/" && src[i + 1] === "/") {
      const end = src.indexOf("\n", i);
      blank(i, end < 0 ? n : end);
      i = end < 0 ? n : end;
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      blank(i, end < 0 ? n : end + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === '"' || c === "'") {
      scanString(c);
      prev = "a";
    } else if (c === "`") {
      i++;
      scanTemplate();
      prev = "a";
    } else if (c === "/" && (prev === "" || "(,=:[!&|?{};+-*%<>~^".includes(prev))) {
      const start = i++;
      let inClass = false;
      while (i < n && src[i] !== "\n" && (src[i] !== "/" || inClass)) {
        if (src[i] === "\\") i++;
        else if (src[i] === "[") inClass = true;
        else if (src[i] === "]") inClass = false;
        i++;
      }
      i++;
      blank(start + 1, i - 1);
      prev = "a";
    } else {
      if (c === "{") braces++;
      else if (c === "}") {
        braces--;
        if (templateDepth.length && templateDepth[templateDepth.length - 1] === braces) {
          templateDepth.pop();
          i++;
          scanTemplate();
          prev = "a";
          continue;
        }
      }
      if (!/\s/.test(c)) prev = /[\w$)\]]/.test(c) ? "a" : c;
      i++;
    }
  }
  return out.join("");
}

const DECL =
  /\bfunction\s*\*?\s*([\w$]+)\s*(<[^(]*>)?\s*\(|\b(?:const|let|var)\s+([\w$]+)\s*(?::[^=]+)?=\s*(?:async\s+)?(?:function\b|\(|[\w$]+\s*=>)/g;

/** [{name, line, lines}] for the named functions in one source text. */
export function functionLengths(src) {
  const m = maskSource(src);
  const lineAt = (pos) => {
    let line = 1;
    for (let k = 0; k < pos; k++) if (src.charCodeAt(k) === 10) line++;
    return line;
  };
  const found = [];
  for (const match of m.matchAll(DECL)) {
    const name = match[1] ?? match[3];
    // The body: the first `{` at bracket depth 0 after the declaration that does not open a type
    // (an object type follows `:`, `|`, `&`, `<` or `,`); give up at `;` (an expression-bodied arrow).
    let k = match.index + match[0].length;
    let depth = match[0].endsWith("(") ? 1 : 0;
    let body = -1;
    for (; k < m.length; k++) {
      const c = m[k];
      if (c === "(" || c === "[") depth++;
      else if (c === ")" || c === "]") depth--;
      else if (depth === 0 && c === ";") break;
      else if (depth === 0 && c === "{") {
        let p = k - 1;
        while (p >= 0 && /\s/.test(m[p])) p--;
        if (":|&<,=(".includes(m[p]) && !(m[p] === "(" || (m[p] === ">" && m[p - 1] === "="))) {
          if (m[p] !== "=") {
            // an object type: skip it
            let d = 0;
            for (; k < m.length; k++) {
              if (m[k] === "{") d++;
              else if (m[k] === "}" && --d === 0) break;
            }
            continue;
          }
          break; // `= {`: an object literal, not a function
        }
        body = k;
        break;
      } else if (depth === 0 && c === "=" && m[k + 1] !== ">" && m[k - 1] !== "=") {
        // a default value inside no parens means we left the signature
        if (!match[0].includes("=")) break;
      }
    }
    if (body < 0) continue;
    let d = 0;
    let end = body;
    for (; end < m.length; end++) {
      if (m[end] === "{") d++;
      else if (m[end] === "}" && --d === 0) break;
    }
    const first = lineAt(match.index);
    found.push({ name, line: first, lines: lineAt(end) - first + 1 });
  }
  return found;
}

function tsFiles(path) {
  if (statSync(path).isFile()) return path.endsWith(".ts") ? [path] : [];
  return readdirSync(path)
    .sort()
    .flatMap((f) => tsFiles(join(path, f)));
}

function main(argv) {
  let min = 60;
  const paths = [];
  for (let k = 0; k < argv.length; k++) {
    if (argv[k] === "--min") min = Number(argv[++k]);
    else paths.push(argv[k]);
  }
  const rows = [];
  for (const file of (paths.length ? paths : ["src"]).flatMap(tsFiles)) {
    for (const f of functionLengths(readFileSync(file, "utf8")))
      if (f.lines >= min) rows.push({ ...f, file: relative(process.cwd(), file) });
  }
  rows.sort((a, b) => b.lines - a.lines);
  for (const r of rows) console.log(`${String(r.lines).padStart(5)}  ${r.file}:${r.line}  ${r.name}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main(process.argv.slice(2));
