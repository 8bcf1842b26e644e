// The dashboard's feature navigation: previous / next in feature_ids order, a feature-id box (Enter or
// change commits; Up / Down step through feature_ids; an id not in the list is marked invalid), and the
// position "i / n".

import { formatCount, neighbour } from "./dashboard-data";
import { h } from "./dom";
import { cleanLabel } from "./tokens";
import type { Scope } from "./view";

export interface DashboardNav {
  /** Previous, id box, next. */
  readonly el: HTMLElement;
  /** The position "i / n". */
  readonly pos: HTMLElement;
  /** Show the current feature among ids. */
  update(current: number | null, ids: readonly number[], idIndex: ReadonlyMap<number, number>): void;
  /** The id box no longer holds an invalid entry. */
  clearInvalid(): void;
}

/** go(id) asks for a feature and says whether it is one (the nav then redraws through update());
 * onInvalid(message) says why a typed id was refused, inline in the view. */
export function createDashboardNav(
  scope: Scope,
  go: (id: number | null) => boolean,
  onInvalid: (message: string) => void = () => {},
): DashboardNav {
  const prevBtn = h("button", {
    className: "fv-prev",
    text: "‹",
    attrs: { type: "button", "aria-label": "previous feature" },
  });
  const nextBtn = h("button", {
    className: "fv-next",
    text: "›",
    attrs: { type: "button", "aria-label": "next feature" },
  });
  const input = h("input", {
    className: "fv-dash-input",
    attrs: { type: "number", step: "1", "aria-label": "feature id" },
  });
  const pos = h("span", { className: "fv-dash-pos" });
  const el = h("span", { className: "fv-dash-nav" }, [prevBtn, input, nextBtn]);
  let cur: number | null = null;
  let ids: readonly number[] = [];
  let idIndex: ReadonlyMap<number, number> = new Map();
  const step = (dir: 1 | -1) => go(neighbour(ids, idIndex, cur, dir));

  function render(): void {
    if (document.activeElement !== input || !input.classList.contains("fv-invalid")) {
      input.value = cur === null ? "" : String(cur);
      input.classList.remove("fv-invalid");
      input.title = "";
    }
    const prev = neighbour(ids, idIndex, cur, -1);
    const next = neighbour(ids, idIndex, cur, 1);
    prevBtn.disabled = prev === null;
    nextBtn.disabled = next === null;
    prevBtn.title = prev === null ? "first feature" : `previous: #${prev}`;
    nextBtn.title = next === null ? "last feature" : `next: #${next}`;
    const i = cur === null ? undefined : idIndex.get(cur);
    pos.textContent = ids.length ? `${i === undefined ? "–" : formatCount(i + 1)} / ${formatCount(ids.length)}` : "";
  }

  function commitInput(): void {
    const text = input.value.trim();
    if (text === "") {
      render();
      return;
    }
    const n = Number(text);
    if (!go(Number.isSafeInteger(n) ? n : null)) {
      input.classList.add("fv-invalid");
      const lo = Math.min(...ids);
      const hi = Math.max(...ids);
      const range = hi - lo + 1 === ids.length ? `ids ${lo}–${hi}` : `e.g. ${ids.slice(0, 3).join(", ")}`;
      input.title = ids.length
        ? `${cleanLabel(text, 20)} is not one of this dashboard's ${formatCount(ids.length)} features (${range})`
        : "not a feature id";
      onInvalid(input.title);
    }
  }

  scope.on(prevBtn, "click", () => step(-1));
  scope.on(nextBtn, "click", () => step(1));
  scope.on<KeyboardEvent>(input, "keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      commitInput();
    } else if (e.key === "ArrowUp" || e.key === "ArrowDown") {
      // Step through feature_ids order, not +/-1.
      e.preventDefault();
      step(e.key === "ArrowUp" ? 1 : -1);
    } else if (e.key === "Escape") {
      input.classList.remove("fv-invalid");
      render();
    }
  });
  scope.on(input, "change", commitInput);
  scope.on(input, "input", () => input.classList.remove("fv-invalid"));

  return {
    el,
    pos,
    update(current, list, index) {
      cur = current;
      ids = list;
      idIndex = index;
      render();
    },
    clearInvalid() {
      input.classList.remove("fv-invalid");
    },
  };
}
