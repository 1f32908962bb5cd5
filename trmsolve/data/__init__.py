"""Training data per puzzle kind: generators, CSV loading into tokens, on-the-fly augmentation."""
