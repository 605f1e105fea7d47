"""The built-in generic translations, one module per layer family; importing the package
registers every one of them in converter.generic.registry."""

from converter.generic.layers import (  # noqa: F401 - imported for their registrations
    activation,
    arithmetic,
    containers,
    convolution,
    dropout,
    elementwise,
    fast_neural_style,
    graph,
    nnx,
    normalization,
    pooling,
    products,
    reduction,
    shape,
    tables,
)
