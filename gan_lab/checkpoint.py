"""Checkpoints: G and D weights in one safetensors file, the RunConfig as JSON in its metadata.

safetensors only: a checkpoint is data, never code, so a file from a stranger cannot run anything
(pickle-based torch.save files are refused). Loading checks the size, the format, and that every
tensor name and shape matches what the config builds, before anything is changed.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from safetensors.torch import save_file

from .config import ConfigError, RunConfig, brief, spec
from .models import average_keys, build_models, has_average, is_average_key

MAX_BYTES = 64 * 1024 * 1024   # far above any model the caps allow; stops a huge upload early
# Header room beyond the float32 weights: tensor names, offsets and the config JSON (~2 KiB).
HEADER_BYTES = 256 * 1024


def max_bytes_for(max_params: int) -> int:
    """The largest checkpoint a model of at most `max_params` float32 parameters makes (G's
    weight average, when kept, can double G's share)."""
    return 2 * 4 * int(max_params) + HEADER_BYTES
FORMAT = "gan-lab-checkpoint-v1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says why in plain words."""


def _payload(g_state: dict, d_state: dict, cfg: RunConfig, step: int):
    tensors = {f"G.{k}": v.detach().to("cpu").contiguous() for k, v in g_state.items()}
    tensors.update({f"D.{k}": v.detach().to("cpu").contiguous() for k, v in d_state.items()})
    meta = {"format": FORMAT, "config": cfg.to_json(), "step": str(int(step))}
    return tensors, meta


def save_checkpoint(path: str | os.PathLike, G: torch.nn.Module, D: torch.nn.Module,
                    cfg: RunConfig, step: int = 0) -> Path:
    tensors, meta = _payload(G.state_dict(), D.state_dict(), cfg, step)
    save_file(tensors, str(path), metadata=meta)
    return Path(path)


def save_checkpoint_bytes(G: torch.nn.Module, D: torch.nn.Module, cfg: RunConfig,
                          step: int = 0) -> bytes:
    return save_checkpoint_bytes_from_states(cfg, G.state_dict(), D.state_dict(), step)


def save_checkpoint_bytes_from_states(cfg: RunConfig, g_state: dict, d_state: dict,
                                      step: int = 0) -> bytes:
    """The same checkpoint from weight dicts (a job's snapshot) instead of modules."""
    tensors, meta = _payload(g_state, d_state, cfg, step)
    return st_save(tensors, metadata=meta)


def _read_metadata(data: bytes) -> dict[str, str]:
    # The safetensors layout: 8-byte little-endian header size, then a JSON header.
    if len(data) < 8:
        raise CheckpointError("the file is too short to be a safetensors checkpoint")
    (n,) = struct.unpack("<Q", data[:8])
    if n <= 0 or n > len(data) - 8 or n > 16 * 1024 * 1024:
        if data[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05") or data[:2] == b"PK":
            raise CheckpointError("this looks like a pickle/torch.save file; only .safetensors "
                                  "checkpoints are accepted (pickles can run code)")
        raise CheckpointError("not a safetensors file (bad header)")
    try:
        header = json.loads(data[8:8 + n])
    except (ValueError, RecursionError):   # not UTF-8, not JSON, a 5,000-digit number, ...
        raise CheckpointError("not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise CheckpointError("not a safetensors file (header is not an object)")
    meta = header.get("__metadata__") or {}
    return meta if isinstance(meta, dict) else {}


def _check_step(meta: dict[str, str], max_steps: int) -> int:
    """The stored step: a plain whole number in [0, max_steps] (a crafted file could claim any
    number, and a run cannot continue from a step beyond what the server allows)."""
    raw = meta.get("step", "0")
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise CheckpointError(f"its step {brief(raw)} is not a whole number in [0, "
                              f"{max_steps:,}]")
    step = int(raw)
    if step > max_steps:
        raise CheckpointError(f"it is at step {step:,}; at most {max_steps:,} steps per run "
                              "are allowed here")
    return step


def load_checkpoint(source: str | os.PathLike | bytes, cfg: RunConfig | None = None,
                    max_bytes: int = MAX_BYTES, max_steps: int | None = None, check=None):
    """Read and check a checkpoint. Returns (cfg, g_state, d_state, step).

    cfg: the config to check shapes against; by default the one stored in the file.
    max_steps: the largest step the file may claim (default: the largest RunConfig.steps).
    check(cfg): a server's caps (steps, parameters, cost: it raises ConfigError), applied to
    that config before its networks are built or the tensors read (issue 18).
    Every metadata field is checked (format, step, config) and every tensor (name, shape,
    floating dtype, finite values) before anything is returned.
    Raises CheckpointError (or ConfigError for a bad stored config) and changes nothing."""
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        p = Path(source)
        size = p.stat().st_size
        if size > max_bytes:
            raise CheckpointError(f"the file is {size / 1e6:.1f} MB; the limit is "
                                  f"{max_bytes / 1e6:.0f} MB")
        data = p.read_bytes()
    if len(data) > max_bytes:
        raise CheckpointError(f"the file is {len(data) / 1e6:.1f} MB; the limit is "
                              f"{max_bytes / 1e6:.0f} MB")
    meta = _read_metadata(data)
    if meta.get("format", FORMAT) != FORMAT:
        raise CheckpointError(f"its format {brief(meta.get('format'))} is not {FORMAT!r}")
    step = _check_step(meta, spec("steps")["hi"] if max_steps is None else max_steps)
    if cfg is None:
        if not isinstance(meta.get("config"), str):
            raise CheckpointError("the file has no GAN Lab config in its metadata; load a "
                                  "config JSON first")
        try:
            cfg = RunConfig.from_json(meta["config"])
        except ConfigError as e:
            raise CheckpointError(f"the stored config is invalid: {e}") from None
    if check is not None:
        check(cfg)
    try:
        tensors = st_load(data)
    except (SafetensorError, Exception):  # truncated or corrupt payloads land here
        raise CheckpointError("the safetensors file is damaged or truncated") from None
    G, D = build_models(cfg)
    states = {}
    for tag, net in (("G", G), ("D", D)):
        want = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        got = {k[2:]: v for k, v in tensors.items() if k.startswith(tag + ".")}
        if tag == "G":
            _fit_average(got, G)
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        if missing or extra:
            hint = ("; the file and the config differ in spectral_norm"
                    if any(".parametrizations." in k for k in missing + extra) else "")
            raise CheckpointError(f"{tag} tensors do not match the config: missing "
                                  f"{brief(missing[:3]) if missing else 'none'}, unexpected "
                                  f"{brief(extra[:3]) if extra else 'none'}{hint}")
        for k, shape in want.items():
            if tuple(got[k].shape) != shape:
                raise CheckpointError(f"{tag}.{k} has shape {tuple(got[k].shape)}, the config "
                                      f"needs {shape}")
            if not got[k].is_floating_point():
                raise CheckpointError(f"{tag}.{k} holds {got[k].dtype} values, not floats")
            if not torch.isfinite(got[k]).all():
                raise CheckpointError(f"{tag}.{k} contains NaN or inf values")
        states[tag] = {k: got[k].float() for k in want}
    unknown = [k for k in tensors if not k.startswith(("G.", "D."))]
    if unknown:
        raise CheckpointError(f"unexpected tensors {brief(unknown[:3])}")
    return cfg, states["G"], states["D"], step


def _fit_average(got: dict[str, torch.Tensor], G: torch.nn.Module) -> None:
    """Match G's weight average in a checkpoint to the config: a file without one (saved with
    g_ema 0, or before g_ema existed) starts the average at G's weights; a file with one, read
    under g_ema 0, drops it. A partial average is left for the name and shape checks."""
    present = [k for k in got if is_average_key(k)]
    if not has_average(G):
        for k in present:
            del got[k]
    elif not present:
        for k, name in average_keys(G).items():
            if name in got:
                got[k] = got[name].clone()
