// The circuit view: an SVG node-link graph, upstream columns -> target -> downstream and logits.
// Edge width is |weight|, colour its sign; nodes are coloured by the sign of their effect or by cluster.
// Hover (or focus) shows the numbers; a click, Enter or Space selects a node; arrow keys move between nodes.
// Labels are untrusted (token strings for logits): they only ever go through textContent / setAttribute.

import {
  type CircuitEdge,
  type CircuitGraph,
  type CircuitNode,
  columnTitle,
  edgeGroup,
  edgeWidth,
  layoutGraph,
  NODE_HEIGHT,
  NODE_WIDTH,
  neighbour,
  readGraph,
} from "./circuit-data";
import { groupColour, mix, type RGB, toCss } from "./colour";
import { selectControl } from "./controls";
import { h, svg } from "./dom";
import { formatValue } from "./format";
import { fitMeasured, fontMeasure } from "./paint";
import { BASE_CSS, scopeCss } from "./styles";
import { readTheme, setAccent } from "./theme";
import { cleanLabel } from "./tokens";
import { createTooltip, type TooltipRow } from "./tooltip";
import type { AnyModel } from "./traits";
import { createScope } from "./view";

const LABEL_MAX = 40; // then cut to the node's width, measured

export const CIRCUIT_CSS = scopeCss(
  ".fv-circuit",
  `
.fv-circuit .fv-scroll { max-height: 560px; }
.fv-circuit-svg { display: block; font-family: var(--fv-font); font-size: 11px; }
.fv-circuit-node { cursor: pointer; outline: none; }
.fv-circuit-node rect { stroke: var(--fv-circuit-node-border); stroke-width: 1; }
.fv-circuit-node text { fill: var(--fv-fg); pointer-events: none; }
.fv-circuit-node:hover rect { stroke: var(--fv-fg); }
.fv-circuit-node:focus-visible rect { stroke: var(--fv-accent); stroke-width: 2; stroke-dasharray: 3 2; }
.fv-circuit-node.fv-selected rect { stroke: var(--fv-accent); stroke-width: 3; }
.fv-circuit-node.fv-target rect { stroke-width: 2; }
.fv-circuit-edge { fill: none; stroke-linecap: round; opacity: 0.75; }
.fv-circuit-edge:hover, .fv-circuit-edge.fv-active { opacity: 1; }
.fv-circuit-heading { fill: var(--fv-fg2); font-size: 10px; }
.fv-circuit-legend { padding: 4px 6px; border: 1px solid var(--fv-border); border-top: none; color: var(--fv-fg2); font-size: 11px; }
.fv-circuit-swatch { display: inline-block; width: 18px; height: 4px; margin: 0 3px 2px 8px; vertical-align: middle; }
`,
);

export interface CircuitView {
  root: HTMLElement;
  destroy(): void;
}

interface Palette {
  positive: RGB;
  negative: RGB;
  background: RGB;
  text: RGB;
  dark: boolean;
}

function readPalette(root: HTMLElement): Palette {
  const theme = readTheme(root);
  setAccent(root, theme.selection);
  root.style.setProperty("--fv-circuit-node-border", toCss(mix(theme.background, theme.text, 0.45)));
  return {
    positive: theme.dark ? [110, 170, 255] : [31, 95, 191],
    negative: theme.dark ? [255, 120, 100] : [192, 57, 43],
    background: theme.background,
    text: theme.text,
    dark: theme.dark,
  };
}

function signColourOf(palette: Palette, value: number | null): RGB {
  if (value === null || value === 0) return mix(palette.background, palette.text, 0.4);
  return value > 0 ? palette.positive : palette.negative;
}

function nodeFill(palette: Palette, node: CircuitNode, byCluster: boolean): string {
  if (node.role === "target") return toCss(mix(palette.background, palette.text, 0.12));
  const base = byCluster && node.cluster > 0 ? groupColour(node.cluster - 1) : signColourOf(palette, node.effect);
  return toCss(mix(palette.background, base, palette.dark ? 0.45 : 0.3));
}

