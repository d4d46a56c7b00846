"""The PyTorch side of ``bench_resnet.py``: the ResNet twin in torch 2.13 + PyHessian 0.1, float64, CPU.

The twin of :class:`theory_lab.resnet.ResNet` (NCHW; padding 1 = the flax network's explicit
padding; batch norm in inference mode) with the *same float64 parameters* and running
statistics, read from the ``.npz`` that ``side_resnet.setup`` writes. Loss: PyHessian's
``nn.CrossEntropyLoss()`` (mean). Serve with ``benchmarks/protocol.py`` (no JAX imported here).
"""

import importlib
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import protocol  # noqa: E402  (standard library only)
import torch  # noqa: E402

torch.set_default_dtype(torch.float64)
STATE: dict = {}


def _net(widths, batch_norm):
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=not batch_norm)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=not batch_norm)
            self.bn1 = nn.BatchNorm2d(cout, eps=1e-5) if batch_norm else nn.Identity()
            self.bn2 = nn.BatchNorm2d(cout, eps=1e-5) if batch_norm else nn.Identity()
            self.proj = nn.Conv2d(cin, cout, 1, stride, 0, bias=False) if (cin != cout or stride != 1) else None

        def forward(self, x):
            h = torch.relu(self.bn1(self.conv1(x)))
            h = self.bn2(self.conv2(h))
            return torch.relu((x if self.proj is None else self.proj(x)) + h)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(1, widths[0], 3, 1, 1)
            blocks, cin = [], widths[0]
            for w in widths:
                blocks.append(Block(cin, w, 2 if w > cin else 1))
                cin = w
            self.blocks = nn.ModuleList(blocks)
            self.fc = nn.Linear(cin, 10)

        def forward(self, x):
            h = torch.relu(self.stem(x))
            for b in self.blocks:
                h = b(h)
            return self.fc(h.mean(dim=(2, 3)))

    return Net().eval()


