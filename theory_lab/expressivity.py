"""Expressivity (THEORY.md §3): rank of ``F_k``, Theorem 3.4's witness, Corollary 3.6's exact fit.

The public face of §3; each topic lives in its own module, and every name below can be
imported from here:

* :mod:`theory_lab.sampling` — :func:`sample_params`: parameters from an absolutely
  continuous law, drawn from an explicit key with numpy (no jit compile per architecture,
  unlike :func:`model.init`, whose laws and pytree it mirrors); :func:`as_generator`,
  :data:`BIAS_LAWS`.
* :mod:`theory_lab.feature_maps` — :func:`feature_rank`: rank evidence of ``F_k`` for given
  parameters and data; :func:`features_upto` computes ``F_k`` from layers ``1 … k`` only
  (cheap to compile); :func:`full_weight_matrix` builds ``U_k`` with numpy.
* :mod:`theory_lab.rank_probes` — :func:`diagnose_units`: the known causes of rank loss
  (dead units, units whose pre-activation never changes sign over the data);
  :func:`rank_frequency`: how often random parameters lose rank, with the causes seen;
  :func:`clopper_pearson_interval`: the exact confidence interval of such a frequency
  (:func:`wilson_interval`: the approximate one).
* :mod:`theory_lab.witness` — :func:`construct_full_rank`: Theorem 3.4's existence made
  constructive: parameters of layers ``1 … k`` with ``rank F_k = N`` and every ``U_l`` of
  full rank, with evidence (:class:`Witness`).
* :mod:`theory_lab.exact_fit` — :func:`exact_fit`: Corollary 3.6's
  ``λ = F_{L−1}ᵀ(F_{L−1}F_{L−1}ᵀ)^{−1} y`` from a QR factorisation of ``F_{L−1}ᵀ`` (never the
  Gram inverse); :func:`with_output_layer` installs ``λ`` as the output layer;
  :func:`parameter_counts`: ``2N + T_1 l_0`` (one-hidden-layer CNN) vs ``(d+2)N`` (FC).

Example:
    >>> import numpy as np
    >>> from theory_lab.arch import Architecture, Conv, Output
    >>> from theory_lab import expressivity as ex
    >>> arch = Architecture((6, 1), (Conv(3, (2,), activation="relu"), Output(1)))
    >>> X = np.random.default_rng(0).standard_normal((12, 6, 1))
    >>> w = ex.construct_full_rank(arch, X, 1, key=0)
    >>> w.found, w.report.rank, w.report.conclusive
    (True, 12, True)
    >>> fit = ex.exact_fit(w.features, np.arange(12.0))
    >>> fit.relative_residual < 1e-10
    True
"""

from theory_lab.exact_fit import ExactFit, exact_fit, parameter_counts, with_output_layer
from theory_lab.feature_maps import feature_rank, features_upto, full_weight_matrix
from theory_lab.rank_probes import (FrequencyReport, UnitDiagnosis, clopper_pearson_interval, diagnose_units,
                                   rank_frequency, wilson_interval)
from theory_lab.sampling import BIAS_LAWS, as_generator, sample_params
from theory_lab.witness import Witness, construct_full_rank

__all__ = ["sample_params", "as_generator", "feature_rank", "features_upto", "full_weight_matrix", "UnitDiagnosis",
           "diagnose_units", "Witness", "construct_full_rank", "ExactFit", "exact_fit", "with_output_layer",
           "parameter_counts", "clopper_pearson_interval", "wilson_interval", "FrequencyReport", "rank_frequency", "BIAS_LAWS"]
