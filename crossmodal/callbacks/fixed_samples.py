"""The fixed (condition, target, noise) triples that evaluation and written samples use, and the
callback that writes samples of them during training (:class:`SampleWriting`)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

import torch

from crossmodal.callbacks.base import Callback, due
from crossmodal.training.batches import DeviceItems
from crossmodal.job.build import Job
from crossmodal.training.config import TrainConfig
from crossmodal.errors import ShapeError
from crossmodal.evaluation.sets import set_features
from crossmodal.job.generator import ConditionalGenerator
from crossmodal.contract.interfaces import Evaluator, add_totals, ratios
from crossmodal.callbacks.run_folder import RunFolder

if TYPE_CHECKING:  # pragma: no cover
    from crossmodal.training.trainer import Trainer


class FixedSamples:
    """Evaluation and written samples, both on ``max(eval_samples, write_samples)`` fixed pairs
    and noise drawn once from their own generator (seeded ``seed + 1``), so they never disturb
    training and every evaluation sees the same inputs.

    :param conditions: fetches conditions onto the generator's device.
    :param autocast: the context the generator runs in.
    """

    def __init__(
        self, job: Job, config: TrainConfig, generator: ConditionalGenerator, conditions: DeviceItems,
        autocast: Callable[[], AbstractContextManager],
    ) -> None:
        fixed = torch.Generator().manual_seed(config.seed + 1)
        count = max(config.eval_samples, config.write_samples)
        self.condition_indices, self.target_indices = job.pairing(
            len(job.conditions), len(job.targets), count, fixed
        )
        self.noise = generator.sample_noise(count, generator=fixed)  # (count, noise_dim)
        self.job, self.generator, self.conditions, self.autocast = job, generator, conditions, autocast
        self.batch_size = config.batch_size
        self.eval_samples, self.write_samples = config.eval_samples, config.write_samples
        self.real_metrics: dict[str, float] | None = None  # ``real/<metric>``, once evaluated
        self._reference_features: dict[str, dict[str, torch.Tensor]] = {}  # evaluator -> validation features

    @torch.no_grad()
    def generate(self, count: int) -> torch.Tensor:
        """The generator's samples ``(count, *sample_shape)`` for the first ``count`` pairs, in
        evaluation mode; float32 on the CPU."""
        was_training = self.generator.training
        self.generator.eval()
        chunks = []
        try:
            for start in range(0, count, self.batch_size):
                stop = min(start + self.batch_size, count)
                noise = self.noise[start:stop].to(self.conditions.device)
                with self.autocast():
                    samples = self.generator(self.conditions(self.condition_indices[start:stop]), noise)
                chunks.append(samples.float().cpu())
        finally:
            self.generator.train(was_training)
        return torch.cat(chunks)

    def metrics(self) -> dict[str, float]:
        """The evaluators' metrics on ``eval_samples`` generated samples (empty without evaluators);
        the first call also sets :attr:`real_metrics` from as many target samples. An evaluator with
        ``needs_conditions`` sees each generated sample with the condition it came from and each
        real sample with the condition it is paired with (the training pairing), fetched a batch
        at a time."""
        evaluators, count = self.job.evaluators, self.eval_samples
        if not evaluators:
            return {}
        conditions = self.condition_batches(count)
        generated = self.generate(count)
        metrics = {**metric_values(evaluators, generated, conditions, self.batch_size), **self.compared(generated)}
        if self.real_metrics is None:
            real = torch.cat([
                self.job.targets.batch(self.target_indices[start:min(start + self.batch_size, count)])
                for start in range(0, count, self.batch_size)
            ])
            self.real_metrics = {
                f"real/{name}": value
                for name, value in metric_values(evaluators, real, conditions, self.batch_size).items()
            }
        return metrics

    def compared(self, generated: torch.Tensor) -> dict[str, float]:
        """The set-comparing evaluators' metrics of ``generated`` against the job's validation set
        (empty without one); each evaluator's features of the validation set are computed once."""
        if self.job.validation is None:
            return {}
        values: dict[str, float] = {}
        for name, evaluator in self.job.evaluators.items():
            if not getattr(evaluator, "compares_sets", False):
                continue
            if name not in self._reference_features:
                self._reference_features[name] = set_features(self.job.validation, evaluator, self.batch_size)
            features = set_features(_Tensors(generated), evaluator, self.batch_size)
            values.update(flat_metrics(name, evaluator.compare(features, self._reference_features[name])))
        return values

    def condition_batches(self, count: int) -> Callable[[int, int], torch.Tensor]:
        """``fetch(start, stop)``: the conditions ``(stop - start, *condition_shape)`` of fixed pairs
        ``start`` to ``stop - 1`` (those the generated samples came from, and the real samples'
        partners), on the CPU; fetched only when an evaluator asks, a batch at a time."""
        indices = self.condition_indices[:count]
        return lambda start, stop: self.job.conditions.batch(indices[start:stop])

    def write(self, folder: RunFolder, step: int) -> list[Path]:
        """Write ``write_samples`` generated samples to ``folder``'s ``samples/step-XXXXXX/``
        (nothing without a writer); returns the files written."""
        writer, count = self.job.writer, self.write_samples
        if writer is None or count == 0:
            return []

        def condition_lines() -> list[str]:
            sources = self.job.conditions.sources()
            return [f"sample {k}: {sources[int(i)]}" for k, i in enumerate(self.condition_indices[:count])]

        return folder.write_samples(
            step, self.generate(count), lambda samples, path: writer.write(samples, path, "sample"), condition_lines
        )


