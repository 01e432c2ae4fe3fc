"""How fast the GPT trains and generates: a benchmark, not a test.

    python benchmarks/gpt_speed.py train     # experiments/transformer/shakespeare_char_gpt_cpu
    python benchmarks/gpt_speed.py generate  # experiments/transformer/shakespeare_char_gpt
    (either with --config <yaml> for another experiment, --device cuda on a GPU)

``train``: training tokens per second of the experiment's model, optimizer and batches, two
ways: through Lightning (the Trainer ``litlab fit`` uses, TensorBoard logging included,
validation off) and through a plain PyTorch loop doing the same work (nanoGPT's train.py in
miniature: forward, backward, clip, AdamW step, schedule). The first ``--warmup`` steps are
not timed. Compare with nanoGPT's own figure on the same machine (its CPU recipe: about 13,000
tokens/s on our 2-core CPU, 55-60 ms per iteration of 12 x 64 tokens).

``generate``: seconds to sample ``--tokens`` new tokens after a one-token prompt, same seed,
before and after issue 17 side by side: "before" is the loop ``GPT.generate`` ran until then
(a key/value cache grown by concatenation, ``torch.multinomial``), "after" is
``GPT.generate`` now (a static cache; on CUDA each step replayed as a CUDA graph), also as
``litlab generate`` streams it (tokens read on the host in batches), and on CUDA without
graphs; then both without the cache (re-reading up to a block of context per token), and
whether their greedy tokens are identical. Speed does not depend on the weights, so the
model is freshly initialised unless ``--ckpt``.

Run it on a quiet machine: another job on the same cores changes the numbers.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import lightning as L
import torch
import yaml

from litlab.common.optim import decay_groups, warmup_cosine
from litlab.common.sampling import filter_logits, on_host
from litlab.sequence.lm.data import ShakespeareDataModule
from litlab.transformer.attention import KVCache
from litlab.transformer.models import GPT, GPTConfig
from litlab.transformer.module import GPTLanguageModel


def build(config: Path, root: str | None) -> tuple[GPT, ShakespeareDataModule, dict]:
    """The experiment's GPT (fresh weights), its DataModule and the model's init args."""
    cfg = yaml.safe_load(config.read_text())
    model_args = dict(cfg["model"]["init_args"])
    net = GPT(GPTConfig(**model_args.pop("net")["init_args"]["config"]))
    data_args = dict(cfg["data"]["init_args"], root=root)
    return net, ShakespeareDataModule(**data_args), model_args


class StepTimer(L.Callback):
    """Wall time from the start of step ``warmup`` to the end of the last step."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.start, self.end = warmup, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.warmup:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.end = time.perf_counter()


def lightning_loop(args) -> float:
    """Seconds per timed step through the Trainer."""
    torch.manual_seed(0)
    net, dm, model_args = build(args.config, args.root)
    timer = StepTimer(args.warmup)
    trainer = L.Trainer(
        max_steps=args.warmup + args.steps,
        limit_val_batches=0,
        gradient_clip_val=1.0,
        callbacks=[timer],
        logger=L.pytorch.loggers.TensorBoardLogger("/tmp/gpt_speed_logs"),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator=args.device,
        precision=args.precision,
    )
    model_args["compile"] = args.compile
    trainer.fit(GPTLanguageModel(net, **model_args), datamodule=dm)
    return (timer.end - timer.start) / args.steps


def plain_loop(args) -> float:
    """Seconds per timed step of the same work in plain PyTorch (fp32)."""
    torch.manual_seed(0)
    net, dm, model_args = build(args.config, args.root)
    device = torch.device(args.device if args.device != "auto" else "cpu")
    net.to(device).train()
    opt = torch.optim.AdamW(
        decay_groups(net, model_args.get("weight_decay", 0.1)),
        lr=model_args.get("lr", 1e-3),
        betas=tuple(model_args.get("betas", (0.9, 0.99))),
    )
    total = args.warmup + args.steps
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, 100, total, 0.1))
    batches = iter(dm.train_dataloader())
    for step in range(total):
        if step == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iter(dm.train_dataloader())
            x, y = next(batches)
        x, y = x.to(device), y.to(device)
        logits = net(x)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / args.steps


def train(args) -> None:
    _, dm, _ = build(args.config, args.root)
    tokens = dm.hparams.batch_size * dm.hparams.block_size
    print(f"# training speed: {args.config.name}, {tokens} tokens per step, {args.steps} steps")
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {args.device}")  # fmt: skip
    loops = [("plain PyTorch", plain_loop)] if args.precision == "32-true" else []
    loops.append(("Lightning" + (" compiled" if args.compile else ""), lightning_loop))
    # the loops take turns, so a neighbour's burst on a shared machine hits both alike
    results: dict[str, list[float]] = {name: [] for name, _ in loops}
    for _ in range(args.repeats):
        for name, loop in loops:
            results[name].append(loop(args))
    for name, secs in results.items():
        runs = " ".join(f"{1000 * s:.1f}" for s in secs)
        sec = statistics.median(secs)
        print(f"{name:18s} {1000 * sec:7.1f} ms/step {tokens / sec:10,.0f} tokens/s"
              f"  (median of {len(secs)}: {runs} ms)")  # fmt: skip


