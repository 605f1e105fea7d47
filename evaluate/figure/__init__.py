"""The model figure: the PyTorch network traced into a graphviz graph, and the `irv2-draw`
command."""
