"""The checks that enforce ``common/protocols.py``: one place, the same on Python 3.10-3.13.

- :func:`conforms` / :func:`require`: does an object offer a protocol's members? Checked
  statically (``inspect.getattr_static``), so no property runs: on 3.10/3.11 a plain
  ``isinstance`` against a runtime-checkable protocol evaluates every property, on 3.12+ it
  does not, and a property that reads data must never run by accident.
- :func:`fill_from_data`: LitlabCLI calls it before the classes are built. What the data
  defines (``DataDefines.model_values``: the number of classes, a vocabulary size and pad
  id, a window length) is written into the model's configuration, so the experiment YAMLs
  do not repeat it and cannot disagree with it.
- :func:`check_fit` (run by LitlabCLI's ``FitCheck`` callback, ``common/cli.py``, once the
  data is set up): the sizes the model was built for (``ModelNeeds.data_needs``) against
  the data's, and the first that disagrees named in one sentence, as a :class:`ConfigError`.

Nothing here imports Lightning: inference (``common/inference.py``) checks protocols too.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Protocol

from litlab.common.errors import ConfigError
from litlab.common.protocols import DataDefines, ModelNeeds

# data_needs() keys and how the data's value must relate to the model's
EQUAL, AT_MOST = "equal", "at most"
RULES = {"num_classes": EQUAL, "vocab_size": AT_MOST, "block_size": AT_MOST}
ADVICE = {
    "num_classes": "leave num_classes out of the experiment's model section (the data sets "
    "it), or use data with that many classes",
    "vocab_size": "set the net's vocab_size to at least the data's (or leave it out where the "
    "data sets it)",
    "block_size": "set the data's block_size to at most the model's",
}


def _members(protocol: type) -> list[str]:
    names: list[str] = []
    for base in protocol.__mro__:
        if base in (Protocol, object) or not getattr(base, "_is_protocol", False):
            continue
        names += [n for n in vars(base) if not n.startswith("_")]
        names += list(inspect.get_annotations(base))
    return list(dict.fromkeys(names))


def missing(obj: object, protocol: type) -> list[str]:
    """The members of ``protocol`` that ``obj`` lacks (found without running properties)."""
    absent = []
    for name in _members(protocol):
        try:
            inspect.getattr_static(obj, name)
        except AttributeError:
            absent.append(name)
    return absent


def conforms(obj: object, protocol: type) -> bool:
    """``isinstance(obj, protocol)`` without evaluating any property, on every Python."""
    return obj is not None and not missing(obj, protocol)


def require(obj: object, protocol: type, who: str) -> None:
    """Raise a TypeError naming what ``obj`` lacks to serve ``who``."""
    if not conforms(obj, protocol):
        lacks = missing(obj, protocol) if obj is not None else []
        raise TypeError(
            f"{who} needs a {protocol.__name__} ({type(obj).__name__} lacks {lacks or 'it'}); "
            f"see common/protocols.py"
        )


def context_size(model: object) -> int | None:
    """The longest token context ``model`` reads (its ``block_size``); None: no limit."""
    size = getattr(model, "block_size", None)
    return int(size) if size is not None else None


# --- values the data defines, filled into the model's configuration ------------------------


def _class(class_path: str) -> type | None:
    module, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None  # an unknown class path is reported by the parser, not here


def _get(namespace: Any, key: str) -> Any:
    return namespace.get(key) if hasattr(namespace, "get") else getattr(namespace, key, None)


def _plain(namespace: Any) -> dict[str, Any]:
    if namespace is None:
        return {}
    return namespace.as_dict() if hasattr(namespace, "as_dict") else dict(namespace)


def fill_from_data(config: Any) -> dict[str, int]:
    """Write what the data defines into ``config.model`` (a parsed LightningCLI config).

    Targets, where they exist: ``model.init_args.<key>``, ``model.init_args.net.init_args.<key>``
    and the net's ``config.<key>`` (the GPT's dataclass). Returns the values written.
    """
    data, model = _get(config, "data"), _get(config, "model")
    data_cls = _class(str(_get(data, "class_path"))) if data is not None else None
    if data_cls is None or model is None or not conforms(data_cls, DataDefines):
        return {}
    values = data_cls.model_values(_plain(_get(data, "init_args")))
    init = _get(model, "init_args")
    net = _get(init, "net")
    net_init = _get(net, "init_args") if net is not None else None
    targets = [t for t in (init, net_init, _get(net_init, "config")) if t is not None]
    written = {}
    for key, value in values.items():
        for target in targets:
            if hasattr(target, "__contains__") and key in target:
                target[key] = value
                written[key] = value
    return written


# --- the fit check --------------------------------------------------------------------------


def check_fit(model: object, data: object) -> None:
    """Raise a ConfigError naming the first size the model and its data disagree on."""
    if data is None or not conforms(model, ModelNeeds):
        return
    for key, need in model.data_needs().items():
        have = getattr(data, key, None)  # NotReadyError is an AttributeError: not known yet
        if have is None or need is None:
            continue
        rule = RULES.get(key, EQUAL)
        if (rule == EQUAL and have != need) or (rule == AT_MOST and have > need):
            raise ConfigError(
                f"{type(model).__name__} was built for {key}={need} but "
                f"{type(data).__name__} has {key}={have} (it must be {rule} {need}): "
                f"{ADVICE.get(key, 'make them agree')}"
            )
