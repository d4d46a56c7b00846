"""Loss slices around a minimum, the bad saddle and a narrow net's local minimum: a marimo notebook.

Open it with ``marimo edit notebooks/slices.py``; run it headless with
``python notebooks/slices.py -- --N 10``; export a static page with
``marimo export html notebooks/slices.py -o slices.html``.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell
def _():
    import io

    import marimo as mo

    from theory_lab import activations, demos
    return activations, demos, io, mo


@app.cell
def _(activations, mo):
    args = mo.cli_args()
    N = mo.ui.slider(6, 40, step=2, value=int(args.get("N", 20)), label="N (digits, wide net)", show_value=True)
    width = mo.ui.slider(4, 64, step=2, value=int(args.get("width", 24)), label="n₂ (dense layer width)",
                         show_value=True)
    activation = mo.ui.dropdown(activations.names(), value=args.get("activation", "sigmoid"), label="σ")
    seed = mo.ui.number(0, 10_000, value=int(args.get("seed", 0)), label="seed")
    radius = mo.ui.slider(0.1, 3.0, step=0.1, value=float(args.get("radius", 1.0)), label="radius",
                          show_value=True)
    mo.vstack([mo.md("# Loss slices around critical points"), mo.hstack([N, width, activation]),
               mo.hstack([seed, radius])])
    return N, activation, radius, seed, width


@app.cell
def _(N, activation, demos, radius, seed, width):
    result = demos.slices(N.value, width=width.value, seed=int(seed.value), activation=activation.value,
                          radius=radius.value, grid=31, grid2d=21)
    return (result,)


@app.cell
def _(demos, io, mo, result):
    figure = demos.slices_figure(result)
    mo.vstack([mo.image(io.BytesIO(demos.render(figure)), alt="1-D and 2-D loss slices"),
               mo.md(demos.slices_explanation(result))])
    return


if __name__ == "__main__":
    app.run()
