"""The generic path: any Torch7 nn tree as an equivalent nn.Module, one registered translation
per Torch7 class (`register_translation`), the built-in ones in `layers/`."""

from converter.generic.registry import ModuleContext, register_translation

__all__ = ["ModuleContext", "register_translation"]
