"""Images in, tensors out: Torch's decoding and preprocessing (with its compiled bicubic), the
training augmentation, and the validation image lists with their labels."""
