"""The `.py` output: a converted model written out as plain PyTorch source, with its weights in
a `.safetensors` file beside it (writer: save_python)."""
