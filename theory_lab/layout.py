"""The flat float64 parameter vector θ ∈ R^P and where each parameter array sits in it.

Two layouts with one interface (``P``, ``ravel``, ``unravel``, ``block``, ``blocks``),
both hashable so that an objective holding one is a static argument of ``jax.jit``:

* :class:`Layout` — theory-lab's chain networks (:class:`~theory_lab.arch.Architecture`),
  params ``{"layer_k": {"W", "b"}}``; flat order: layers by ``k`` ascending, within a
  layer ``W`` (row-major ``(l_{k-1}, T_k)``) then ``b``; a block is a layer index ``k``.
* :class:`TreeLayout` — any pytree of arrays (Flax ``linen`` ``variables["params"]``, an
  ``nnx.State`` of ``nnx.Param``, a dict of a plain function's weights); flat order is
  JAX's tree-flatten order; a block is a named subtree, given as its path
  (``"Conv_0"``, ``"block1/conv2"``), whose leaves are contiguous in θ.

Example:
    >>> import numpy as np
    >>> from theory_lab import layout as L
    >>> lay = L.tree_layout({"dense": {"w": np.zeros((3, 2)), "b": np.zeros(2)}, "out": {"w": np.ones((2, 1))}})
    >>> lay.P, lay.block("dense"), [name for name, _ in lay.blocks()]
    (10, slice(0, 8, None), ['dense', 'out'])
    >>> theta = lay.ravel(lay.unravel(np.arange(10.0)))
    >>> theta.tolist() == list(range(10))
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from theory_lab.arch import Architecture

__all__ = ["Leaf", "Layout", "TreeLayout", "layout", "tree_layout", "flatten", "require_float64"]


def require_float64(a, name: str):
    """Raise a ``TypeError`` naming ``name`` unless ``a`` is float64."""
    if jnp.dtype(a.dtype) != jnp.float64:
        raise TypeError(f"`{name}` has dtype {a.dtype}; derivatives are computed in float64. "
                        f"Cast it with {name}.astype(numpy.float64) (and enable jax_enable_x64); for a Flax model "
                        "build it with param_dtype=jnp.float64.")


class Leaf(NamedTuple):
    """One parameter array: layer ``k``, name ``"W"``/``"b"``, shape, offset in θ."""

    k: int
    name: str
    shape: tuple[int, ...]
    start: int

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def stop(self) -> int:
        return self.start + self.size


@dataclass(frozen=True)
class Layout:
    """Where every parameter array of a chain network sits in the flat vector θ.

    Attributes:
        leaves: the :class:`Leaf` entries in flat order.
    """

    leaves: tuple[Leaf, ...]

    @property
    def P(self) -> int:
        """Number of parameters."""
        return self.leaves[-1].stop if self.leaves else 0

    @property
    def layers(self) -> tuple[int, ...]:
        """Layer indices ``k`` that have parameters, ascending."""
        return tuple(sorted({leaf.k for leaf in self.leaves}))

    def block(self, k: int) -> slice:
        """The slice of θ holding layer ``k``'s parameters (``W_k`` then ``b_k``)."""
        exact = isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))  # True, 1.0 read as layer 1
        mine = [leaf for leaf in self.leaves if leaf.k == k] if exact else []
        if not mine:
            raise ValueError(f"`block`={k!r} is not a layer with parameters; expected one of {self.layers}.")
        return slice(mine[0].start, mine[-1].stop)

    def blocks(self) -> tuple[tuple[int, slice], ...]:
        """``((k, slice), …)`` for every layer with parameters."""
        return tuple((k, self.block(k)) for k in self.layers)

    def unravel(self, theta) -> dict:
        """θ ``(P,)`` → ``{"layer_k": {"W": …, "b": …}}`` (works on tracers)."""
        out: dict = {}
        for leaf in self.leaves:
            out.setdefault(f"layer_{leaf.k}", {})[leaf.name] = theta[leaf.start:leaf.stop].reshape(leaf.shape)
        return out

    def ravel(self, params) -> jax.Array:
        """``params`` → θ ``(P,)`` float64, checking every shape against the layout."""
        parts = []
        for leaf in self.leaves:
            try:
                a = params[f"layer_{leaf.k}"][leaf.name]
            except (KeyError, TypeError):
                raise ValueError(f"`params` has no entry layer_{leaf.k}/{leaf.name}; expected the pytree of "
                                 "model.init for this architecture.") from None
            if not hasattr(a, "shape") or not hasattr(a, "dtype"):
                raise TypeError(f"`params` layer_{leaf.k}/{leaf.name} is a {type(a).__name__}, not an array; pass "
                                "float64 arrays (numpy or jax), as model.init makes them.")
            if tuple(a.shape) != leaf.shape:
                raise ValueError(f"`params` layer_{leaf.k}/{leaf.name} has shape {tuple(a.shape)}; expected "
                                 f"{leaf.shape}. Were the parameters made for another architecture?")
            require_float64(a, f"params['layer_{leaf.k}']['{leaf.name}']")  # one float32 leaf would be promoted
            parts.append(jnp.ravel(a))
        theta = jnp.concatenate(parts) if parts else jnp.zeros(0)
        require_float64(theta, "params")
        return theta


