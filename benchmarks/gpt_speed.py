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

``generate``: seconds to sample ``--tokens`` new tokens after a one-token prompt, with the
key/value cache and without it (re-reading up to a block of context per token), same seed.
Speed does not depend on the weights, so the model is freshly initialised unless ``--ckpt``.

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
from litlab.sequence.lm.data import ShakespeareDataModule
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
def generate(args) -> None:
    torch.manual_seed(0)
    net, _, _ = build(args.config, args.root)
    if args.ckpt:
        state = torch.load(args.ckpt, map_location="cpu", weights_only=True)["state_dict"]
        net.load_state_dict({k.removeprefix("net."): v for k, v in state.items() if "net." in k})
    device = torch.device(args.device if args.device != "auto" else "cpu")
    net.to(device).eval()
    prompt = torch.zeros(1, 1, dtype=torch.long, device=device)
    print(f"# generation: {args.tokens} new tokens, block {net.block_size}, "
          f"{net.num_params() / 1e6:.2f} M parameters, device {device}")  # fmt: skip
    times = {}
    for use_cache in (True, False):
        net.generate(prompt, 8, top_k=40, use_cache=use_cache)  # warm up
        if device.type == "cuda":
            torch.cuda.synchronize()
        g = torch.Generator(device=device).manual_seed(0)
        start = time.perf_counter()
        net.generate(prompt, args.tokens, 1.0, 40, generator=g, use_cache=use_cache)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times[use_cache] = time.perf_counter() - start
        label = "with KV cache" if use_cache else "without cache"
        rate = args.tokens / times[use_cache]
        print(f"{label:14s} {times[use_cache]:7.2f} s {rate:8.0f} tokens/s")
    print(f"speed-up       {times[False] / times[True]:7.1f}x")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["train", "generate"])
    p.add_argument("--config", type=Path, default=None)
    p.add_argument("--root", default=None, help="data root (default $DATA_DIR, else ./data)")
    p.add_argument("--steps", type=int, default=100, help="timed training steps")
    p.add_argument("--warmup", type=int, default=10, help="untimed first steps")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each loop (median)")
    p.add_argument("--tokens", type=int, default=500, help="new tokens to generate")
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
