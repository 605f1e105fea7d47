"""A converted model used as the pretrained model it was (fb.resnet.torch's `pretrained/`):
class names, preprocessing presets, the model with its logits and features; irv2-classify
(classify.lua) and irv2-features (extract-features.lua)."""