def layout(arch: Architecture) -> Layout:
    """The flat layout of ``model.init(arch, key)``'s parameters (no arrays are built)."""
    leaves, start = [], 0
    for info in arch.info:
        if not info.has_weights:
            continue
        shapes = [("W", (info.l, info.T))]
        bias = getattr(info.spec, "bias", "neuron")
        if info.kind in ("conv", "patch") and bias == "filter":
            shapes.append(("b", (info.T,)))
        elif bias != "none":
            shapes.append(("b", (info.n,)))
        for name, shape in shapes:
            leaves.append(Leaf(info.k, name, shape, start))
            start += int(np.prod(shape))
    return Layout(tuple(leaves))


_LAYER = re.compile(r"^layer_(\d+)$")


def flatten(params) -> tuple[jax.Array, Callable[[jax.Array], dict]]:
    """Flatten a chain network's parameter pytree into θ ``(P,)`` float64 and return the inverse map.

    Args:
        params: ``{"layer_k": {"W": ..., "b": ...}}`` as made by :func:`theory_lab.model.init`.

    Returns:
        ``(theta, unravel)`` with ``unravel(theta) == params`` (exactly, as arrays).
    """
    if not isinstance(params, dict) or not params:
        raise ValueError(f"`params` must be a non-empty dict {{'layer_k': {{'W', 'b'}}}}, got {type(params).__name__}.")
    leaves, start = [], 0
    for name in sorted(params, key=lambda s: int(_LAYER.match(s).group(1)) if _LAYER.match(s) else -1):
        m = _LAYER.match(name)
        if m is None:
            raise ValueError(f"`params` key {name!r} is not of the form 'layer_k'; pass model.init's pytree.")
        if not isinstance(params[name], dict) or not params[name]:
            raise TypeError(f"`params` entry {name!r} is a {type(params[name]).__name__}; expected a non-empty dict "
                            "{'W': array, 'b': array}, as model.init makes it.")
        for leaf_name in sorted(params[name]):
            shape = tuple(int(s) for s in np.shape(params[name][leaf_name]))
            leaves.append(Leaf(int(m.group(1)), leaf_name, shape, start))
            start += int(np.prod(shape))
    lay = Layout(tuple(leaves))
    return lay.ravel(params), lay.unravel


# ----------------------------------------------------------------------------- any pytree


def _key_name(key) -> str | None:
    if isinstance(key, jax.tree_util.DictKey):
        return str(key.key)
    if isinstance(key, jax.tree_util.SequenceKey):
        return str(key.idx)
    if isinstance(key, jax.tree_util.GetAttrKey):
        return None if key.name == "value" else key.name  # nnx.Variable's payload is not a name
    return str(getattr(key, "key", key))


