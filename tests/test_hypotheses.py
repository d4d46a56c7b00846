"""The hypotheses of §2–3, each computed on an instance (proofs_checks.hypotheses)."""

import dataclasses

import numpy as np

from proofs_checks import hypotheses as hyp
from proofs_checks.instances import digits_instance, wide_layer_of
from theory_lab import activations
from theory_lab.arch import Architecture, Conv, Dense, MaxPool, Output
from theory_lab.checking import Context

X = np.random.default_rng(0).standard_normal((20, 6, 1))


def _net(activation="sigmoid", bias="neuron", filters=4):
    return Architecture((6, 1), (Conv(filters, (2,), activation=activation, bias=bias), Dense(3), Output(1)))


def test_widths_and_output():
    net = _net()  # n_1 = 5 · 4 = 20
    assert hyp.wide_layer(net, 1, 20).met and not hyp.wide_layer(net, 1, 21).met
    assert hyp.narrow_layer(net, 2, 20).met and not hyp.narrow_layer(net, 1, 20).met
    assert hyp.scalar_output(net).met and not hyp.scalar_output(Architecture((3,), (Dense(4), Output(2)))).met
    assert wide_layer_of(net, 20) == 1 and wide_layer_of(net, 21) == net.L - 1


def test_data_and_biases():
    assert hyp.finite_float64(X).met
    bad = X.copy()
    bad[0, 0, 0] = np.nan
    h = hyp.finite_float64(bad)
    assert not h.met and "1 non-finite" in h.detail
    assert not hyp.finite_float64(X.astype(np.float32)).met
    assert hyp.per_neuron_bias(_net(), 2).met
    tied = hyp.per_neuron_bias(_net(bias="filter"), 2)
    assert not tied.met and "layer 1: bias=filter" in tied.detail


def test_activation_hypotheses_read_the_registry(monkeypatch):
    assert not hyp.activation_3_2("tanh").met and hyp.activation_3_2("softplus(2)").met
    assert not hyp.activations_3_2(_net("tanh"), 1).met and hyp.activations_analytic(_net("tanh"), 1).met
    wrong = dataclasses.replace(activations.get("tanh"), assumption_3_2=True, clause="a")
    monkeypatch.setitem(activations._BASE, "tanh", lambda: wrong)
    monkeypatch.setattr(activations, "_CACHE", {})
    assert hyp.activation_3_2("tanh").met and hyp.activations_3_2(_net("tanh"), 1).met


def test_theorem_hypotheses_on_an_instance():
    inst = digits_instance(Context(0), 50)
    names = {h.name: h.met for h in hyp.theorem_3_5(inst.arch, inst.data.X, inst.k)[0]}
    assert all(names.values()) and inst.k == 1 and len(names) == 9  # stop 27: + layer k is hidden
    pooled = Architecture((6, 1), (Conv(4, (2,)), MaxPool((2,)), Conv(20, (1,)), Output(1)))
    h34 = {h.name: h.met for h in hyp.theorem_3_4(pooled, X, 3)[0]}
    h35 = {h.name: h.met for h in hyp.theorem_3_5(pooled, X, 3)[0]}
    assert h34["layers 1 and 3 conv or FC (pooling allowed between)"]
    assert not h35["layers 1..3 conv or FC (no max-pooling)"]
