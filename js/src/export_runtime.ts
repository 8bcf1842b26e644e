// Runtime of a featureviz HTML export: mounts each saved widget with a local, kernel-free model.
// The page holds one JSON block: {bundles: {id: esm source}, widgets: [{bundle, state, buffers, responses}],
// link_selection}; widgets of one `group` (an fv.Explorer's children) share a row and are linked. Everything a view can do without Python keeps working; a trait change Python would
// have answered is answered from `responses` (precomputed at export time), e.g. dashboard pages.

import { KERNEL_FREE } from "./lib/traits";

type Handler = (...args: unknown[]) => void;
type State = Record<string, unknown>;

interface SavedWidget {
  bundle: string;
  state: State;
  buffers: { path: (string | number)[]; data: string }[];
  responses: Record<string, Record<string, State>>;
  hook?: string | null; // the hook of the widget's features: selections pass only between widgets of one hook
  group?: number | null; // the children of one box (fv.Explorer): one row, linked to each other
}

interface ExportData {
  bundles: Record<string, string>;
  widgets: SavedWidget[];
  link_selection: boolean;
}

const SELECTION_TRAITS = ["selected_feature", "feature"];

function base64ToDataView(data: string): DataView {
  const binary = atob(data);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new DataView(bytes.buffer);
}

/** Put decoded buffers back where ipywidgets took them out of the state. */
export function restoreBuffers(state: State, buffers: SavedWidget["buffers"]): State {
  for (const { path, data } of buffers) {
    // biome-ignore lint/suspicious/noExplicitAny: walks a JSON path of objects and arrays
    let target: any = state;
    for (const key of path.slice(0, -1)) target = target[key];
    target[path[path.length - 1]] = base64ToDataView(data);
  }
  return state;
}

export class LocalModel {
  private listeners = new Map<string, Set<Handler>>();
  private pending = new Set<string>();
  onSave: ((changed: string[]) => void) | null = null;

  constructor(
    private state: State,
    private responses: SavedWidget["responses"],
  ) {
    this.state[KERNEL_FREE] = true; // the views disable what only a kernel could answer
  }

  get(name: string): unknown {
    return this.state[name];
  }

  set(name: string, value: unknown): void {
    this.state[name] = value;
    this.pending.add(name);
    this.emit(`change:${name}`, value);
  }

  /** Where a kernel would answer, answer from the precomputed responses. */
  save_changes(): void {
    const changed = [...this.pending];
    this.pending.clear();
    for (const name of changed) {
      const answer = this.responses[name]?.[String(this.state[name])];
      if (answer) for (const [key, value] of Object.entries(answer)) this.set(key, value);
    }
    this.pending.clear();
    this.onSave?.(changed);
  }

  on(event: string, cb: Handler): void {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)!.add(cb);
  }

  off(event?: string | null, cb?: Handler | null): void {
    if (!event) this.listeners.clear();
    else if (!cb) this.listeners.delete(event);
    else this.listeners.get(event)?.delete(cb);
  }

  send(): void {}

  private emit(event: string, value: unknown): void {
    for (const cb of this.listeners.get(event) ?? []) cb(value);
    for (const cb of this.listeners.get("change") ?? []) cb(value);
  }
}

async function mount(data: ExportData, root: HTMLElement): Promise<void> {
  // biome-ignore lint/suspicious/noExplicitAny: a bundle module is whatever esm the widget ships
  const modules = new Map<string, Promise<any>>();
  const load = (id: string) => {
    if (!modules.has(id)) {
      const url = URL.createObjectURL(new Blob([data.bundles[id]], { type: "text/javascript" }));
      modules.set(id, import(/* @vite-ignore */ url));
    }
    return modules.get(id)!;
  };
  const models: LocalModel[] = [];
  const hooks: Array<string | null> = [];
  const groups: Array<number | null> = [];
  const rows = new Map<number, HTMLElement>();
  for (const saved of data.widgets) {
    hooks.push(saved.hook ?? null);
    const group = typeof saved.group === "number" ? saved.group : null;
    groups.push(group);
    const el = document.createElement("div");
    el.className = "fv-export-widget";
    if (group === null) root.appendChild(el);
    else {
      if (!rows.has(group)) {
        const row = document.createElement("div");
        row.className = "fv-export-row";
        root.appendChild(row);
        rows.set(group, row);
      }
      rows.get(group)!.appendChild(el);
    }
    const model = new LocalModel(restoreBuffers(saved.state, saved.buffers), saved.responses ?? {});
    models.push(model);
    try {
      const module = (await load(saved.bundle)).default;
      await module.render({ model, el });
    } catch (error) {
      el.textContent = `featureviz: this widget could not be shown (${String(error)})`;
    }
  }
  if (data.link_selection || groups.some((g) => g !== null)) linkSelections(models, hooks, groups, data.link_selection);
}

/** Selecting a feature in one widget selects it in the others, as fv.link does in Python: only between
 * widgets of one hook; a circuit view (several hooks) selects the node of that hook and feature. With `all`
 * false only widgets of one group (a box's children) are linked. */
export function linkSelections(
  models: LocalModel[],
  hooks: Array<string | null>,
  groups: Array<number | null> = [],
  all = true,
): void {
  let busy = false;
  models.forEach((model, index) => {
    model.onSave = (changed) => {
      const trait = SELECTION_TRAITS.find((name) => changed.includes(name));
      if (busy || !trait) return;
      const value = model.get(trait);
      if (typeof value !== "number" || value < 0) return;
      const circuitSource = model.get("selected_source");
      const hook = typeof circuitSource === "string" ? circuitSource || null : hooks[index];
      busy = true;
      try {
        models.forEach((other, j) => {
          if (other === model) return;
          if (!all && (groups[index] == null || groups[index] !== groups[j])) return;
          if (other.get("selected_node") !== undefined) {
            if (hook) selectCircuitNode(other, hook, value);
            return;
          }
          if (hook && hooks[j] && hook !== hooks[j]) return; // feature i of another hook is another feature
          const target = SELECTION_TRAITS.find((name) => other.get(name) !== undefined);
          if (!target) return;
          // Set even without a precomputed answer: the view then says plainly that this file lacks it.
          other.set(target, value);
          other.save_changes();
        });
      } finally {
        busy = false;
      }
    };
  });
}

/** In a circuit view, select the node of (hook, feature), or clear the selection if it does not show it. */
function selectCircuitNode(model: LocalModel, hook: string, feature: number): void {
  const graph = model.get("graph") as { nodes?: Array<{ id?: unknown }> } | undefined;
  const id = `${hook}:${feature}`;
  const shown = Array.isArray(graph?.nodes) && graph!.nodes.some((n) => n && n.id === id);
  model.set("selected_node", shown ? id : "");
  model.set("selected_source", shown ? hook : "");
  model.set("selected_feature", shown ? feature : -1);
  model.save_changes();
}

const script = document.getElementById("featureviz-data");
const root = document.getElementById("featureviz-root");
if (script && root) {
  mount(JSON.parse(script.textContent ?? "{}"), root).then(() => root.setAttribute("data-mounted", "true"));
}