def _path(keys) -> str:
    return "/".join(name for name in map(_key_name, keys) if name is not None)


@dataclass(frozen=True)
class TreeLayout:
    """Where every leaf of a parameter pytree sits in θ (JAX's tree-flatten order).

    Attributes:
        treedef: the pytree structure (hashable).
        paths: ``"a/b/c"`` path of each leaf.
        shapes: shape of each leaf.
    """

    treedef: Any
    paths: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(int(np.prod(s, dtype=np.int64)) for s in self.shapes)

    @property
    def P(self) -> int:
        return int(sum(self.sizes))

    def _starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.sizes, dtype=np.int64)])

    def block(self, name: str) -> slice:
        """The slice of θ holding the subtree at path ``name`` (e.g. ``"Conv_0"``)."""
        names = [name_ for name_, _ in self.blocks()]
        if not isinstance(name, str):
            raise ValueError(f"`block`={name!r} must be the path of a parameter subtree, e.g. one of {names}.")
        prefix = name.strip("/")
        idx = [i for i, p in enumerate(self.paths) if p == prefix or p.startswith(prefix + "/")]
        if not idx:
            raise ValueError(f"`block`={name!r} is not a subtree of the parameters; expected a path such as "
                             f"one of {names}.")
        if idx != list(range(idx[0], idx[-1] + 1)):
            raise ValueError(f"`block`={name!r}: its leaves are not contiguous in the flat vector; name a "
                             "subtree (a path prefix), not a pattern.")
        starts = self._starts()
        return slice(int(starts[idx[0]]), int(starts[idx[-1] + 1]))

    def blocks(self) -> tuple[tuple[str, slice], ...]:
        """``((name, slice), …)`` for each top-level subtree, in flat order."""
        out, starts = [], self._starts()
        for i, p in enumerate(self.paths):
            head = p.split("/")[0]
            if out and out[-1][0] == head:
                out[-1] = (head, slice(out[-1][1].start, int(starts[i + 1])))
            else:
                out.append((head, slice(int(starts[i]), int(starts[i + 1]))))
        return tuple(out)

    def unravel(self, theta):
        """θ ``(P,)`` → the parameter pytree (works on tracers)."""
        starts = self._starts()
        leaves = [theta[int(a):int(b)].reshape(s) for a, b, s in zip(starts[:-1], starts[1:], self.shapes)]
        return jax.tree_util.tree_unflatten(self.treedef, leaves)

    def ravel(self, params) -> jax.Array:
        """The parameter pytree → θ ``(P,)`` float64, checking structure, shapes and dtype."""
        flat, treedef = jax.tree_util.tree_flatten_with_path(params)
        if treedef != self.treedef:
            raise ValueError(f"`params` has structure {treedef}; expected {self.treedef}. Were the parameters "
                             "made for another model?")
        for (keys, a), shape in zip(flat, self.shapes):
            if tuple(np.shape(a)) != shape:
                raise ValueError(f"`params` leaf {_path(keys)} has shape {tuple(np.shape(a))}; expected {shape}.")
            require_float64(jnp.asarray(a), f"params[{_path(keys)!r}]")
        return jnp.concatenate([jnp.ravel(jnp.asarray(a)) for _, a in flat]) if flat else jnp.zeros(0)


def tree_layout(params) -> TreeLayout:
    """The :class:`TreeLayout` of a parameter pytree (shapes only; float64 leaves required).

    Args:
        params: any pytree of float64 arrays (non-empty).
    """
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)
    if not flat:
        raise ValueError("`params` has no array leaves; pass the trainable parameters (e.g. variables['params']).")
    for keys, a in flat:
        if not hasattr(a, "shape") or not hasattr(a, "dtype"):
            raise TypeError(f"`params` leaf {_path(keys)} is a {type(a).__name__}, not an array.")
        require_float64(a, f"params[{_path(keys)!r}]")
    return TreeLayout(treedef, tuple(_path(keys) for keys, _ in flat),
                      tuple(tuple(int(s) for s in np.shape(a)) for _, a in flat))
