"""Training: fb.resnet.torch's SGD step (the Trainer), continuing a Lua run from its optimizer
state, our resumable checkpoints, the epoch loop and the `irv2-train` command."""
