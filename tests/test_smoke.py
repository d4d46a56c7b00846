import numpy as np

from theory_lab import model
from theory_lab.arch import Architecture, Conv, Output


def test_features_shapes(key):
    arch = Architecture((6, 6, 1), (Conv(4, (3, 3)), Output(2)))
    params = model.init(arch, key)
    X = np.zeros((3, 6, 6, 1))
    assert [F.shape for F in model.features(arch, params, X)] == [(3, 36), (3, 64), (3, 2)]
