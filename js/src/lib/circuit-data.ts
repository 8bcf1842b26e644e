// The circuit view's data: validation of the `graph` trait (untrusted JSON) and the layered layout.
// Pure functions, no DOM, so vitest checks them directly.

export interface CircuitNode {
  id: string;
  label: string;
  source: string;
  kind: string; // sae, error, neurons, heads, logits
  role: "upstream" | "target" | "downstream";
  layer: number;
  feature: number;
  activation: number | null;
  effect: number | null;
  attribution: number | null;
  cluster: number;
  column: number;
  row: number;
}

export interface CircuitEdge {
  from: string;
  to: string;
  weight: number;
  method: string;
}

export interface CircuitColumn {
  source: string;
  role: string;
}

export interface CircuitGraph {
  nodes: CircuitNode[];
  edges: CircuitEdge[];
  columns: CircuitColumn[];
  target: string;
  method: string;
  baseline: string;
  nFiring: number;
  nPrompts: number;
  /** Largest |weight| per edge group (see edgeGroup): upstream effects and each downstream source have their
   * own units (the target's activation, a later feature's, logits), so each gets its own width scale. */
  maxAbsWeight: Map<string, number>;
  warnings: string[];
}

export type ReadGraph = { ok: true; graph: CircuitGraph } | { ok: false; error: string };

const ROLES = ["upstream", "target", "downstream"] as const;

