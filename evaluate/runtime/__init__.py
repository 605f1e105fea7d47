"""The run's surroundings, shared by evaluation and training: which device and autocast dtype,
and the torchrun process group (sharding, gathering to rank 0, errors raised together)."""
