"""fb.resnet.torch training logs: writing their lines, reading them back from real logs into
per-epoch runs, plotting them, and the `irv2-logs` command."""
