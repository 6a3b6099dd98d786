"""How good is a representation for recognition: a linear probe and a k-nearest-neighbour vote.

Linear probe: multinomial logistic regression on frozen features z (n, k), labels c_i in
{0..C-1}, with an L2 penalty on the weights (not the bias), the objective of scikit-learn's
``LogisticRegression(C=...)``::

    min_{W, b}  C sum_i -log softmax(W z_i + b)_{c_i}  +  1/2 ||W||_F^2

solved to convergence by L-BFGS-B in float64 (the problem is strictly convex, so the solution
and the accuracy do not depend on the solver). Features are first centred and divided by one
number, so that their columns have unit variance on average over ``reference`` (the
unlabelled pretraining set, when the caller has one)::

    z <- (z - mean(reference)) / sqrt( mean_j Var(reference_j) )

One scale for all columns keeps the geometry of the representation (a per-column z-score
would blow up the near-constant border pixels of raw digits) and makes C mean the same
thing for every representation.

kNN: cosine similarity s_ij = z_i . z_j / (|z_i| |z_j|) of each test point to every labelled
point; among the k most similar, each class scores the sum of its similarities and the
highest score wins (Wu, Xiong, Yu and Lin 2018, arXiv:1805.01978, use the same vote with
exp(s / T) weights). With one label per class and k >= 1 this is the 1-nearest neighbour.

The linear evaluation protocol is that of Zhang, Isola and Efros 2016 ("Colorful Image
Colorization") and of every SSL paper since (e.g. Chen et al. 2020, SimCLR).

Example::

    accuracy = linear_probe(z_train, labels_train, z_test, labels_test)
    accuracy = knn_accuracy(z_train, labels_train, z_test, labels_test, k=5)
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import minimize
from torch import Tensor

from .. import _checks


def _labelled(z: Tensor, labels: Tensor, name: str) -> Tensor:
    _checks.tensor(z, name)
    if not isinstance(labels, Tensor) or labels.dtype.is_floating_point or labels.ndim != 1:
        raise TypeError(f"labels of {name} must be a 1-D integer tensor, got "
                        f"{getattr(labels, 'dtype', type(labels).__name__)}")
    if labels.shape[0] != z.shape[0]:
        raise ValueError(f"{name} has {z.shape[0]} rows but {labels.shape[0]} labels")
    return labels.to(z.device)


def standardise(z: Tensor, reference: Tensor) -> Tensor:
    """(z - mean(reference)) / sqrt(mean_j Var(reference_j)): unit column variance on average."""
    mean = reference.mean(0)
    scale = reference.var(0, correction=0).mean().sqrt()
    return (z - mean) / scale.clamp_min(torch.finfo(scale.dtype).tiny)


def _one_blas_thread():
    """Limit scipy's BLAS to one thread: on these tiny vectors its threads only spin, and on a
    busy machine they make each L-BFGS-B iteration ~10x slower (threadpoolctl, a scikit-learn
    dependency, when installed)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def fit_logistic(z: Tensor, labels: Tensor, n_classes: int, *, C: float = 1.0,
                 max_iter: int = 1000) -> tuple[Tensor, Tensor]:
    """The weights W (n_classes, k) and bias b (n_classes,) of the penalised logistic regression
    in the module docstring, in float64 on z's device.

    The objective and its gradient are computed with torch on z's device; scipy's L-BFGS-B
    drives the iterations (torch.optim.LBFGS pays a Python overhead per evaluation that is
    far larger than these small problems).
    """
    labels = _labelled(z, labels, "z")
    C = _checks.positive(C, "C")
    max_iter = _checks.integer(max_iter, "max_iter")
    z = z.detach().double()
    n, k = z.shape
    onehot = F.one_hot(labels, n_classes).double()

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = torch.from_numpy(theta).to(z.device).view(n_classes, k + 1)
        weight, bias = params[:, :k], params[:, k]
        logits = z @ weight.T + bias
        log_p = torch.log_softmax(logits, 1)
        # the objective divided by n, so that the tolerances do not depend on n
        value = (-C * (onehot * log_p).sum() + 0.5 * (weight * weight).sum()) / n
        residual = C * (log_p.exp() - onehot)                         # d value * n / d logits
        grad = torch.cat([residual.T @ z + weight, residual.sum(0)[:, None]], 1) / n
        return float(value), grad.reshape(-1).cpu().numpy()

    theta = np.zeros(n_classes * (k + 1))
    with _one_blas_thread():
        result = minimize(objective, theta, jac=True, method="L-BFGS-B",
                          options={"maxiter": max_iter, "gtol": 1e-7, "ftol": 1e-10})
    params = torch.from_numpy(result.x).to(z.device).view(n_classes, k + 1)
    return params[:, :k].contiguous(), params[:, k].contiguous()


def linear_probe(z_train: Tensor, labels_train: Tensor, z_test: Tensor, labels_test: Tensor,
                 *, reference: Tensor | None = None, C: float = 1.0) -> float:
    """Test accuracy of the logistic regression fitted on (z_train, labels_train).

    Args:
        z_train, labels_train: the labelled features (n, k) and their classes (n,).
        z_test, labels_test: the held-out features and classes.
        reference: features whose mean and std standardise every column (default z_train).
        C: inverse penalty, as in scikit-learn.
    """
    labels_train = _labelled(z_train, labels_train, "z_train")
    labels_test = _labelled(z_test, labels_test, "z_test")
    _checks.tensor(z_test, "z_test", dim=z_train.shape[1])
    reference = z_train if reference is None else _checks.tensor(reference, "reference",
                                                                   dim=z_train.shape[1])
    n_classes = int(torch.cat([labels_train, labels_test]).max()) + 1
    weight, bias = fit_logistic(standardise(z_train, reference), labels_train, n_classes, C=C)
    logits = standardise(z_test, reference).double() @ weight.T + bias
    return float((logits.argmax(1) == labels_test).double().mean())


def knn_accuracy(z_train: Tensor, labels_train: Tensor, z_test: Tensor, labels_test: Tensor,
                 *, k: int = 10) -> float:
    """Test accuracy of the similarity-weighted vote of the k most cosine-similar labelled rows."""
    labels_train = _labelled(z_train, labels_train, "z_train")
    labels_test = _labelled(z_test, labels_test, "z_test")
    _checks.tensor(z_test, "z_test", dim=z_train.shape[1])
    k = min(_checks.integer(k, "k"), z_train.shape[0])
    similarity = F.normalize(z_test.double(), dim=1) @ F.normalize(z_train.double(), dim=1).T
    top, index = similarity.topk(k, dim=1)
    n_classes = int(torch.cat([labels_train, labels_test]).max()) + 1
    votes = torch.zeros(z_test.shape[0], n_classes, dtype=top.dtype, device=top.device)
    votes.scatter_add_(1, labels_train[index], top)
    return float((votes.argmax(1) == labels_test).double().mean())
