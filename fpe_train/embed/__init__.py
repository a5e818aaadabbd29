"""Images -> CLIP embeddings, in the file format the vision sweeps read (``fpe-theory embed``, extra ``[embed]``).

``images`` (CIFAR-100 binary files, image folders; no torch), ``preprocess`` (CLIP's resize, crop and
normalisation in Pillow and numpy), ``encoder`` (a local transformers checkpoint, offline), ``embed``
(batches, the output file and its metadata).
"""
