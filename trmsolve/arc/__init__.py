"""ARC-AGI end to end: the published data set builder, the views a model knows of a task, prediction and the
published vote, pass@K and submissions, identifier maps for published checkpoints, and adaptation to new tasks.

A TRM for ARC is transductive: it learned one puzzle embedding per task and per augmented version of the task
(identifier `"<task>|||t<k>|||<perm>"`), so it can only be asked about a task through those identifiers
(`views`). For every test input `predict` runs each identifier the model knows for its task on the input
augmented the same way, decodes by cropping, undoes the augmentation and votes as the published evaluator does
(`score` then counts pass@K). Published checkpoints come without the identifier map: `identifiers` rebuilds it.
Tasks the model never saw run with the blank identifier unless `adapt` first learns embeddings for them.

Grids as tokens and their augmentations live with the ARC puzzle kind (`trmsolve.kinds.arc_grids`). Import the
modules themselves (`from trmsolve.arc.predict import predict`). This is a library: it returns data and never
prints.
"""
