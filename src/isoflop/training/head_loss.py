"""The tied LM head and its cross-entropy, computed in vocabulary chunks, outside autograd's graph.

With a 50,257-token vocabulary the head is almost all of a small GPT-2's compute, and its
logits ([rows, V]) are the largest tensors of a step. Here they never exist whole: the
vocabulary is walked in chunks small enough for the CPU's caches, keeping a running
log-sum-exp per row, combined chunk by chunk. For training a second walk recomputes
each chunk's logits, turns them in place into softmax minus one-hot, and takes both
gradients (hidden states and head weight) from that buffer during the forward pass;
backward only scales them. The loss is the mean cross-entropy over the labels that are
not ``IGNORE_INDEX`` (the Trainer's causal-LM loss). On the CPU in fp32 the log-sum-exp and
softmax of each chunk run in a small C kernel (``training.kernels``), PyTorch's ops otherwise.

With ``bf16`` the three products (logits, and both gradients) multiply bf16 copies of the hidden states and
the head, as autocast gives the Trainer's ``lm_head``: logits come out rounded to bf16, the log-sum-exp,
softmax and loss are taken in fp32 on them (as transformers' loss upcasts them), and the gradients are
rounded to bf16 before their products; what is kept and returned is fp32.
"""

from __future__ import annotations

import torch

from . import kernels

IGNORE_INDEX = -100
# Logits per chunk: 2.6 MB of fp32 stays cache-resident (630 rows × 1,024 columns). On a 2-core EPYC
# the head GEMM ran 2.5x faster in such vocabulary chunks than in chunks of rows over the whole
# vocabulary; fewer rows get wider chunks, since per-chunk overhead dominates small GEMMs.
CHUNK_ELEMENTS = 630 * 1024
MIN_CHUNK_COLUMNS = 1024


class HeadCrossEntropy(torch.autograd.Function):
    """mean CE(hidden @ weightᵀ, labels); gradients for ``hidden`` and ``weight``."""

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, bf16: bool) -> torch.Tensor:
        keep = labels != IGNORE_INDEX
        count = keep.sum().clamp(min=1).to(hidden.dtype)
        low = _low_precision(hidden, weight) if bf16 else None
        log_normaliser, buffer = _log_normalisers(hidden, weight, low)
        target = labels.clamp(min=0)
        loss = ((log_normaliser - _picked(hidden, weight, target, low)) * keep).sum() / count
        scale = (keep.to(hidden.dtype) / count).unsqueeze(1)
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        grad_hidden = torch.zeros_like(hidden)
        grad_weight = torch.empty_like(weight)
        fused = _use_kernel(hidden)
        for start, chunk_weight, logits in _chunks(hidden, weight, buffer, low):
            # d(mean CE)/d logits = (softmax - one-hot) / count on kept rows, 0 on ignored ones.
            here = keep & (labels >= start) & (labels < start + chunk_weight.shape[0])
            if fused:
                kernels.softmax_scaled(logits, log_normaliser, scale[:, 0].contiguous())
                probabilities = logits
                probabilities[rows[here], labels[here] - start] -= scale[here, 0]
            else:
                probabilities = logits.sub_(log_normaliser.unsqueeze(1)).exp_()
                probabilities[rows[here], labels[here] - start] -= 1.0
                probabilities.mul_(scale)
            rows_of_chunk = grad_weight[start : start + chunk_weight.shape[0]]
            if low is None:
                grad_hidden.addmm_(probabilities, chunk_weight)
                torch.mm(probabilities.t(), hidden, out=rows_of_chunk)
            else:
                rounded, low_weight = probabilities.to(torch.bfloat16), low[1][start : start + chunk_weight.shape[0]]
                grad_hidden += torch.mm(rounded, low_weight)
                rows_of_chunk.copy_(torch.mm(rounded.t(), low[0]))
        if low is not None:  # the product's output, rounded to bf16 as one product over the whole vocabulary gives it
            grad_hidden = grad_hidden.to(torch.bfloat16).float()
        ctx.save_for_backward(grad_hidden, grad_weight)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        grad_hidden, grad_weight = ctx.saved_tensors
        if grad_output.item() == 1.0:
            # The loss is the graph's output: hand the gradients over as they are, not as fresh copies.
            return grad_hidden, grad_weight, None, None
        return grad_hidden * grad_output, grad_weight * grad_output, None, None


