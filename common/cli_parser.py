"""The ``litlab fit|validate|test|predict`` parser, with errors a person can read.

jsonargparse answers a bad command line or config file with the whole usage text (60-70
lines) and the nested errors of every Union member it tried. :class:`LitlabArgumentParser`
raises :class:`UsageError` instead, a :class:`~litlab.common.errors.ConfigError`, so
``litlab``'s ``short_errors`` prints it in a few lines with exit status 2 (``--debug``
shows the traceback, jsonargparse's full message included). It names what was wrong:

- a YAML syntax error: the file, the line and column, and what the YAML parser expected;
- an unknown class path: the path, why it does not resolve, and the classes that would;
- any other value: the option, the value given and what was expected.

Internal parses that jsonargparse makes with ``exit_on_error=False`` (trying each member of
a Union) keep its own behaviour: they must raise its ``ArgumentError``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import re
from typing import Any, NoReturn

import lightning as L
import yaml
from lightning.pytorch.cli import LightningArgumentParser

from litlab.common.errors import ConfigError

CLASS_PROBLEM = re.compile(r"Problem with given class_path '([^']+)':\n((?:\s{6,}.*\n?)+)")
KEY = re.compile(r'^Parser key "([^"]+)"')
BASES = {"model": L.LightningModule, "data": L.LightningDataModule}


class UsageError(ConfigError):
    """A command line or config file the parser refused, in a few lines."""


def _chain(err: BaseException | None) -> list[BaseException]:
    out: list[BaseException] = []
    while err is not None and err not in out:
        out.append(err)
        err = err.__cause__ or err.__context__
    return out


def _yaml_message(err: yaml.MarkedYAMLError, path: str | None) -> str:
    mark = err.problem_mark or err.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    what = " ".join(p for p in (err.context, err.problem) if p)
    return (
        f"--config {path or '(a config given inline)'}: not valid YAML{where}: {what}; "
        "fix the file there (indentation, a ':' or a closing bracket or quote)"
    )


def _classes_like(class_path: str, key: str) -> str:
    """Where the classes for ``key`` (model, data) are: those of the module the path names
    if it imports, else litlab's modules of that kind."""
    base = BASES.get(key.split(".")[0])
    module_name = class_path.rpartition(".")[0]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        module = None
    if module is not None and base is not None:
        names = [
            n for n, c in vars(module).items()
            if inspect.isclass(c) and issubclass(c, base) and not n.startswith("_")
            and c.__module__.startswith("litlab.")
        ]  # fmt: skip
        if names:
            return f"classes in {module_name}: {', '.join(sorted(names))}"
    leaf = {"model": "module", "data": "data"}.get(key.split(".")[0])
    found = []
    for domain in ("vision", "sequence", "transformer"):  # not litlab.__path__: the editable
        spec = importlib.util.find_spec(f"litlab.{domain}")  # install's finder lists nothing
        paths = list(spec.submodule_search_locations or []) if spec else []
        for m in pkgutil.walk_packages(paths, f"litlab.{domain}.", onerror=lambda _: None):
            if m.name.rpartition(".")[2] == leaf:
                found.append(m.name)
    if found:
        return f"{key} classes live in {', '.join(sorted(found))}"
    return "see the class_path lines of the YAMLs in experiments/"


def _class_message(key: str, class_path: str, reason: str, prog: str) -> str:
    reason = " ".join(reason.split())
    unresolved = "has no attribute" in reason or "No module named" in reason
    if unresolved or "does not exist" in reason or "Not a valid subclass" in reason:
        return f"--{key}.class_path {class_path}: {reason}; {_classes_like(class_path, key)}"
    nested = KEY.match(reason)  # 'Parser key "batch_size": Expected ...' of init_args
    if nested:
        return f"--{key}.init_args.{nested.group(1)}{reason[nested.end() :]}"
    short = class_path.rpartition(".")[2]
    return f"--{key} ({short}): {reason}; its options: {prog} --{key}.help {class_path}"


def short_message(
    message: str, err: BaseException | None, prog: str, config: str | None = None
) -> str:
    """jsonargparse's error ``message`` (and the exception behind it) in one or two lines;
    ``config`` is the file being read when it happened, if any."""
    marked = next((e for e in _chain(err) if isinstance(e, yaml.MarkedYAMLError)), None)
    if marked is not None:
        return _yaml_message(marked, config)
    key_match = KEY.match(message)
    key = key_match.group(1) if key_match else ""
    problem = CLASS_PROBLEM.search(message)
    if problem is not None:
        return _class_message(key, problem.group(1), problem.group(2), prog)
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    if key and len(lines) > 1 and "Union subtypes" in lines[1]:
        first = next((ln[2:] for ln in lines if ln.startswith("- ")), lines[1])
        given = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Given value:")),
                     "?")  # fmt: skip
        return f"--{key} {given}: {first}; see {prog} --help"
    head = " ".join(lines[:2]) if lines else message
    head = KEY.sub(lambda m: f"--{m.group(1)}", head)  # 'Parser key "config":' -> '--config:'
    return f"{head[:300]}; see {prog} --help"


class LitlabArgumentParser(LightningArgumentParser):
    """LightningArgumentParser whose errors are :class:`UsageError` (see the module doc)."""

    _reading: str | None = None  # the config file being parsed: YAML errors do not name it

    def parse_path(self, path: Any, *args: Any, **kwargs: Any) -> Any:
        outer, self._reading = self._reading, str(path)
        try:  # a syntax error calls self.error() from inside this call
            return super().parse_path(path, *args, **kwargs)
        finally:
            self._reading = outer

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error:  # jsonargparse trying an alternative: its own exception
            super().error(message, ex)
        parser = getattr(ex, "subcommand_parser", None) or self
        words = parser.prog.replace(" [options]", "").split()
        prog = " ".join(["litlab", *words[1:]])
        raise UsageError(short_message(message, ex, prog, self._reading)) from ex
