"""Reading Torch7 files: the safe lazy reader (binary, ASCII, gzip), walking the nn tree,
fb.resnet.torch checkpoint directories, old tensor forms, `--inspect`, and a writer for tests."""
