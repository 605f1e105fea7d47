"""The Inception-ResNet-v2 path: the named PyTorch model, the mapping table that fills it from
the Torch7 tree, the conversion, and `--verify` against the generic translation."""