def setup(npz: str, widths: tuple, batch_norm: bool) -> dict:
    z = np.load(npz)
    net = _net(tuple(widths), batch_norm)

    def t(key, transpose=None):
        a = z[key]
        return torch.from_numpy(np.ascontiguousarray(a.transpose(transpose) if transpose else a))

    with torch.no_grad():
        net.stem.weight.copy_(t("params/Conv_0/kernel", (3, 2, 0, 1)))
        net.stem.bias.copy_(t("params/Conv_0/bias"))
        for i, b in enumerate(net.blocks):
            p, st = f"params/ResidualBlock_{i}", f"batch_stats/ResidualBlock_{i}"
            for module, name in ((b.conv1, "Conv_0"), (b.conv2, "Conv_1"), (b.proj, "Conv_2")):
                if module is not None:
                    module.weight.copy_(t(f"{p}/{name}/kernel", (3, 2, 0, 1)))
                    if module.bias is not None:
                        module.bias.copy_(t(f"{p}/{name}/bias"))
            if batch_norm:
                for module, name in ((b.bn1, "BatchNorm_0"), (b.bn2, "BatchNorm_1")):
                    module.weight.copy_(t(f"{p}/{name}/scale"))
                    module.bias.copy_(t(f"{p}/{name}/bias"))
                    module.running_mean.copy_(t(f"{st}/{name}/mean"))
                    module.running_var.copy_(t(f"{st}/{name}/var"))
        net.fc.weight.copy_(t("params/Dense_0/kernel", (1, 0)))
        net.fc.bias.copy_(t("params/Dense_0/bias"))
    xt = torch.from_numpy(np.ascontiguousarray(z["X"].transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(z["labels"].astype(np.int64))
    STATE.clear()
    STATE.update(net=net, xt=xt, yt=yt, criterion=torch.nn.CrossEntropyLoss(), params=list(net.parameters()))
    return {"names": [n for n, _ in net.named_parameters()], "P": sum(q.numel() for q in net.parameters()),
            "torch": torch.__version__, "threads": torch.get_num_threads()}


def _hvp(v):
    s = STATE
    loss = s["criterion"](s["net"](s["xt"]), s["yt"])
    grads = torch.autograd.grad(loss, s["params"], create_graph=True)
    vs, i = [], 0
    for q in s["params"]:
        vs.append(v[i:i + q.numel()].reshape(q.shape))
        i += q.numel()
    return torch.cat([h.reshape(-1) for h in torch.autograd.grad(grads, s["params"], vs)])


def twin_probe(v: np.ndarray) -> dict:
    s = STATE
    with torch.no_grad():
        out = s["net"](s["xt"]).numpy()
    loss = s["criterion"](s["net"](s["xt"]), s["yt"])
    g = torch.cat([q.reshape(-1) for q in torch.autograd.grad(loss, s["params"])])
    STATE["v"] = torch.from_numpy(np.ascontiguousarray(v))
    return {"outputs": out, "loss": float(loss.detach()), "gradient": g.numpy(),
            "Hv": _hvp(STATE["v"]).detach().numpy()}


def hvp() -> float:
    return float(torch.linalg.norm(_hvp(STATE["v"]).detach()))


def hvp_memory() -> dict:
    hvp()  # warm
    return protocol.peak_rss_growth(hvp)


def _pyhessian(seed, progress=False):
    ph = importlib.import_module("pyhessian.hessian")  # the module; the package re-exports the class
    counter = {"n": 0}
    original = ph.hessian_vector_product

    def counted(*a, **k):
        counter["n"] += 1
        if progress:
            print(f"[pyhessian {time.strftime('%H:%M:%S')}] product {counter['n']}", flush=True)
        return original(*a, **k)

    ph.hessian_vector_product = counted
    torch.manual_seed(seed)
    s = STATE
    return ph, ph.hessian(s["net"], s["criterion"], data=(s["xt"], s["yt"]), cuda=False), counter, original


def pyhessian_top5(seed: int = 0, progress: bool = False) -> dict:
    """PyHessian's default ``eigenvalues(top_n=5)`` (maxIter=100, tol=1e-3), products counted (and printed
    to stderr as they come with ``progress``)."""
    ph, comp, counter, original = _pyhessian(seed, progress)
    try:
        values, _ = comp.eigenvalues(top_n=5)
    finally:
        ph.hessian_vector_product = original
    return {"values": [float(x) for x in values], "products": counter["n"]}


def pyhessian_trace(seed: int = 0) -> dict:
    """PyHessian's default ``trace()`` (Hutchinson, maxIter=100, tol=1e-3)."""
    ph, comp, counter, original = _pyhessian(seed)
    try:
        samples = comp.trace()
    finally:
        ph.hessian_vector_product = original
    samples = np.asarray(samples, np.float64)
    return {"estimate": float(samples.mean()), "stderr": float(samples.std(ddof=1) / np.sqrt(len(samples)))
            if len(samples) > 1 else float("nan"), "products": counter["n"]}


def pyhessian_density(steps: int, probes: int, seed: int = 0) -> dict:
    """PyHessian's ``density(iter, n_v)`` nodes and weights (``torch.eig``, removed from torch, shimmed with
    ``torch.linalg.eigh`` of the symmetric Lanczos tridiagonal, returning the old ``(values, 0)`` pairs)."""
    def eig(T, eigenvectors=True):
        w, V = torch.linalg.eigh(T)
        return torch.stack([w, torch.zeros_like(w)], dim=1), V

    torch.eig = eig
    ph, comp, counter, original = _pyhessian(seed)
    try:
        nodes, weights = comp.density(iter=steps, n_v=probes)
    finally:
        ph.hessian_vector_product = original
    return {"nodes": np.asarray(nodes, np.float64), "weights": np.asarray(weights, np.float64),
            "products": counter["n"]}
