// Placeholder until the interpolation view lands (being written).
function render({ el }: { el: HTMLElement }): () => void {
  el.textContent = "interpolation";
  return () => {};
}
export default { render };
