"""Adam and SGD written so that a network's update does not depend on what it is stacked with.

A stack holds K networks' parameters in ``[K, ...]`` tensors, and one optimizer steps them all. Torch's own
optimizers compute the same update per element, but not always with the same arithmetic: their fused and
vectorised kernels handle the bulk of a tensor in vector registers and its tail one element at a time, and
compound operations (``lerp``, ``addcmul``, ``addcdiv``, ``add`` with ``alpha``) contract a multiply and an add
into one rounding in one path and two in the other. Which elements fall in the tail depends on the tensor's
length, so on K: a network's last bits moved with its stack mates.

Here every step is a chain of operations each rounded once by IEEE 754 in every code path (multiply, add,
subtract, divide and square root of two operands), so each element's update is the same function of its own
gradient and state whatever the tensor's length, layout, vector width or thread count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor


class Adam(torch.optim.Optimizer):
    """Adam (Kingma and Ba, 2015), with torch's defaults, bias correction and no weight decay.

    Per element, at step t with gradient g:
    ``m = beta1 m + (1 - beta1) g``, ``v = beta2 v + (1 - beta2) g g``,
    ``p = p - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``.

    Args:
        params: the parameters (tensors of any shape, e.g. ``[K, out, in]``).
        lr: learning rate.
        betas: decay rates of the first and second moment.
        eps: added to the denominator.
    """

    def __init__(
        self, params: Iterable[Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        """Takes one step on every parameter that has a gradient; returns ``closure()``'s loss, if one is given."""
        loss = _evaluate(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g, state = p.grad, self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
                m.mul_(beta1).add_(g * (1 - beta1))
                v.mul_(beta2).add_(g * g * (1 - beta2))
                denominator = v.sqrt().div_(math.sqrt(1 - beta2**t)).add_(group["eps"])
                p.sub_(m.div(denominator).mul_(group["lr"] / (1 - beta1**t)))
        return loss


class SGD(torch.optim.Optimizer):
    """Stochastic gradient descent with optional momentum (torch's form: no dampening, not Nesterov).

    Per element, with gradient g: ``b = g`` at the first step and ``b = momentum b + g`` after it;
    ``p = p - lr b`` (``b = g`` without momentum).

    Args:
        params: the parameters.
        lr: learning rate.
        momentum: the momentum factor, 0 for none.
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure=None):
        """Takes one step on every parameter that has a gradient; returns ``closure()``'s loss, if one is given."""
        loss = _evaluate(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                direction = p.grad
                if group["momentum"]:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = direction.clone()
                    else:
                        state["momentum_buffer"].mul_(group["momentum"]).add_(direction)
                    direction = state["momentum_buffer"]
                p.sub_(direction * group["lr"])
        return loss


def _evaluate(closure):
    """Runs torch's optimizer closure (which recomputes the loss and its gradients), if any; returns its loss."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()
