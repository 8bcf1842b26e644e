// Toolbar controls bound to two-way model traits.

import { h } from "./dom";
import type { AnyModel } from "./traits";
import { safeGet, setTrait } from "./traits";
import type { Scope } from "./view";

export interface SelectControl {
  el: HTMLElement;
  select: HTMLSelectElement;
  update(value: string): void;
}

export function selectControl(
  model: AnyModel,
  trait: string,
  label: string,
  options: ReadonlyArray<readonly [value: string, text: string]>,
): SelectControl {
  const select = h("select", { className: `fv-${trait.replace(/_/g, "-")}` });
  for (const [value, text] of options) {
    const o = h("option", { text });
    o.value = value;
    select.appendChild(o);
  }
  select.addEventListener("change", () => setTrait(model, trait, select.value));
  const el = h("label", { className: "fv-control" }, [h("span", { text: label }), select]);
  return {
    el,
    select,
    update(value) {
      if (select.value !== value) select.value = value;
    },
  };
}

export interface CheckboxControl {
  el: HTMLElement;
  input: HTMLInputElement;
  update(checked: boolean, disabled?: boolean, title?: string): void;
}

export function checkboxControl(model: AnyModel, trait: string, label: string): CheckboxControl {
  const input = h("input", { className: `fv-${trait.replace(/_/g, "-")}` });
  input.type = "checkbox";
  input.addEventListener("change", () => setTrait(model, trait, input.checked));
  const el = h("label", { className: "fv-control" }, [input, h("span", { text: label })]);
  return {
    el,
    input,
    update(checked, disabled = false, title = "") {
      input.checked = checked;
      input.disabled = disabled;
      el.classList.toggle("fv-disabled", disabled);
      el.title = title;
    },
  };
}

export interface TitleControl {
  el: HTMLElement;
  /** Re-read the trait. */
  update(): void;
}

/** The view's title from the `title` trait (hidden when empty); `clean` shapes the untrusted text. */
export function titleControl(model: AnyModel, scope: Scope, clean: (text: string) => string = (t) => t): TitleControl {
  const el = h("span", { className: "fv-title" });
  const update = () => {
    const t = safeGet(model, "title");
    const text = typeof t === "string" ? clean(t) : "";
    el.textContent = text;
    el.style.display = text ? "" : "none";
  };
  scope.listen("title", update);
  return { el, update };
}
