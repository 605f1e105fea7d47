"""The built-in generic translations, one module per layer family; importing the package
registers every one of them in converter.generic.registry."""

from converter.generic.layers import (  # noqa: F401 - imported for their registrations
    activation,
    arithmetic,
    char_rnn,
    containers,
    convolution,
    convolution_map,
    dropout,
    elementwise,
    fast_neural_style,
    graph,
    local_normalization,
    nnx,
    normalization,
    padding,
    pooling,
    products,
    reduction,
    resampling,
    rnn_fused,
    rnn_layers,
    rnn_recurrent,
    shape,
    tables,
    torch_rnn,
)
