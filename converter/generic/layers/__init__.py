"""The built-in generic translations, one module per layer family; importing the package
registers every one of them in converter.generic.registry."""

from converter.generic.layers import (  # noqa: F401 - imported for their registrations
    activation,
    arithmetic,
    containers,
    convolution,
    convolution_map,
    dpnn,
    dropout,
    elementwise,
    eyescream,
    fast_neural_style,
    graph,
    local_normalization,
    nnx,
    nnx_sampling,
    normalization,
    padding,
    pooling,
    products,
    reduction,
    resampling,
    shape,
    stn,
    tables,
    texture_nets,
)
