"""How a check calls an exercise: the same harness runs the reference (parent) and the student (child).

A driver takes the namespace that defines the exercise, the exercise name and the case's plain-data
arguments, and returns plain data (NumPy arrays, numbers, lists, tuples, dicts).
"""

from __future__ import annotations

import functools
import json
import sys
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np

from ..i18n import t


def to_plain(value: Any) -> Any:
    """Return `value` with torch tensors turned into NumPy arrays, recursively."""
    torch = sys.modules.get("torch")  # without torch loaded nothing is a tensor: numpy-only graders skip its import
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().copy()
    if isinstance(value, tuple):
        return tuple(to_plain(v) for v in value)
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


def exercise(ns: dict, name: str) -> Any:
    """Return the student's definition of `name`, or raise NameError saying why it is missing."""
    if name not in ns:
        raise NameError(t("{name!r} is not defined: its answer cell is missing or raised an error", name=name))
    return ns[name]


def call(ns: dict, name: str, args: list, kwargs: dict) -> Any:
    """Call `name(*args, **kwargs)` with NumPy arguments."""
    return to_plain(exercise(ns, name)(*args, **kwargs))


def next_table_state(state: int, prev: int, states: int) -> int:
    """Return the state after `state` when the decoder was fed `prev` (depends on both)."""
    return (state * 7 + prev + 1) % states


def call_with_step_table(ns: dict, name: str, args: list, kwargs: dict) -> Any:
    """Call a decoder `name(step, c, ...)` whose `step` reads logits from a table.

    `args[0]` is a (states, vocab) logit table and `args[1]` the start state c. The step function is
    `step(prev, state) -> (table[state], next_table_state(state, prev, states))`.
    """
    table = np.asarray(args[0], dtype=float)

    def step(prev, state):
        state = int(state)
        return table[state].copy(), next_table_state(state, int(prev), table.shape[0])

    return [int(t) for t in exercise(ns, name)(step, *args[1:], **kwargs)]


def call_torch(ns: dict, name: str, args: list, kwargs: dict) -> Any:
    """Call `name` with every NumPy argument turned into a torch tensor (bool and int kept)."""
    import torch

    tensors = [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args]
    return to_plain(exercise(ns, name)(*tensors, **kwargs))


def module_with_parameters(ns: dict, name: str, args: list, kwargs: dict) -> Any:
    """Build `name(**init)`, copy `params` into its named parameters, return `forward(*inputs)`.

    kwargs: {"init": dict, "params": {parameter name: array}, "inputs": list, "forward": dict}.
    """
    import torch

    module = exercise(ns, name)(**kwargs["init"])
    with torch.no_grad():
        for pname, value in kwargs["params"].items():
            module.get_parameter(pname).copy_(torch.from_numpy(value))
    inputs = [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in kwargs["inputs"]]
    with torch.no_grad():
        return to_plain(module(*inputs, **kwargs.get("forward", {})))


class KeptTorchLayer(Exception):
    """A module whose `load_from_torch` kept (a copy of) the torch layer instead of copying its weights."""


def module_loaded_from_torch(ns: dict, name: str, args: list, kwargs: dict, trusted: bool = False) -> Any:
    """Build `name(**init)`, `load_from_torch` a seeded torch layer, return `forward(*inputs)`.

    Delegating to the layer earns nothing: right after loading, every parameter tensor the layer had is
    overwritten with noise (wherever the module moved it), a module that can still reach a layer of that
    class (as a submodule, in an attribute, a list or a global) is refused, and every layer of the class
    refuses to run during the forward pass; only weights copied into the module's own parameters give the
    original outputs. `trusted` (the grader's reference and mistakes, see `trust_this_process`) skips those
    checks; the outputs are the same.

    kwargs: {"init": dict, "torch_class": attribute of torch.nn, "torch_init": dict, "seed": int,
    "inputs": list, "forward": dict}.
    """
    import torch

    layer = seeded_torch_layer(kwargs)
    torch_class = type(layer)
    originals = list(torch.nn.Module.parameters(layer))  # the class's method: an instance cannot hide them
    module = exercise(ns, name)(**kwargs["init"])
    module.load_from_torch(layer)
    module.eval()
    inputs = [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in kwargs["inputs"]]
    if trusted:
        with torch.no_grad():
            return to_plain(module(*inputs, **kwargs.get("forward", {})))
    noise = torch.Generator().manual_seed(kwargs["seed"] + 1)
    with torch.no_grad():
        for tensor in originals:
            tensor.copy_(torch.randn(tensor.shape, generator=noise, dtype=tensor.dtype) * 10)
    del layer
    if _reaches([module, ns], torch_class):
        raise KeptTorchLayer(t("load_from_torch kept a torch.nn.{cls}: copy its weights into your own layers "
                               "instead", cls=torch_class.__name__))
    with torch.no_grad(), _refused(torch_class):
        return to_plain(module(*inputs, **kwargs.get("forward", {})))


def _reaches(start: list, cls: type, limit: int = 200_000) -> bool:
    """Return True when an instance of `cls` can be reached from `start` through the objects they refer to
    (attributes, containers, closures, the student's classes and globals), not looking inside imported
    modules or their classes."""
    import gc
    import types

    import torch

    leaves = (str, bytes, int, float, types.BuiltinFunctionType, types.CodeType, types.ModuleType, torch.Tensor,
              np.ndarray)
    seen, todo = {id(obj) for obj in start}, list(start)
    while todo and len(seen) < limit:
        obj = todo.pop()
        if isinstance(obj, cls):
            return True
        for ref in gc.get_referents(obj):
            if id(ref) in seen or isinstance(ref, leaves) or (isinstance(ref, type) and ref.__module__ != "__main__"):
                continue
            seen.add(id(ref))
            todo.append(ref)
    return False