@torch.no_grad()
def generate_before(
    net: GPT,
    ids: torch.Tensor,
    n: int,
    temperature: float,
    top_k: int | None,
    generator: torch.Generator | None,
    use_cache: bool = True,
) -> torch.Tensor:
    """``GPT.generate`` as it was before issue 17, kept to compare with: a KVCache grown by
    concatenation every token, the window re-read when full, ``torch.multinomial``."""
    context, caches, new = ids, None, []
    for _ in range(n):
        if not use_cache:
            logits = net(context[:, -net.block_size :])
        elif caches is None or caches[0].length >= net.block_size:
            keep = net.block_size if caches is None else net.block_size // 2
            caches = [KVCache() for _ in net.blocks]
            logits = net(context[:, -keep:], caches)
        else:
            logits = net(context[:, -1:], caches)
        last = logits[:, -1].float()
        if temperature == 0:
            nxt = last.argmax(dim=-1)
        else:
            last = filter_logits((last - last.max(-1, keepdim=True).values) / temperature, top_k)
            nxt = torch.multinomial(last.softmax(-1), 1, generator=generator).squeeze(-1)
        new.append(nxt)
        context = torch.cat([context, nxt[:, None]], dim=1)
    return torch.cat([ids, torch.stack(new, dim=1)], dim=1)


def _timed(device: torch.device, fn) -> tuple[float, torch.Tensor]:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


@torch.no_grad()
def generate(args) -> None:
    """Before (the loop of gpt_speed.py until issue 17) and after (``GPT.generate`` now), in
    turns, same seed; then the greedy tokens of both, compared one by one."""
    torch.manual_seed(0)
    net, _, _ = build(args.config, args.root)
    if args.ckpt:
        state = torch.load(args.ckpt, map_location="cpu", weights_only=True)["state_dict"]
        net.load_state_dict({k.removeprefix("net."): v for k, v in state.items() if "net." in k})
    device = torch.device(args.device if args.device != "auto" else "cpu")
    net.to(device).eval()
    prompt = torch.zeros(1, 1, dtype=torch.long, device=device)
    n = args.tokens
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
    print(f"# generation: {n} new tokens after a 1-token prompt (temperature 1, top-k 40), "
          f"block {net.block_size}, {net.num_params() / 1e6:.2f} M parameters, device {device} "
          f"({name}), torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"median of {args.repeats}")  # fmt: skip

    def seeded() -> torch.Generator:
        return torch.Generator(device=device).manual_seed(0)

    ways = {  # name -> one sampling run
        "before, KV cache": lambda: generate_before(net, prompt, n, 1.0, 40, seeded()),
        "after, KV cache": lambda: net.generate(prompt, n, 1.0, 40, generator=seeded()),
        "after, streamed": lambda: torch.tensor(
            [int(t[0]) for t in on_host(net.generate_iter(prompt, n, 1.0, 40, generator=seeded()))]
        ),  # as litlab generate reads it: every token on the host, in batches on a GPU
    }
    if device.type == "cuda":
        ways["after, no graphs"] = lambda: net.generate(
            prompt, n, 1.0, 40, generator=seeded(), graphs=False
        )
    for run in ways.values():  # warm-up: kernels, cuBLAS, allocator
        _timed(device, lambda run=run: run() if n <= 64 else None)
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.repeats):  # in turns, so a neighbour's burst hits all alike
        for name, run in ways.items():
            times[name].append(_timed(device, run)[0])
    if not args.skip_no_cache:
        times["before, no cache"] = [_timed(device, lambda: generate_before(
            net, prompt, n, 1.0, 40, seeded(), use_cache=False))[0]]  # fmt: skip
        times["after, no cache"] = [_timed(device, lambda: net.generate(
            prompt, n, 1.0, 40, generator=seeded(), use_cache=False))[0]]  # fmt: skip
    for name, secs in times.items():
        sec = statistics.median(secs)
        runs = " ".join(f"{s:.2f}" for s in secs)
        print(f"{name:18s} {sec:7.2f} s {n / sec:8.0f} tokens/s   ({runs} s)")
    before = statistics.median(times["before, KV cache"])
    after = statistics.median(times["after, KV cache"])
    print(f"after / before     {before / after:7.2f}x tokens/s (KV cache)")  # fmt: skip
    greedy_before = generate_before(net, prompt, n, 0.0, None, None)
    greedy_after = net.generate(prompt, n, temperature=0.0)
    same = int((greedy_before == greedy_after).all(dim=0).long().cumprod(0).sum()) - 1
    verdict = "identical" if same == n else f"identical for the first {same} of {n} tokens only"
    print(f"greedy tokens, before vs after: {verdict}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["train", "generate"])
    p.add_argument("--config", type=Path, default=None)
    p.add_argument("--root", default=None, help="data root (default $DATA_DIR, else ./data)")
    p.add_argument("--steps", type=int, default=100, help="timed training steps")
    p.add_argument("--warmup", type=int, default=10, help="untimed first steps")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each loop (median)")
    p.add_argument("--tokens", type=int, default=500, help="new tokens to generate")
    p.add_argument("--skip-no-cache", action="store_true", help="generate: only the cached ways")
    p.add_argument("--ckpt", default=None, help="weights for generate (optional)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--precision", default="32-true", help="Trainer precision for train")
    p.add_argument("--compile", action="store_true", help="torch.compile in the Lightning loop")
    args = p.parse_args()
    experiments = Path(__file__).resolve().parents[1] / "experiments" / "transformer"
    default = "shakespeare_char_gpt_cpu" if args.what == "train" else "shakespeare_char_gpt"
    args.config = args.config or experiments / f"{default}.yaml"
    train(args) if args.what == "train" else generate(args)


if __name__ == "__main__":
    main()
