"""What the converter writes: mapped IRv2 weights (.pt/.h5), the generic path's torch.export
program, and the atomic, no-overwrite file writing every command shares."""
