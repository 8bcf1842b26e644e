// Placeholder until the dashboard view lands (being written).
function render({ el }: { el: HTMLElement }): () => void {
  el.textContent = "dashboard";
  return () => {};
}
export default { render };
