"""Hessian spectra at a zero-loss minimum and at the bad critical point: a marimo notebook.

Open it with ``marimo edit notebooks/spectra.py``; run it headless with
``python notebooks/spectra.py -- --N 10``; export a static page with
``marimo export html notebooks/spectra.py -o spectra.html``.
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
    N = mo.ui.slider(6, 40, step=2, value=int(args.get("N", 20)), label="N (digits)", show_value=True)
    width = mo.ui.slider(4, 64, step=2, value=int(args.get("width", 24)), label="n₂ (dense layer width)",
                         show_value=True)
    activation = mo.ui.dropdown(activations.names(), value=args.get("activation", "sigmoid"), label="σ")
    seed = mo.ui.number(0, 10_000, value=int(args.get("seed", 0)), label="seed")
    mo.vstack([mo.md("# Hessian spectra: zero-loss minimum vs the bad critical point"),
               mo.hstack([N, width]), mo.hstack([activation, seed])])
    return N, activation, seed, width


@app.cell
def _(N, activation, demos, seed, width):
    result = demos.spectra(N.value, width=width.value, seed=int(seed.value), activation=activation.value)
    return (result,)


@app.cell
def _(demos, io, mo, result):
    figure = demos.spectra_figure(result)
    mo.vstack([mo.image(io.BytesIO(demos.render(figure)), alt="Hessian eigenvalue histograms"),
               mo.md(demos.spectra_explanation(result))])
    return


if __name__ == "__main__":
    app.run()