function str(v: unknown, fallback = ""): string {
  return typeof v === "string" ? v : fallback;
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function int(v: unknown, fallback: number): number {
  return typeof v === "number" && Number.isInteger(v) ? v : fallback;
}

/** Validate the graph trait; anything malformed is dropped with a warning, never trusted. */
export function readGraph(raw: unknown): ReadGraph {
  if (!raw || typeof raw !== "object") return { ok: false, error: "no circuit to show" };
  const g = raw as Record<string, unknown>;
  const warnings: string[] = [];
  const nodes: CircuitNode[] = [];
  const seen = new Set<string>();
  for (const item of Array.isArray(g.nodes) ? g.nodes : []) {
    if (!item || typeof item !== "object") continue;
    const n = item as Record<string, unknown>;
    const id = str(n.id);
    const role = str(n.role) as CircuitNode["role"];
    if (!id || seen.has(id) || !ROLES.includes(role)) {
      warnings.push(`skipped a malformed node (${id ? "duplicate or bad role" : "no id"})`);
      continue;
    }
    seen.add(id);
    nodes.push({
      id,
      label: str(n.label, id),
      source: str(n.source),
      kind: str(n.kind),
      role,
      layer: int(n.layer, -1),
      feature: int(n.feature, -1),
      activation: num(n.activation),
      effect: num(n.effect),
      attribution: num(n.attribution),
      cluster: int(n.cluster, 0),
      column: Math.max(0, int(n.column, 0)),
      row: Math.max(0, int(n.row, 0)),
    });
  }
  const target = str(g.target);
  if (!nodes.some((n) => n.id === target && n.role === "target"))
    return { ok: false, error: "the circuit has no target node" };
  const edges: CircuitEdge[] = [];
  for (const item of Array.isArray(g.edges) ? g.edges : []) {
    if (!item || typeof item !== "object") continue;
    const e = item as Record<string, unknown>;
    const weight = num(e.weight);
    const from = str(e.from);
    const to = str(e.to);
    if (weight === null || !seen.has(from) || !seen.has(to)) {
      warnings.push("skipped an edge with an unknown node or no weight");
      continue;
    }
    edges.push({ from, to, weight, method: str(e.method) });
  }
  const columns: CircuitColumn[] = [];
  for (const item of Array.isArray(g.columns) ? g.columns : []) {
    const c = (item && typeof item === "object" ? item : {}) as Record<string, unknown>;
    columns.push({ source: str(c.source), role: str(c.role) });
  }
  const sourceOf = new Map(nodes.map((n) => [n.id, n.source]));
  const maxAbsWeight = new Map<string, number>();
  for (const e of edges) {
    const group = edgeGroup(e, target, sourceOf);
    maxAbsWeight.set(group, Math.max(maxAbsWeight.get(group) ?? 0, Math.abs(e.weight)));
  }
  return {
    ok: true,
    graph: {
      nodes,
      edges,
      columns,
      target,
      method: str(g.method),
      baseline: str(g.baseline),
      nFiring: int(g.n_firing, 0),
      nPrompts: int(g.n_prompts, 0),
      maxAbsWeight,
      warnings,
    },
  };
}

/** Edges into the target share one width scale ("upstream"); edges out of it one per downstream source. */
export function edgeGroup(edge: CircuitEdge, target: string, sourceOf: ReadonlyMap<string, string>): string {
  return edge.to === target ? "upstream" : `downstream ${sourceOf.get(edge.to) ?? ""}`;
}

/** A column's heading: "heads L3", "neurons L14", "SAE blocks.15.hook_resid_pre", "logits". */
export function columnTitle(column: CircuitColumn, nodes: CircuitNode[]): string {
  const sample = nodes.find((n) => n.source === column.source && n.kind !== "error");
  const layer = /^blocks\.(\d+)\./.exec(column.source)?.[1];
  if (column.source === "logits") return "logits";
  const kind = sample?.kind ?? "sae";
  if (kind === "heads") return `heads L${layer}`;
  if (kind === "neurons") return `neurons L${layer}`;
  return column.source.replace(/^blocks\./, "L").replace(/\.hook_/, " ");
}

export interface Layout {
  width: number;
  height: number;
  x: Map<string, number>; // node id -> left edge
  y: Map<string, number>; // node id -> vertical centre
  columnX: number[];
}

export const NODE_WIDTH = 96;
export const NODE_HEIGHT = 22;
export const COLUMN_GAP = 64;
export const ROW_GAP = 8;
export const HEADER = 26;

/** Columns left to right (upstream in forward order, target, downstream), nodes by row within a column;
 * every column is centred vertically on the tallest. */
export function layoutGraph(graph: CircuitGraph): Layout {
  const nColumns = Math.max(graph.columns.length, ...graph.nodes.map((n) => n.column + 1));
  const perColumn = new Array<number>(nColumns).fill(0);
  for (const n of graph.nodes) perColumn[n.column] = Math.max(perColumn[n.column], n.row + 1);
  const tallest = Math.max(1, ...perColumn);
  const pitch = NODE_HEIGHT + ROW_GAP;
  const columnX = Array.from({ length: nColumns }, (_, c) => 8 + c * (NODE_WIDTH + COLUMN_GAP));
  const x = new Map<string, number>();
  const y = new Map<string, number>();
  for (const n of graph.nodes) {
    const offset = ((tallest - perColumn[n.column]) * pitch) / 2;
    x.set(n.id, columnX[n.column]);
    y.set(n.id, HEADER + offset + n.row * pitch + NODE_HEIGHT / 2);
  }
  return {
    width: 16 + nColumns * NODE_WIDTH + (nColumns - 1) * COLUMN_GAP,
    height: HEADER + tallest * pitch + 4,
    x,
    y,
    columnX,
  };
}

/** Stroke width in pixels: 1 to 9 by |weight| relative to the largest edge. */
export function edgeWidth(weight: number, maxAbs: number): number {
  if (!(maxAbs > 0) || !Number.isFinite(weight)) return 1;
  return 1 + 8 * Math.min(1, Math.abs(weight) / maxAbs);
}

/** The node a keyboard arrow moves to: up/down within the column, left/right to the nearest row of the next
 * column that has nodes. */
export function neighbour(graph: CircuitGraph, id: string, key: string): string | null {
  const here = graph.nodes.find((n) => n.id === id);
  if (!here) return graph.nodes[0]?.id ?? null;
  if (key === "ArrowUp" || key === "ArrowDown") {
    const row = here.row + (key === "ArrowUp" ? -1 : 1);
    return graph.nodes.find((n) => n.column === here.column && n.row === row)?.id ?? null;
  }
  if (key !== "ArrowLeft" && key !== "ArrowRight") return null;
  const step = key === "ArrowLeft" ? -1 : 1;
  const columns = [...new Set(graph.nodes.map((n) => n.column))].sort((a, b) => a - b);
  const at = columns.indexOf(here.column) + step;
  if (at < 0 || at >= columns.length) return null;
  const candidates = graph.nodes.filter((n) => n.column === columns[at]);
  candidates.sort((a, b) => Math.abs(a.row - here.row) - Math.abs(b.row - here.row) || a.row - b.row);
  return candidates[0]?.id ?? null;
}
