"""Errors a user can cause end a litlab command in a few lines, not a traceback.

``main()`` of ``litlab`` runs every command through :func:`short_errors`: an exception of a
type in :data:`USER_ERRORS` (missing data, an unusable checkpoint or registry entry, a
Trainer setting this machine cannot honour) is printed as ``litlab: <message>`` and the
command exits with status 2. The full traceback is shown with ``--debug`` or
``LITLAB_DEBUG=1``. Any other exception is a bug in litlab and keeps its traceback, unless
it only wraps a user error (jsonargparse re-raises what a model's or DataModule's
``__init__`` raised as its own ``ValueError``): then the user error is what is shown.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

DEBUG_FLAG = "--debug"


class ConfigError(ValueError):
    """A configuration value that cannot work (``lr`` below zero, ``batch_size`` 0, a model
    whose ``num_classes`` differs from its data's), named with the value and what to do."""


def check_positive(owner: str, **values: float | int | None) -> None:
    """Raise :class:`ConfigError` for the first of ``values`` that is not > 0 (None is
    skipped): ``check_positive("--model.init_args", lr=lr)``."""
    for name, value in values.items():
        if value is not None and not value > 0:
            raise ConfigError(f"{owner}.{name} must be greater than 0, got {value}")


class CommandParser(argparse.ArgumentParser):
    """argparse for litlab's own commands (explain, generate, serve, ...): a bad option ends
    in two lines, the error and where the options are, not the whole usage text."""

    def error(self, message: str):  # type: ignore[override]  # argparse's own signature
        sys.stderr.write(f"{self.prog}: error: {message}\n(the options: {self.prog} --help)\n")
        raise SystemExit(2)


def user_errors() -> tuple[type[BaseException], ...]:
    """The exception types that mean "the input was wrong", not "litlab is wrong".

    Imported here, when an error is being looked at, so that importing this module (which
    every command does) costs nothing; Lightning's own is included only when Lightning has
    been imported (a command that never imports it cannot raise it)."""
    from litlab.common.checkpoints import CheckpointError
    from litlab.common.data import CorruptDataError, MissingDataError
    from litlab.common.registry import RegistryError

    types: tuple[type[BaseException], ...] = (
        MissingDataError, CorruptDataError, CheckpointError, RegistryError, ConfigError,
    )  # fmt: skip
    lightning = sys.modules.get("lightning.fabric.utilities.exceptions")
    if lightning is not None:
        types += (lightning.MisconfigurationException,)
    return types


def debugging(argv: list[str]) -> bool:
    """Whether ``--debug`` is in ``argv`` (it is removed) or ``$LITLAB_DEBUG`` is set."""
    flag = DEBUG_FLAG in argv
    while DEBUG_FLAG in argv:
        argv.remove(DEBUG_FLAG)
    return flag or os.environ.get("LITLAB_DEBUG", "") not in ("", "0")


def find_user_error(err: BaseException) -> BaseException | None:
    """``err`` if it is a user error, else the first user error it was raised ``from``.

    Only explicit causes count (``raise X from err``): an exception raised while handling
    another one (``__context__``) is a new problem, and may well be a bug.
    """
    types, seen = user_errors(), set()
    while err is not None and id(err) not in seen:
        if isinstance(err, types):
            return err
        seen.add(id(err))
        err = err.__cause__
    return None


@contextmanager
def short_errors(debug: bool, write: Callable[[str], object] | None = None) -> Iterator[None]:
    """Turn a user error raised inside the block into ``litlab: ...`` and exit status 2."""
    try:
        yield
    except Exception as err:
        user = find_user_error(err)
        if user is None or debug:
            raise
        write = write or (lambda text: print(text, file=sys.stderr))
        write(f"litlab: {user}\n(for the full traceback: add --debug or set LITLAB_DEBUG=1)")
        raise SystemExit(2) from None
