// Toolbar controls bound to two-way model traits.

import { h } from "./dom";
import type { AnyModel } from "./traits";
import { setTrait } from "./traits";

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