function nodeRows(node: CircuitNode, graph: CircuitGraph | null): TooltipRow[] {
  const rows: TooltipRow[] = [
    ["node", cleanLabel(node.label, 80)],
    ["source", node.source],
    ["role", node.role],
  ];
  if (node.role === "target") {
    rows.push(["mean", `${formatValue(node.activation ?? NaN)} where it fires`]);
    if (graph) rows.push(["fires on", `${graph.nFiring} tokens of ${graph.nPrompts} prompts`]);
    return rows;
  }
  rows.push([node.role === "upstream" ? "effect" : "driven by", formatValue(node.effect ?? NaN)]);
  if (node.attribution !== null) rows.push(["attribution", formatValue(node.attribution)]);
  if (node.activation !== null) rows.push(["activation", formatValue(node.activation)]);
  if (node.cluster > 0) rows.push(["cluster", String(node.cluster)]);
  return rows;
}

type GraphLayout = ReturnType<typeof layoutGraph>;

/** One edge: a curve from a's right side to b's left, as wide as its weight within its group. */
function edgePath(
  graph: CircuitGraph,
  layout: GraphLayout,
  sourceOf: ReadonlyMap<string, string>,
  a: CircuitNode,
  b: CircuitNode,
  edge: CircuitEdge,
): SVGPathElement {
  const x1 = layout.x.get(a.id)! + NODE_WIDTH;
  const x2 = layout.x.get(b.id)!;
  const y1 = layout.y.get(a.id)!;
  const y2 = layout.y.get(b.id)!;
  const mid = (x1 + x2) / 2;
  return svg("path", {
    class: "fv-circuit-edge",
    d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`,
    "stroke-width": edgeWidth(
      edge.weight,
      graph.maxAbsWeight.get(edgeGroup(edge, graph.target, sourceOf)) ?? 0,
    ).toFixed(2),
    "data-from": edge.from,
    "data-to": edge.to,
    "data-weight": String(edge.weight),
  });
}

/** One node: a focusable button with its label (and effect), cut to fit its box (the tooltip has it whole). */
function nodeElement(layout: GraphLayout, node: CircuitNode, measure: (s: string) => number): SVGGElement {
  const x = layout.x.get(node.id)!;
  const y = layout.y.get(node.id)! - NODE_HEIGHT / 2;
  const value = node.effect !== null && node.role !== "target" ? ` ${formatValue(node.effect)}` : "";
  const full = cleanLabel(node.label, LABEL_MAX);
  const label = fitMeasured(measure, full, NODE_WIDTH - 12 - measure(value));
  const g = svg("g", {
    class: `fv-circuit-node${node.role === "target" ? " fv-target" : ""}`,
    tabindex: "0",
    role: "button",
    "aria-pressed": "false",
    "aria-label": `${full}, ${node.role}${node.effect !== null ? `, effect ${formatValue(node.effect)}` : ""}`,
    "data-node": node.id,
    "data-kind": node.kind,
    transform: `translate(${x},${y})`,
  });
  const rect = svg("rect", { width: String(NODE_WIDTH), height: String(NODE_HEIGHT), rx: "4" });
  const text = svg("text", { x: "6", y: String(NODE_HEIGHT / 2 + 4) });
  text.textContent = `${label}${value}`;
  g.append(rect, text);
  return g;
}

function legendItems(): Node[] {
  return [
    h("span", {
      text: "edge width: |effect| where the target fires (upstream -> target; target -> each downstream source, scaled apart)",
    }),
    h("span", { className: "fv-circuit-swatch fv-pos" }),
    h("span", { text: "raises" }),
    h("span", { className: "fv-circuit-swatch fv-neg" }),
    h("span", { text: "lowers" }),
  ];
}

export function createCircuitView(model: AnyModel, el: HTMLElement): CircuitView {
  const style = h("style", { text: BASE_CSS + CIRCUIT_CSS });
  const title = h("span", { className: "fv-title" });
  const colour = selectControl(model, "color_by", "colour", [
    ["sign", "sign"],
    ["cluster", "cluster"],
  ]);
  const info = h("span", { className: "fv-info" });
  const note = h("div", { className: "fv-note" });
  const toolbar = h("div", { className: "fv-toolbar" }, [title, colour.el, info, note]);
  const message = h("div", { className: "fv-message", attrs: { role: "status" } });
  const canvas = svg("svg", { class: "fv-circuit-svg", role: "group" });
  const scroller = h("div", { className: "fv-scroll" }, [canvas]);
  const legend = h("div", { className: "fv-circuit-legend" });
  const root = h("div", { className: "fv-root fv-circuit" }, [style, toolbar, message, scroller, legend]);
  const tooltip = createTooltip(root);
  el.appendChild(root);

  let graph: CircuitGraph | null = null;
  let targetX: number | null = null; // the target's centre, until the view has scrolled it into view
  let palette: Palette = readPalette(root);
  const nodeEls = new Map<string, SVGGElement>();
  const edgeEls: Array<{ el: SVGPathElement; from: string; to: string }> = [];

  const signColour = (value: number | null) => signColourOf(palette, value);

  function showTip(rows: TooltipRow[], event: { clientX: number; clientY: number }): void {
    const box = root.getBoundingClientRect();
    tooltip.show(rows, event.clientX - box.left, event.clientY - box.top);
  }

  function select(node: CircuitNode): void {
    model.set("selected_node", node.id);
    model.set("selected_source", node.source);
    model.set("selected_feature", node.kind === "error" || node.kind === "logits" ? -1 : node.feature);
    model.save_changes();
    paintSelection();
  }

  function paintSelection(): void {
    const selected = String(model.get("selected_node") ?? "");
    for (const [id, g] of nodeEls) {
      g.classList.toggle("fv-selected", id === selected);
      g.setAttribute("aria-pressed", String(id === selected));
    }
    for (const e of edgeEls) e.el.classList.toggle("fv-active", e.from === selected || e.to === selected);
    root.dataset.selected = selected;
  }

  function paintColours(): void {
    if (!graph) return;
    const byCluster = model.get("color_by") === "cluster";
    for (const node of graph.nodes)
      nodeEls
        .get(node.id)
        ?.querySelector("rect")
        ?.setAttribute("fill", nodeFill(palette, node, byCluster));
    const byId = new Map(graph.edges.map((e) => [`${e.from}>${e.to}`, e]));
    for (const e of edgeEls) e.el.setAttribute("stroke", toCss(signColour(byId.get(`${e.from}>${e.to}`)?.weight ?? 0)));
    const pos = legend.querySelector<HTMLElement>(".fv-pos");
    const neg = legend.querySelector<HTMLElement>(".fv-neg");
    if (pos) pos.style.background = toCss(palette.positive);
    if (neg) neg.style.background = toCss(palette.negative);
    root.dataset.theme = palette.dark ? "dark" : "light";
  }

  function render(): void {
    while (canvas.firstChild) canvas.removeChild(canvas.firstChild);
    nodeEls.clear();
    edgeEls.length = 0;
    tooltip.hide();
    title.textContent = String(model.get("title") ?? "");
    colour.update(String(model.get("color_by") ?? "sign"));
    const read = readGraph(model.get("graph"));
    if (!read.ok) {
      message.textContent = `featureviz: ${read.error}`;
      message.style.display = "";
      scroller.style.display = "none";
      legend.style.display = "none";
      root.dataset.state = "error";
      graph = null;
      return;
    }
    graph = read.graph;
    message.style.display = "none";
    scroller.style.display = "";
    legend.style.display = "";
    note.textContent = graph.warnings.join("; ");
    const nUp = graph.nodes.filter((n) => n.role === "upstream").length;
    const nDown = graph.nodes.filter((n) => n.role === "downstream").length;
    info.textContent = `${nUp} upstream · ${nDown} downstream · ${graph.method}, ${graph.baseline} baseline`;
    const layout = layoutGraph(graph);
    targetX = layout.x.get(graph.target)! + NODE_WIDTH / 2;
    canvas.setAttribute("width", String(layout.width));
    canvas.setAttribute("height", String(layout.height));
    canvas.setAttribute("viewBox", `0 0 ${layout.width} ${layout.height}`);
    canvas.setAttribute(
      "aria-label",
      `circuit of ${cleanLabel(graph.nodes.find((n) => n.id === graph!.target)?.label, 40)}`,
    );

    graph.columns.forEach((column, c) => {
      if (!graph!.nodes.some((n) => n.column === c)) return;
      const heading = svg("text", { class: "fv-circuit-heading", x: String(layout.columnX[c] + 2), y: "14" });
      heading.textContent = cleanLabel(columnTitle(column, graph!.nodes), 22);
      canvas.appendChild(heading);
    });

    const edgeLayer = svg("g");
    canvas.appendChild(edgeLayer);
    const nodeById = new Map(graph.nodes.map((n) => [n.id, n]));
    const sourceOf = new Map(graph.nodes.map((n) => [n.id, n.source]));
    for (const edge of graph.edges) {
      const a = nodeById.get(edge.from)!;
      const b = nodeById.get(edge.to)!;
      const path = edgePath(graph, layout, sourceOf, a, b, edge);
      path.addEventListener("mousemove", (event) =>
        showTip(
          [
            ["from", cleanLabel(a.label, 60)],
            ["to", cleanLabel(b.label, 60)],
            ["weight", formatValue(edge.weight)],
            ["method", edge.method],
          ],
          event,
        ),
      );
      path.addEventListener("mouseleave", () => tooltip.hide());
      edgeLayer.appendChild(path);
      edgeEls.push({ el: path, from: edge.from, to: edge.to });
    }

    const order = [...graph.nodes].sort((p, q) => p.column - q.column || p.row - q.row);
    const font = getComputedStyle(canvas);
    const measure = fontMeasure(`${font.fontSize || "11px"} ${font.fontFamily || "sans-serif"}`);
    for (const node of order) {
      const g = nodeElement(layout, node, measure);
      g.addEventListener("click", () => select(node));
      g.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          select(node);
          return;
        }
        const next = graph ? neighbour(graph, node.id, event.key) : null;
        if (next) {
          event.preventDefault();
          nodeEls.get(next)?.focus();
        }
      });
      g.addEventListener("mousemove", (event) => showTip(nodeRows(node, graph), event));
      g.addEventListener("mouseleave", () => tooltip.hide());
      g.addEventListener("focus", () => {
        const box = g.getBoundingClientRect();
        showTip(nodeRows(node, graph), { clientX: box.right, clientY: box.top });
      });
      g.addEventListener("blur", () => tooltip.hide());
      canvas.appendChild(g);
      nodeEls.set(node.id, g);
    }

    while (legend.firstChild) legend.removeChild(legend.firstChild);
    legend.append(...legendItems());
    root.dataset.state = "ready";
    paintColours();
    paintSelection();
    centreOnTarget();
  }

  /** A graph wider than its output opens with the target in view, once per graph (then the user scrolls). */
  function centreOnTarget(): void {
    const width = scroller.clientWidth;
    if (targetX === null || width === 0) return; // not laid out yet: the resize observer calls again
    scroller.scrollLeft = Math.max(0, targetX - width / 2);
    targetX = null;
  }

  /** A rendering bug must never escape into the notebook: show it instead. */
  const scope = createScope(model, (text) => {
    message.textContent = `featureviz: ${text}`;
    message.style.display = "";
    root.dataset.state = "error";
  });
  scope.listen("graph", render);
  scope.onResize(scroller, centreOnTarget);
  scope.listen("title", () => (title.textContent = String(model.get("title") ?? "")));
  scope.listen("color_by", () => {
    colour.update(String(model.get("color_by") ?? "sign"));
    paintColours();
  });
  scope.listen("selected_node", paintSelection);
  scope.onTheme(() => {
    palette = readPalette(root);
    paintColours();
  });
  scope.defer(() => {
    tooltip.destroy();
    root.remove();
  });
  render();

  return {
    root,
    destroy: scope.dispose,
  };
}