class SampleWriting(Callback):
    """Writes the fixed pairs' samples (:meth:`FixedSamples.write`, through the trainer's
    ``write_samples``) every ``sample_every`` generator steps and at the last, once the losses
    are flushed (so a diverged run writes none)."""

    def on_step_end(self, trainer: Trainer, last: int) -> None:
        if due(trainer.config.sample_every, trainer.step, last):
            trainer.flush()
            trainer.write_samples()


def conditioned_values(
    evaluator: Evaluator, samples: torch.Tensor, conditions: Callable[[int, int], torch.Tensor], batch_size: int
) -> dict[str, torch.Tensor]:
    """The metrics of an evaluator with ``needs_conditions``: its totals summed over batches of
    ``batch_size`` samples, each with its conditions ``conditions(start, stop)``, divided once."""
    sums: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for start in range(0, samples.shape[0], batch_size):
        stop = min(start + batch_size, samples.shape[0])
        batch = samples[start:stop]
        add_totals(sums, evaluator.totals(batch, conditions(start, stop).to(batch.device)))  # type: ignore[call-arg]
    return ratios(sums)


def metric_values(
    evaluators: Mapping[str, Evaluator],
    samples: torch.Tensor,
    conditions: Callable[[int, int], torch.Tensor] | None = None,
    batch_size: int = 64,
) -> dict[str, float]:
    """Each evaluator's metrics on ``samples``: ``name/trackK`` for shape ``(n_tracks,)``, ``name`` for ``()``.

    :param samples: ``(N, *sample_shape)``.
    :param conditions: ``conditions(start, stop)`` gives the conditions of ``samples[start:stop]``;
        evaluators with ``needs_conditions`` get them ``batch_size`` at a time (see
        :func:`conditioned_values`) and are left out when it is ``None``. Set-comparing
        evaluators (``compares_sets``) are left out: :meth:`FixedSamples.compared` runs them.
    :raises ShapeError: when a metric has another shape.
    """
    values: dict[str, float] = {}
    for evaluator_name, evaluator in evaluators.items():
        if getattr(evaluator, "compares_sets", False):  # against a reference: FixedSamples.compared
            continue
        if getattr(evaluator, "needs_conditions", False):
            if conditions is None:
                continue
            metrics = conditioned_values(evaluator, samples, conditions, batch_size)
        else:
            metrics = evaluator(samples)
        values.update(flat_metrics(evaluator_name, metrics))
    return values


def flat_metrics(evaluator_name: str, metrics: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """An evaluator's metrics as floats: ``name/trackK`` for shape ``(n_tracks,)``, ``name`` for ``()``.

    :raises ShapeError: when a metric has another shape.
    """
    values: dict[str, float] = {}
    for name, value in metrics.items():
        value = torch.as_tensor(value).detach().double().cpu()
        if value.dim() == 0:
            values[name] = value.item()
        elif value.dim() == 1:
            values.update({f"{name}/track{k}": v for k, v in enumerate(value.tolist())})
        else:
            raise ShapeError(
                f"evaluator {evaluator_name!r}: metric {name!r} has shape {tuple(value.shape)}; "
                "expected () or (n_tracks,)"
            )
    return values


class _Tensors:
    """Samples already in memory ``(N, ...)``, read in batches like a sample set."""

    def __init__(self, samples: torch.Tensor) -> None:
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        return self.samples[indices]