@contextmanager
def _refused(torch_class: type) -> Iterator[None]:
    """Make every layer of `torch_class` raise KeptTorchLayer when run, for the `with` block."""
    original = torch_class.forward

    def refuse(self, *args, **kwargs):
        raise KeptTorchLayer(t("the forward pass called a torch.nn.{cls}: compute it with the weights you "
                               "copied instead", cls=torch_class.__name__))

    torch_class.forward = refuse
    try:
        yield
    finally:
        torch_class.forward = original


def seeded_torch_layer(kwargs: dict):
    """Return `torch.nn.<torch_class>(**torch_init)` with weights drawn from `seed`, in eval mode.

    The layer object is made once per class and arguments and process, and every call draws all its
    parameters afresh (making it is most of the cost: its own initialisation is thrown away anyway).
    """
    import torch

    generator = torch.Generator().manual_seed(kwargs["seed"])  # private: graders call this from many threads
    layer = _layer(kwargs["torch_class"], json.dumps(kwargs["torch_init"], sort_keys=True))
    with torch.no_grad():
        for p in torch.nn.Module.parameters(layer):
            p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * 0.3)
    return torch.nn.Module.eval(layer)


@functools.lru_cache(maxsize=32)
def _layer(torch_class: str, torch_init: str):
    import torch

    return getattr(torch.nn, torch_class)(**json.loads(torch_init))


def build_torch_model(ns: dict, name: str, args: list, kwargs: dict) -> Any:
    """Build a model from nested torch.nn layer specs and return `name(model)`.

    kwargs: {"model": spec} where spec is {"class": "Transformer", "init": {...}} or
    {"children": {attr: spec, ...}} for a container of named sub-modules. Models are built once per spec
    and process (building an nn.Transformer is most of the cost of such a check): the function reads
    the model's structure only, and in the sandbox a changed model hurts no one but its changer.
    """
    return to_plain(exercise(ns, name)(_built(json.dumps(kwargs["model"], sort_keys=True))))


@functools.lru_cache(maxsize=64)
def _built(spec: str):
    with _uninitialised():
        return _build(json.loads(spec))


INIT_FUNCTIONS = ("uniform_", "normal_", "constant_", "ones_", "zeros_", "xavier_uniform_", "xavier_normal_",
                  "kaiming_uniform_", "kaiming_normal_", "trunc_normal_")


@contextmanager
def _uninitialised() -> Iterator[None]:
    """Skip torch's weight initialisation inside the block: these models are built for their structure, and
    drawing their random weights is half the cost of building them."""
    import torch.nn.init as init

    saved = {name: getattr(init, name) for name in INIT_FUNCTIONS}
    for name in INIT_FUNCTIONS:
        setattr(init, name, lambda tensor, *args, **kwargs: tensor)
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(init, name, function)


def _build(spec: dict):
    import torch

    if "children" in spec:
        container = torch.nn.Module()
        for attr, child in spec["children"].items():
            container.add_module(attr, _build(child))
        return container
    return getattr(torch.nn, spec["class"])(**spec.get("init", {}))


def trust_this_process() -> None:
    """Give this process the drivers for trusted namespaces only: the grader's reference and mistakes,
    never student code (a sandboxed child imports this module afresh and never calls this). They compute
    the same values without the checks that only student code needs."""
    DRIVERS["module_loaded_from_torch"] = functools.partial(module_loaded_from_torch, trusted=True)


def warm_up() -> None:
    """Run the torch code paths that import modules lazily (sympy, among others) or fill caches on first
    use, so that no sandboxed child (forked after this) and no submission of a run pays for them."""
    import numpy.random  # noqa: F401  (numpy 2 imports it on first use)
    import torch
    import torch.fx.experimental.symbolic_shapes  # noqa: F401  (torch._check_with imports it and sympy)

    state = torch.random.get_rng_state()  # the caller's random state stays as it was
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors")  # torch's, not ours
        model = torch.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                                     dim_feedforward=8, dropout=0.0, batch_first=True).eval()
        x = torch.randn(2, 3, 8)
        mask = torch.triu(torch.ones(3, 3, dtype=torch.bool), diagonal=1)
        model(x, x, tgt_mask=mask, src_key_padding_mask=torch.zeros(2, 3, dtype=torch.bool))
        attention = model.decoder.layers[0].self_attn
        attention(x, x, x, attn_mask=mask, need_weights=True)
        attention(x, x, x, key_padding_mask=torch.zeros(2, 3, dtype=torch.bool), need_weights=False)
        model.train()(x, x)
        torch.nn.functional.gelu(x).softmax(-1).log_softmax(-1)
        torch.nn.functional.scaled_dot_product_attention(x, x, x, is_causal=True)
    torch.random.set_rng_state(state)


DRIVERS: dict[str, Callable[[dict, str, list, dict], Any]] = {
    "call": call,
    "call_with_step_table": call_with_step_table,
    "call_torch": call_torch,
    "module_with_parameters": module_with_parameters,
    "module_loaded_from_torch": module_loaded_from_torch,
    "build_torch_model": build_torch_model,
}
