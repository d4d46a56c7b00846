"""Width threshold for zero training loss (Corollary 3.6): a marimo notebook.

Open it with ``marimo edit notebooks/width_threshold.py``; run it headless with
``python notebooks/width_threshold.py -- --N 40``; export a static page with
``marimo export html notebooks/width_threshold.py -o width_threshold.html``.
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
    N = mo.ui.slider(20, 720, step=10, value=int(args.get("N", 360)), label="N (digits)", show_value=True)
    width = mo.ui.slider(0.5, 3.0, step=0.25, value=float(args.get("width", 2.0)),
                         label="widest layer: n₁ / N up to", show_value=True)
    activation = mo.ui.dropdown(activations.names(), value=args.get("activation", "sigmoid"), label="σ₁")
    seed = mo.ui.number(0, 10_000, value=int(args.get("seed", 0)), label="seed")
    draws = mo.ui.slider(1, 5, value=int(args.get("draws", 2)), label="draws per width", show_value=True)
    mo.vstack([mo.md("# Width threshold: zero training loss from n₁ = N on (Corollary 3.6)"),
               mo.hstack([N, width, activation]), mo.hstack([seed, draws])])
    return N, activation, draws, seed, width


@app.cell
def _(N, activation, demos, draws, seed, width):
    result = demos.width_threshold(N.value, filters=demos.default_filters(N.value, max_ratio=width.value),
                                   draws=draws.value, seed=int(seed.value), activation=activation.value)
    return (result,)


@app.cell
def _(demos, io, mo, result):
    figure = demos.width_threshold_figure(result)
    mo.vstack([mo.image(io.BytesIO(demos.render(figure)), alt="training loss and error vs n1/N"),
               mo.md(demos.width_threshold_explanation(result))])
    return


if __name__ == "__main__":
    app.run()
