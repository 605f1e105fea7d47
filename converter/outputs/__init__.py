"""What the converter writes: mapped IRv2 weights (mapped: .safetensors/.pt/.h5, and the one
suffix -> format table), the generic path's safe artifact (translated, with spec/spec_load: the
Torch7 tree as checked data), ONNX for both paths (onnx_export), the torch.export .pt2 (export),
and the atomic, no-overwrite file writing every command shares (atomic)."""