def head_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, bf16: bool = False) -> torch.Tensor:
    """Mean next-token cross-entropy of ``hidden @ weight.T`` against ``labels``, the logits never held whole."""
    return HeadCrossEntropy.apply(hidden, weight, labels, bf16)


@torch.no_grad()
def head_cross_entropy_eval(hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, bf16: bool = False) -> float:
    """The same loss without gradients, for evaluation."""
    keep = labels != IGNORE_INDEX
    low = _low_precision(hidden, weight) if bf16 else None
    log_normaliser, _ = _log_normalisers(hidden, weight, low)
    picked = _picked(hidden, weight, labels.clamp(min=0), low)
    return float(((log_normaliser - picked) * keep).sum()) / max(int(keep.sum()), 1)


def _low_precision(hidden: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """bf16 copies of the hidden states and the head, the operands of the bf16 products."""
    return hidden.to(torch.bfloat16), weight.to(torch.bfloat16)


def _picked(hidden: torch.Tensor, weight: torch.Tensor, target: torch.Tensor, low) -> torch.Tensor:
    """Each row's logit of its label (with ``low``: of the bf16 operands, rounded to bf16 as the logits are)."""
    if low is None:
        return (hidden * weight[target]).sum(dim=1)
    return (low[0].float() * low[1][target].float()).sum(dim=1).to(torch.bfloat16).float()


def _use_kernel(hidden: torch.Tensor) -> bool:
    return hidden.device.type == "cpu" and hidden.dtype == torch.float32 and kernels.load() is not None


def chunk_columns(rows: int, vocabulary: int) -> int:
    """Vocabulary columns per chunk of the head loss for ``rows`` rows (bounded memory)."""
    return min(vocabulary, max(MIN_CHUNK_COLUMNS, CHUNK_ELEMENTS // max(rows, 1)))


def _chunks(hidden: torch.Tensor, weight: torch.Tensor, buffer: torch.Tensor, low=None):
    """(first column, the chunk's head rows, its logits in a contiguous view of ``buffer``) per vocabulary chunk; with
    ``low`` (bf16 operands), the logits of the bf16 product."""
    rows = hidden.shape[0]
    columns = chunk_columns(rows, weight.shape[0])
    for start in range(0, weight.shape[0], columns):
        chunk_weight = weight[start : start + columns]
        logits = buffer[: rows * chunk_weight.shape[0]].view(rows, chunk_weight.shape[0])
        if low is None:
            torch.mm(hidden, chunk_weight.t(), out=logits)
        else:
            logits.copy_(torch.mm(low[0], low[1][start : start + columns].t()))
        yield start, chunk_weight, logits


def _log_normalisers(hidden: torch.Tensor, weight: torch.Tensor, low=None) -> tuple[torch.Tensor, torch.Tensor]:
    """log Σ exp(hidden @ weightᵀ) per row, combined chunk by chunk; and the chunk buffer, for reuse."""
    rows = hidden.shape[0]
    buffer = hidden.new_empty(rows * chunk_columns(rows, weight.shape[0]))
    if _use_kernel(hidden):
        run_max = hidden.new_full((rows,), float("-inf"))
        run_sum = torch.zeros(rows, dtype=torch.float64)
        for _, _, logits in _chunks(hidden, weight, buffer, low):
            kernels.lse_fold(logits, run_max, run_sum)
        return (run_max.double() + run_sum.log()).to(hidden.dtype), buffer
    total = None
    for _, _, logits in _chunks(hidden, weight, buffer, low):
        # torch's logsumexp does max, exp and sum in one vectorised pass over the cache-resident chunk.
        chunk = torch.logsumexp(logits, dim=1)
        total = chunk if total is None else torch.logaddexp(total, chunk)
    return total, buffer
