"""``ReasonerTrainer``: TRL's ``GRPOTrainer`` plus only what it lacks.

TRL does the rollouts, advantages, loss, optimiser and distribution. This subclass adds:

* a record of each generation batch's per-completion token counts and truncation flags (TRL keeps the texts
  and rewards in ``_logs`` but not the lengths), read by the behaviour callback.
"""

from __future__ import annotations

import torch
from trl import GRPOTrainer


class ReasonerTrainer(GRPOTrainer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.last_completion_lengths: list[int] = []
        """Token count of each completion of the last generation batch, gathered across processes."""
        self.last_truncated: list[bool] = []
        """Whether each completion of the last generation batch hit ``max_completion_length`` without EOS."""

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        mask = output["completion_mask"]
        ids = output["completion_ids"]
        eos = torch.tensor(self.eos_token_ids, device=ids.device)
        lengths = mask.sum(dim=1)
        truncated = ~(torch.isin(ids, eos) & mask.bool()).any(dim=1)
        gathered = self.accelerator.gather(torch.stack([lengths, truncated.long()], dim=1))
        self.last_completion_lengths = gathered[:, 0].tolist()
        self.last_truncated = gathered[:, 1].bool().tolist()
        return output
