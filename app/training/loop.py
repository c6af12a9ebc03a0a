"""The experiment lab's model and training loop: one LabConfig, the lab's data, one Outcome.

Every model trains by the same procedure (Adam, cross-entropy, minibatches reshuffled each
epoch), and a run is reproducible bit for bit: the init seed fixes the weights and dropout
masks, and the shuffling has its own generator. The caller pins torch's thread count.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from app.training.config import INPUT_SIZE, NUM_CLASSES, LabConfig
from app.training.dataset import LabData

# Shuffling draws from its own generator so that dropout's draws (global RNG) do not move it.
SHUFFLE_SEED_OFFSET = 100


@dataclass
class Epoch:
    epoch: int  # 1-based
    train_loss: float  # mean cross-entropy over the epoch's batches (train mode)
    running_accuracy: float  # train-mode accuracy averaged over the epoch's batches
    train_accuracy: float  # eval mode, whole train set, after this epoch
    val_loss: float  # eval mode
    val_accuracy: float  # eval mode
    seconds: float  # wall time of this epoch


@dataclass
class Outcome:
    epochs: list[Epoch]
    best_epoch: int  # the epoch whose weights are kept (the last one without early stopping)
    train_accuracy: float  # of the kept weights (eval mode)
    val_accuracy: float
    stopped_early: bool
    parameters: int


class LabModel(nn.Module):
    """Dropout on the word vectors, the recurrent layers, a readout, dropout, a linear head."""

    def __init__(self, config: LabConfig) -> None:
        super().__init__()
        directions = 2 if config.bidirectional else 1
        self.readout = config.readout
        self.bidirectional = config.bidirectional
        self.input_dropout = nn.Dropout(config.input_dropout)
        self.rnn = getattr(nn, config.cell)(
            INPUT_SIZE,
            config.hidden_size,
            config.num_layers,
            batch_first=True,
            bidirectional=config.bidirectional,
            dropout=config.layer_dropout,
        )
        self.readout_dropout = nn.Dropout(config.readout_dropout)
        self.head = nn.Linear(config.hidden_size * directions, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, state = self.rnn(self.input_dropout(x))
        logits: torch.Tensor = self.head(self.readout_dropout(self._read(out, state)))
        return logits

    def _read(
        self, out: torch.Tensor, state: torch.Tensor | tuple[torch.Tensor, ...]
    ) -> torch.Tensor:
        if self.readout == "last":
            return out[:, -1]
        if self.readout == "mean":
            return out.mean(dim=1)
        h_n = state[0] if isinstance(state, tuple) else state  # an LSTM also returns c_n
        if self.bidirectional:  # the last layer's forward and backward final states
            return torch.cat([h_n[-2], h_n[-1]], dim=1)
        return h_n[-1]


def build_model(config: LabConfig) -> nn.Module:
    """The lab's model for a config, initialised from the global RNG (seed it first)."""
    return LabModel(config)


def train(
    config: LabConfig,
    data: LabData,
    on_epoch: Callable[[Epoch], None] | None = None,
    make_model: Callable[[], nn.Module] | None = None,
) -> Outcome:
    """Train one model on the lab's data; `on_epoch` hears each epoch as it ends. The model is
    the config's, or what `make_model` builds (a learner's own module, in the sandbox); the
    config's procedure and seed apply either way."""
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(config.seed)
    model = make_model() if make_model else build_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    shuffle = torch.Generator().manual_seed(config.seed + SHUFFLE_SEED_OFFSET)

    epochs: list[Epoch] = []
    best: Epoch | None = None
    best_state: dict[str, torch.Tensor] | None = None
    for number in range(1, config.epochs + 1):
        start = time.perf_counter()
        loss, running = _train_epoch(model, optimizer, data, config.batch_size, shuffle)
        train_accuracy, _ = _evaluate(model, data.train_x, data.train_y)
        val_accuracy, val_loss = _evaluate(model, data.val_x, data.val_y)
        epoch = Epoch(
            epoch=number,
            train_loss=loss,
            running_accuracy=running,
            train_accuracy=train_accuracy,
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            seconds=time.perf_counter() - start,
        )
        epochs.append(epoch)
        if on_epoch is not None:
            on_epoch(epoch)
        if best is None or epoch.val_accuracy > best.val_accuracy:
            best = epoch
            if config.patience:  # only early stopping ever goes back to an earlier epoch
                best_state = copy.deepcopy(model.state_dict())
        elif config.patience and number - best.epoch >= config.patience:
            break

    last = epochs[-1]
    kept, train_accuracy, val_accuracy = last, last.train_accuracy, last.val_accuracy
    if best_state is not None and best is not None and best is not last:
        # Measured again on the restored weights, not copied from the epoch's record.
        model.load_state_dict(best_state)
        kept = best
        train_accuracy, _ = _evaluate(model, data.train_x, data.train_y)
        val_accuracy, _ = _evaluate(model, data.val_x, data.val_y)
    return Outcome(
        epochs=epochs,
        best_epoch=kept.epoch,
        train_accuracy=train_accuracy,
        val_accuracy=val_accuracy,
        stopped_early=last.epoch < config.epochs,
        parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
    )


def _train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: LabData,
    batch_size: int,
    shuffle: torch.Generator,
) -> tuple[float, float]:
    """One pass over the shuffled train set: (mean batch loss, mean batch accuracy)."""
    model.train()
    order = torch.randperm(len(data.train_y), generator=shuffle)
    losses, accuracies = [], []
    for batch in order.split(batch_size):  # type: ignore[no-untyped-call]  # torch leaves it untyped
        x, y = data.train_x[batch], data.train_y[batch]
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it untyped
        optimizer.step()
        # Kept as tensors: one stack at the end instead of a .item() per batch.
        losses.append(loss.detach())
        accuracies.append((logits.detach().argmax(dim=1) == y).float().mean())
    return torch.stack(losses).mean().item(), torch.stack(accuracies).mean().item()


@torch.no_grad()
def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) in eval mode, the whole set as one batch."""
    model.eval()
    logits = model(x)
    accuracy = (logits.argmax(dim=1) == y).float().mean().item()
    return accuracy, nn.functional.cross_entropy(logits, y).item()
