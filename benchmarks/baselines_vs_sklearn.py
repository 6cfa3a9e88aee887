"""The shallow baselines of Table 2 against scikit-learn fits of the same models, same data.

For each of Logistic_w2v, Logistic_3grams, MaxoutMLP_w2v_1_hidden, MoE_Logistic(_tied) it
trains our model (the paper's default hyperparameters, early stopping on dev) and a
scikit-learn reference on the same features and split, and prints test F1 (micro / macro)
of both and the macro-F1 gap. The references:

- logistic regression: ``StandardScaler -> OneVsRestClassifier(LogisticRegression())``;
- one hidden layer: ``StandardScaler -> MLPClassifier(hidden_layer_sizes=(512,))`` (ReLU,
  not maxout; scikit-learn has no maxout unit);
- mixture of logistic experts: scikit-learn has none; the reference is the same model fitted
  by expectation-maximisation with ``LogisticRegression`` as the M-step.

    python benchmarks/baselines_vs_sklearn.py ROOT/multimodal_imdb.hdf5 \\
        --text-features glove_features --image-features efficientnet_features
"""
from __future__ import annotations

import argparse
import time

from mmimdb.benchmark import models
from mmimdb.benchmark.sklearn_reference import sklearn_reference
from mmimdb.benchmark.data import BenchmarkData
from mmimdb.benchmark.metrics import f1_scores

MODELS = ("Logistic_w2v", "Logistic_3grams", "MaxoutMLP_w2v_1_hidden", "MoE_Logistic", "MoE_Logistic_tied")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("hdf5")
    parser.add_argument("--text-features", default="features")
    parser.add_argument("--image-features", default="vgg_features")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (default 1: a shared machine)")
    args = parser.parse_args()
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    aliases = {k: v for k, v in (("features", args.text_features), ("vgg_features", args.image_features)) if k != v}
    data = BenchmarkData(args.hdf5, aliases)
    names = [n for n in args.models.split(",") if not data.missing(models.get(n).inputs)]
    inputs = tuple(sorted({i for n in names for i in models.get(n).inputs}))
    train, dev, test = (data.split(s, inputs) for s in ("train", "dev", "test"))
    print(f"{data.path}: train {len(train)}, dev {len(dev)}, test {len(test)}; "
          + ", ".join(f"{i} = {data.stored_name(i)} ({train.inputs[i].shape[1]}-d)" for i in inputs))
    print(f"{'model':24s} {'ours micro/macro':>18s} {'sklearn micro/macro':>20s} {'macro gap':>9s}  reference")
    for name in names:
        started = time.perf_counter()
        ours = models.get(name).create(seed=args.seed).fit(train, dev)
        ours_f1 = f1_scores(test.labels, ours.predict_proba(test.inputs))
        reference, what = sklearn_reference(name, train, seed=args.seed)
        ref_f1 = f1_scores(test.labels, reference(test.inputs))
        print(f"{name:24s} {ours_f1['micro']:8.3f} / {ours_f1['macro']:.3f} {ref_f1['micro']:10.3f} / {ref_f1['macro']:.3f}"
              f" {ours_f1['macro'] - ref_f1['macro']:+9.3f}  {what} ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
