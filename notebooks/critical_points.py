"""Critical points of a wide and a narrow CNN (Theorem 4.5): a marimo notebook.

Open it with ``marimo edit notebooks/critical_points.py``; run it headless with
``python notebooks/critical_points.py -- --N 20 --starts 2``; export a static page with
``marimo export html notebooks/critical_points.py -o critical_points.html``.
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
    N = mo.ui.slider(10, 80, step=2, value=int(args.get("N", 40)), label="N (digits)", show_value=True)
    width = mo.ui.slider(1, 4, value=int(args.get("width", 2)), label="wide net: filters T (n₁ = 36·T)",
                         show_value=True)
    activation = mo.ui.dropdown(activations.names(), value=args.get("activation", "sigmoid"), label="σ")
    seed = mo.ui.number(0, 10_000, value=int(args.get("seed", 0)), label="seed")
    starts = mo.ui.slider(1, 20, value=int(args.get("starts", 10)), label="random starts", show_value=True)
    mo.vstack([mo.md("# Critical points: wide vs narrow (Theorem 4.5)"),
               mo.hstack([N, width, activation]), mo.hstack([seed, starts])])
    return N, activation, seed, starts, width


@app.cell
def _(N, activation, demos, seed, starts, width):
    result = demos.critical_points(N.value, starts=starts.value, saddle_starts=max(1, starts.value // 4),
                                   seed=int(seed.value), activation=activation.value, filters=width.value)
    return (result,)


@app.cell
def _(demos, io, mo, result):
    figure = demos.critical_points_figure(result)
    mo.vstack([mo.image(io.BytesIO(demos.render(figure)), alt="loss vs index of critical points"),
               mo.md(demos.critical_points_explanation(result))])
    return


if __name__ == "__main__":
    app.run()
