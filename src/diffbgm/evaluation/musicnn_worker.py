"""Embed WAV files with musicnn (Pons & Serra, 2019); run by a Python that has musicnn and TensorFlow.

Usage::

    python musicnn_worker.py [--model MSD_musicnn] [--layer penultimate] LIST OUT.npy

``LIST`` names one WAV file per line; ``OUT.npy`` receives float32 ``(n_files, dim)``: the layer's
activations averaged over the clip's non-overlapping 3-s patches (the input length musicnn was trained
on). The default, MSD_musicnn's 200-d penultimate layer, is what Essentia ships as the musicnn embedding.

musicnn needs TensorFlow 1.x-style layers (``tensorflow-cpu<=2.15``), which cannot share an environment
with this project's torch, so :mod:`diffbgm.evaluation.audio_embedding` runs this file as a separate
process. It therefore imports nothing from diffbgm, and nothing at all until :func:`main` runs.
"""

from __future__ import annotations

import argparse
import os
import sys

# musicnn.models.define_model returns the logits, then these layers, in this order.
MUSICNN_LAYERS = ("timbral", "temporal", "cnn1", "cnn2", "cnn3", "mean_pool", "max_pool", "penultimate")
PATCH_SECONDS = 3.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Embed WAV files with musicnn.")
    parser.add_argument("--model", default="MSD_musicnn", choices=("MSD_musicnn", "MTT_musicnn"))
    parser.add_argument("--layer", default="penultimate", choices=("taggram", *MUSICNN_LAYERS))
    parser.add_argument("list", help="text file, one WAV path per line")
    parser.add_argument("out", help="where to write the (n_files, dim) float32 .npy")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import librosa
    import musicnn
    import numpy as np
    import tensorflow as tf
    from musicnn import configuration, models
    from musicnn.extractor import batch_data

    tf.compat.v1.disable_eager_execution()
    labels = configuration.MSD_LABELS if args.model.startswith("MSD") else configuration.MTT_LABELS
    n_frames = librosa.time_to_frames(PATCH_SECONDS, sr=configuration.SR, n_fft=configuration.FFT_SIZE,
                                      hop_length=configuration.FFT_HOP) + 1
    # One graph and one session for all files: musicnn's own extractor() rebuilds both for every file.
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, n_frames, configuration.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        logits, *layers = models.define_model(x, is_training, args.model, len(labels))
    outputs = {"taggram": tf.nn.sigmoid(logits), **dict(zip(MUSICNN_LAYERS, layers))}
    session = tf.compat.v1.Session()
    session.run(tf.compat.v1.global_variables_initializer())
    tf.compat.v1.train.Saver().restore(session, os.path.join(os.path.dirname(musicnn.__file__), args.model) + "/")

    with open(args.list, encoding="utf-8") as listing:
        paths = [line.strip() for line in listing if line.strip()]
    rows = []
    for path in paths:
        if librosa.get_duration(path=path) < PATCH_SECONDS:
            sys.exit(f"{path}: shorter than musicnn's {PATCH_SECONDS:g}-s input")
        patches, _ = batch_data(path, n_frames, n_frames)
        activations = session.run(outputs[args.layer], feed_dict={x: patches, is_training: False})
        rows.append(np.asarray(activations, dtype=np.float64).reshape(len(patches), -1).mean(axis=0))
    np.save(args.out, np.stack(rows).astype(np.float32))
    return 0


if __name__ == "__main__":
    sys.exit(main())
