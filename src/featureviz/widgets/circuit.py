"""Circuit view: a layered node-link graph of one feature circuit (upstream columns -> target -> downstream).

Edge width shows |weight|, colour its sign (or nodes' clusters from fv.cluster_features); hover shows the
numbers; a click selects a node, which `fv.link` passes on to heatmaps and dashboards of the same hook.
"""

from __future__ import annotations

import math

import pandas as pd
import traitlets as t

from ..analysis.circuits import Circuit, hook_order
from .base import FeatureWidget

COLOR_BY = ("sign", "cluster")


class CircuitView(FeatureWidget, bundle="circuit"):
    """A feature circuit (`feature_circuit`) as a layered graph: upstream nodes, the target, downstream nodes.

    ``selected_node`` ("hook:feature") is two-way; ``selected_source`` / ``selected_feature`` follow it, so a
    linked `Dashboard` of that source shows the node clicked.
    """

    graph = t.Dict().tag(sync=True)  # {nodes, edges, target, method, ...}: plain JSON
    color_by = t.Enum(COLOR_BY, default_value="sign").tag(sync=True)
    # Two-way: the browser sets selected_node ("hook:feature"); Python derives the (source, feature) pair.
    selected_node = t.Unicode("").tag(sync=True)
    selected_source = t.Unicode("").tag(sync=True)
    selected_feature = t.Int(-1).tag(sync=True)

    def __init__(
        self,
        circuit: Circuit,
        clusters: pd.Series | None = None,
        *,
        color_by: str | None = None,
        title: str | None = None,
        **kwargs,
    ):
        """Draw the graph of a `Circuit`.

        Parameters
        ----------
        circuit : Circuit
            From `feature_circuit`.
        clusters : pandas.Series, optional
            ``cluster_features(circuit)`` (node id -> cluster), to colour nodes by cluster.
        color_by : {"sign", "cluster"}, optional
            Default: "cluster" when `clusters` is given, else "sign" (of each node's effect).
        title : str, optional
            Default: the target, its source and the method.
        **kwargs
            Initial trait values.
        """
        if not isinstance(circuit, Circuit):
            raise TypeError(
                f"circuit must be the result of featureviz.feature_circuit(...), got {type(circuit).__name__}"
            )
        if clusters is not None and not isinstance(clusters, pd.Series):
            raise TypeError(
                f"clusters must be a pandas Series (fv.cluster_features(circuit)), got {type(clusters).__name__}"
            )
        self.circuit = circuit
        target = circuit.nodes.set_index("node").loc[circuit.target]
        super().__init__(
            graph=circuit_graph(circuit, clusters),
            title=title if title is not None else f"circuit of {target.label} at {target.source} ({circuit.method})",
            color_by=color_by or ("cluster" if clusters is not None else "sign"),
            **kwargs,
        )

    def __repr__(self) -> str:
        graph = self.graph
        return (
            f"CircuitView({len(graph.get('nodes', []))} nodes, {len(graph.get('edges', []))} edges, target "
            f"{graph.get('target', '?')}, {graph.get('method', '?')}, selected={self.selected_node!r})"
        )

    @property
    def selection_hook(self) -> str | None:
        """The hook of the selected node (fv.link passes the selection only to widgets of that hook)."""
        return self.selected_source or None

    @property
    def feature_ids(self) -> list[int]:
        """The features a click here can select (what a linked export needs dashboard pages for)."""
        return sorted({n["feature"] for n in self.graph["nodes"] if n["kind"] not in ("error", "logits")})

    def select_feature(self, hook: str, feature: int) -> None:
        """Select the node (hook, feature), or clear the selection when the circuit does not show it."""
        node = f"{hook}:{feature}"
        self.selected_node = node if node in {n["id"] for n in self.graph["nodes"]} else ""

    @t.observe("selected_node")
    def _split_selection(self, change):
        node = next((n for n in self.graph["nodes"] if n["id"] == change["new"]), None)
        source, feature = (node["source"], node["feature"]) if node else ("", -1)
        if node is not None and node["kind"] in ("error", "logits"):
            feature = -1  # nothing to show elsewhere: an error term or a vocabulary token
        self.selected_source = source
        if self.selected_feature == feature and feature >= 0:
            # Same index, other source: linked widgets must still hear about it.
            self.notify_change(t.Bunch(name="selected_feature", old=-1, new=feature, owner=self, type="change"))
        self.selected_feature = feature

    @t.validate("selected_node")
    def _check_node(self, proposal):
        value = proposal["value"]
        if value and value not in {n["id"] for n in self.graph["nodes"]}:
            raise t.TraitError(f"selected_node={value!r} is not a node of this circuit")
        return value


def circuit_graph(circuit: Circuit, clusters: pd.Series | None = None) -> dict:
    """The view's JSON: nodes with their column (upstream sources in forward order, target, downstream) and
    row, edges with weights."""
    nodes = circuit.nodes
    n_layers = int(max(nodes.layer.max(), 0)) + 1
    roles = {"upstream": 0, "target": 1, "downstream": 2}
    keys = sorted(
        {
            (roles[r.role], hook_order(r.source, n_layers) if r.source != "logits" else (n_layers + 1, 0), r.source)
            for r in nodes.itertuples()
        }
    )
    column = {(role, source): i for i, (role, _, source) in enumerate(keys)}
    out = []
    for r in nodes.itertuples():
        out.append(
            {
                "id": r.node,
                "label": str(r.label),
                "source": r.source,
                "kind": r.kind,
                "role": r.role,
                "layer": int(r.layer) if not _missing(r.layer) else -1,
                "feature": int(r.feature),
                "activation": _number(r.activation),
                "effect": _number(r.effect),
                "attribution": _number(getattr(r, "attribution", float("nan"))),
                "cluster": int(clusters[r.node]) if clusters is not None and r.node in clusters.index else 0,
                "column": column[(roles[r.role], r.source)],
            }
        )
    for col in set(n["column"] for n in out):  # rows: largest |effect| first within each column
        members = sorted((n for n in out if n["column"] == col), key=lambda n: -abs(n["effect"] or 0))
        for row, n in enumerate(members):
            n["row"] = row
    columns = [{"source": source, "role": ("upstream", "target", "downstream")[role]} for role, _, source in keys]
    edges = [
        {"from": e["from"], "to": e["to"], "weight": float(e["weight"]), "method": e["method"]}
        for e in circuit.edges.to_dict("records")
    ]
    return {
        "nodes": out,
        "edges": edges,
        "columns": columns,
        "target": circuit.target,
        "method": circuit.method,
        "baseline": circuit.baseline,
        "n_firing": int(circuit.n_firing),
        "n_prompts": len(circuit.prompts),
    }


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number(value) -> float | None:
    """JSON has no NaN: missing numbers go as null."""
    return None if _missing(value) else float(value)
