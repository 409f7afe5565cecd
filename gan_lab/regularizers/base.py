"""The Regularizer interface (see the package docstring) and the regularizer that adds nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, NamedTuple

from torch import Tensor, nn


class Option(NamedTuple):
    """A RunConfig field a regularizer reads. arg: the __init__ keyword it feeds; shown: how a
    run's name shows a value other than the default ("" = not shown; gan_lab.runs.run_name),
    right after the regularizer's label when near_label, else after its target."""

    arg: str
    shown: str = ""
    near_label: bool = False


def reg_params(net: nn.Module, reg_bias: bool) -> list[nn.Parameter]:
    """Weight matrices and conv kernels (dim >= 2); biases and other 1-D (or 0-d) parameters
    only when reg_bias."""
    return [p for p in net.parameters() if p.dim() >= 2 or reg_bias]


def _check_lam(lam: float) -> None:
    if lam < 0:
        raise ValueError(f"lambda must be >= 0 (the penalty is added, never subtracted); got {lam}")


class Regularizer:
    """Base class and the interface the Trainer uses. See the module docstring."""

    kind = "none"
    # The RunConfig fields this kind reads (field -> Option); a change of one of them builds new
    # regularizers (regularizers.rebuild_fields). Read by make_regularizer.
    options: ClassVar[dict[str, Option]] = {}
    takes_modules: ClassVar[bool] = False   # __init__ takes the nets the losses run through
    runs_loss: ClassVar[bool] = False       # backward() evaluates the loss itself (HSN1R)

    def __init__(self, params: Sequence[nn.Parameter]):
        self.params = list(params)
        self._value: Tensor | float = 0.0

    @property
    def value(self) -> float:
        """The last penalty value, lambda included (0.0 before the first step)."""
        if isinstance(self._value, Tensor):
            self._value = float(self._value)  # the one host sync, paid only when read
        return self._value

    @value.setter
    def value(self, v: Tensor | float) -> None:
        self._value = v.detach() if isinstance(v, Tensor) else float(v)

    @property
    def value_tensor(self) -> Tensor | float:
        """The same value without a host sync: a detached 0-d tensor on the weights' device when
        the last step computed one, else a float. For loggers that batch their syncs."""
        return self._value

    def penalty(self, loss: Tensor, lam: float, step: int) -> Tensor | None:
        """The term to ADD to the network's loss, or None when nothing is added this step."""
        _check_lam(lam)
        self.value = 0.0
        return None

    def backward(self, closure: Callable[[], Tensor], lam: float,
                 step: int) -> tuple[Tensor, Tensor]:
        """loss = closure(); accumulate the gradient of loss + penalty into the .grad of every
        tensor the loss depends on (exactly what (loss + pen).backward() does); return
        (loss, total) detached, total = loss + the penalty added, for logging and the finite check.

        `closure` must recompute the same loss on the same batch each time it is called (no
        fresh noise inside it): a method that differentiates by evaluating the loss at nearby
        weights (HSN1R's 'fd') calls it more than once. This default calls it once and goes
        through penalty(), so every regularizer that only overrides penalty() behaves as before.
        """
        loss = closure()
        pen = self.penalty(loss, lam, step)
        total = loss if pen is None else loss + pen
        total.backward()
        return loss.detach(), total.detach()

    def after_step(self, lam: float, lr: float) -> None:
        """Called after optimizer.step()."""

    def state_dict(self) -> dict:
        """What this regularizer keeps between steps, as references (gan_lab.state copies it):
        its kind and last value, and what a subclass adds (HSN1R: its vector "v")."""
        return {"kind": self.kind, "value": self.value_tensor}

    def load_state_dict(self, st: dict | None) -> None:
        """Take a state_dict(); None or another kind's: start fresh."""
        self.value = st["value"] if self.owns(st) else 0.0

    def owns(self, st: dict | None) -> bool:
        return st is not None and st["kind"] == self.kind

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} tensors)"


class NoReg(Regularizer):
    kind = "none"
