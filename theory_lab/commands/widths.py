"""`theory-lab widths`: the paper's Table 1 (and Figure 1) recomputed by shape inference.

For each real network (:mod:`theory_lab.zoo`) it prints ``n_1`` and ``max_k n_k``
with the layer that attains them, ImageNet's ``N = 1,281,167``, whether each
width reaches ``N``, the paper's Table 1 numbers and whether they agree, with a
footnote explaining every disagreement. ``--network NAME`` lists one network's
layers; ``--json PATH`` writes the same facts as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from theory_lab.commands.options import write_outputs

__all__ = ["register", "widths_json"]


def _yes(flag: bool) -> str:
    return "[green]yes[/]" if flag else "[red]no[/]"


def _k(n: int) -> str:
    return f"{n // 1000}K" if n % 1000 == 0 else f"{n:,}"


def _table(rows) -> tuple[Table, list[str]]:
    from theory_lab.zoo import IMAGENET_N

    table = Table(title=f"Table 1 recomputed: widths of real CNNs vs ImageNet's N = {IMAGENET_N:,}",
                  caption="n_1: layer 1; max: over hidden layers (outputs excluded). Paper: n_1 / max, lower bounds.")
    for col, just in (("network", "left"), ("input (H×W×C)", "left"), ("n_1 (layer)", "right"), ("max_k n_k (layer)", "right"),
                      ("N", "right"), ("n_1≥N", "center"), ("max≥N", "center"), ("paper", "right"),
                      ("agrees", "left")):
        table.add_column(col, justify=just, overflow="fold")
    notes = []
    for r in rows:
        agrees = "[green]yes[/]"
        if not r.agrees:
            notes.append(f"[{len(notes) + 1}] {r.key}: {r.note}")
            style = "yellow" if r.status == "loose" else "bold red"
            agrees = f"[{style}]no, {r.status}[/] [{len(notes)}]"
        name = r.key + (f"\n[dim]{r.variant}[/]" if r.variant else "")
        h, w, c = r.input_shape
        table.add_row(name, f"{h}×{w}×{c}", f"{r.n1:,}\n[dim]{r.n1_at}[/]", f"{r.max_width:,}\n[dim]{r.max_at}[/]",
                      f"{r.N:,}" + ("" if r.dataset == "ImageNet" else f"\n[dim]{r.dataset.split(' ')[0]}[/]"),
                      _yes(r.n1_wide), _yes(r.max_wide),
                      f"{r.paper}\n{_k(r.paper_n1)} / {_k(r.paper_max)}", agrees)
    return table, notes


def _layers_table(net, N: int) -> Table:
    max_width, max_at = net.max_width
    first = {layer.name for layer in net.first_layer}
    table = Table(title=f"{net.title} ({net.name}): input {'×'.join(map(str, net.input_shape))} (H×W×C), "
                        f"d = {net.d:,}",
                  caption=f"{net.source}. Dim rows are not layers (element-wise or zero padding). "
                          f"n_1 = {net.n1:,}; max_k n_k = {max_width:,} at {max_at}.")
    for col in ("#", "layer", "kind", "detail", "shape (H×W×C)", "width", "≥N", "mark"):
        table.add_column(col, justify="right" if col in ("#", "width") else "left")
    k = 0
    for layer in net.layers:
        marks = [m for m, on in (("n_1", layer.name in first), ("max", layer.name == max_at),
                                 ("output", layer.output)) if on]
        shape = "×".join(map(str, layer.shape))
        if not layer.counted:
            table.add_row("", f"[dim]{layer.name}[/]", f"[dim]{layer.kind}[/]", f"[dim]{layer.detail}[/]",
                          f"[dim]{shape}[/]", f"[dim]{layer.width:,}[/]", "", "")
            continue
        k += 1
        table.add_row(str(k), layer.name, layer.kind, layer.detail, shape, f"{layer.width:,}",
                      "[green]yes[/]" if layer.width >= N else "", ", ".join(marks))
    return table


def widths_json(rows, net=None) -> str:
    """The table (and one network's layers) as JSON text."""
    from theory_lab.zoo import IMAGENET_N, PAPER_TABLE1

    payload = {"N_imagenet": IMAGENET_N,
               "paper_table1": {k: {"label": v.label, "n1": v.n1, "max": v.max_width} for k, v in PAPER_TABLE1.items()},
               "networks": [r.to_dict() for r in rows]}
    if net is not None:
        payload["network"] = {"name": net.name, "title": net.title, "source": net.source,
                              "input_shape": list(net.input_shape), "n1": net.n1,
                              "max_width": net.max_width[0], "max_at": net.max_width[1],
                              "layers": [{"name": layer.name, "kind": layer.kind, "detail": layer.detail,
                                          "inputs": list(layer.inputs), "shape": list(layer.shape),
                                          "width": layer.width, "depth": layer.depth, "counted": layer.counted,
                                          "output": layer.output} for layer in net.layers]}
    return json.dumps(payload, indent=2, ensure_ascii=False)


def widths(
    network: Optional[str] = typer.Option(None, "--network", "-n",
                                          help="Print this network's per-layer widths (e.g. resnet-50, xception)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON to this path."),
):
    """Table 1: n_1 and max_k n_k of real CNNs by shape inference, vs ImageNet's N and the paper."""
    from theory_lab.zoo import table1
    from theory_lab.zoo.table1 import entry as find_entry

    from theory_lab.commands import options

    console = Console()
    if json_path is not None:
        json_path = options.out_file(json_path, "--json")  # before anything is printed or written
    net = None
    if network is not None:
        try:
            entry = find_entry(network)
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="--network") from None
        net = entry.build()
        row = next(r for r in table1() if r.key == entry.key)
        console.print(_layers_table(net, row.N))
        table, notes = _table([row])
    else:
        table, notes = _table(table1())
    console.print(table)
    for note in notes:
        console.print(note, highlight=False)
    if json_path is not None:
        write_outputs({json_path: widths_json(table1() if net is None else [row], net)})
        console.print(f"wrote {json_path}")


def register(app) -> None:
    """Attach ``widths`` to the ``theory-lab`` Typer app."""
    app.command("widths")(widths)
