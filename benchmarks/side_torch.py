"""The PyTorch side: PyHessian 0.1, curvlinops 3.0.1 + scipy ``eigsh``, ``torch.autograd.functional.hessian``.

The same digits CNN as theory-lab's ``digits-cnn`` preset (conv 3×3×16, sigmoid, max-pool 2×2,
dense 32, sigmoid, linear 10; Φ = ½‖F_L − Y‖² summed), float64, weights copied from the
saved point (``layer_k/W``, ``layer_k/b`` in the ``.npz``). Serve with ``benchmarks/protocol.py``.
"""

import numpy as np
import scipy.sparse.linalg
import torch

torch.set_default_dtype(torch.float64)
STATE: dict = {}


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 16, 3)
        self.pool = torch.nn.MaxPool2d(2)
        self.fc = torch.nn.Linear(144, 32)
        self.out = torch.nn.Linear(32, 10)

    def forward(self, x):
        h = self.pool(torch.sigmoid(self.conv(x)))
        h = h.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # (H, W, C) row-major, as theory_lab flattens
        return self.out(torch.sigmoid(self.fc(h)))


class HalfSumOfSquares(torch.nn.MSELoss):
    """Φ = ½ Σ (out − target)²; an ``MSELoss(reduction="sum")`` so curvlinops can read its reduction."""

    def __init__(self):
        super().__init__(reduction="sum")

    def forward(self, out, target):
        return 0.5 * super().forward(out, target)


criterion = HalfSumOfSquares()


def setup(path: str) -> dict:
    z = np.load(path)
    net = Net()
    with torch.no_grad():
        net.conv.weight.copy_(torch.from_numpy(z["layer_1/W"].reshape(3, 3, 1, 16).transpose(3, 2, 0, 1).copy()))
        net.conv.bias.copy_(torch.from_numpy(z["layer_1/b"]))
        net.fc.weight.copy_(torch.from_numpy(z["layer_3/W"].T.copy()))
        net.fc.bias.copy_(torch.from_numpy(z["layer_3/b"]))
        net.out.weight.copy_(torch.from_numpy(z["layer_4/W"].T.copy()))
        net.out.bias.copy_(torch.from_numpy(z["layer_4/b"]))
    xt = torch.from_numpy(np.ascontiguousarray(z["X"].transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(np.ascontiguousarray(z["Y"]))
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    sizes = [p.numel() for p in net.parameters()]
    flat0 = torch.cat([p.detach().reshape(-1) for p in net.parameters()])

    def loss_of(flat):
        ps = {n: t.reshape(s) for n, t, s in zip(names, torch.split(flat, sizes), shapes)}
        return criterion(torch.func.functional_call(net, ps, (xt,)), yt)

    STATE.update(net=net, x=xt, y=yt, flat0=flat0, loss_of=loss_of)
    return {"loss": float(loss_of(flat0)), "torch": torch.__version__, "threads": torch.get_num_threads()}


def pyhessian_top5() -> dict:
    """PyHessian's defaults: power iteration with deflation, maxIter=100, tol=1e-3 (products counted)."""
    import importlib

    ph = importlib.import_module("pyhessian.hessian")
    count = {"n": 0}
    original = ph.hessian_vector_product

    def counted(*a, **k):
        count["n"] += 1
        return original(*a, **k)

    ph.hessian_vector_product = counted
    try:
        torch.manual_seed(0)
        comp = ph.hessian(STATE["net"], criterion, data=(STATE["x"], STATE["y"]), cuda=False)
        vals, _ = comp.eigenvalues(top_n=5)
    finally:
        ph.hessian_vector_product = original
    return {"values": sorted((float(v) for v in vals), reverse=True), "products": count["n"]}


def curvlinops_top5() -> dict:
    """curvlinops ``HessianLinearOperator`` (built in the call) + ``scipy.sparse.linalg.eigsh(k=5, which='LA')``."""
    from curvlinops import HessianLinearOperator

    net = STATE["net"]
    H = HessianLinearOperator(net, criterion, list(net.parameters()), [(STATE["x"], STATE["y"])],
                              check_deterministic=False).to_scipy()
    count = {"n": 0}

    def mv(v):
        count["n"] += 1 if v.ndim == 1 else v.shape[1]
        return H @ v

    op = scipy.sparse.linalg.LinearOperator(H.shape, matvec=mv, dtype=np.float64)
    v0 = np.random.default_rng(0).standard_normal(H.shape[0])
    vals = scipy.sparse.linalg.eigsh(op, k=5, which="LA", v0=v0, return_eigenvectors=False)
    return {"values": sorted((float(v) for v in vals), reverse=True), "products": count["n"]}


def hessian() -> dict:
    """``torch.autograd.functional.hessian`` with its defaults on the flat parameter vector."""
    H = torch.autograd.functional.hessian(STATE["loss_of"], STATE["flat0"]).numpy()
    return {"trace": float(np.trace(H)), "frobenius": float(np.linalg.norm(H)),
            "asymmetry": float(np.abs(H - H.T).max())}


def gradient() -> None:
    flat = STATE["flat0"].clone().requires_grad_(True)
    torch.autograd.grad(STATE["loss_of"](flat), flat)[0].numpy()
