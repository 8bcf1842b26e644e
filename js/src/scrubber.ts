// Placeholder until the scrubber view lands (being written).
function render({ el }: { el: HTMLElement }): () => void {
  el.textContent = "checkpoint scrubber";
  return () => {};
}
export default { render };
