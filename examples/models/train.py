#!/usr/bin/env python3
"""Trains the digit classifiers that examples/models serves, from the handwritten-digits set that
Debian's python3-sklearn ships (1,797 8x8 images, pixel values 0..16).

    python3 examples/models/train.py [--out examples/models/artifacts]

Writes, on a fixed split (80% train, 20% test, stratified, seed 0) with fixed seeds:
  digits.pt            a small PyTorch network (64 -> 64 -> 10) as TorchScript
  digits.onnx          the same network, same weights, as ONNX (opset 11)
  digits_xgb.json      an XGBoost classifier in XGBoost's JSON model format
  customers/*.json     ten small per-customer XGBoost classifiers (the multiplexing example):
                       customer i is trained on a different bootstrap sample with its own seed
  digits_test.json     the held-out split: {"inputs": [[64 numbers]...], "labels": [...]}
  SHA256SUMS           checksums of all of the above (sha256sum -c checks them)
Every model takes the raw 64 pixel values (0..16) and answers 10 class probabilities.
The artifacts are committed so builds and CI never retrain; rerun this to regenerate them.
"""
import argparse
import gzip
import hashlib
import json
import os
import random

import numpy as np
import torch
import xgboost as xgb
from sklearn.model_selection import train_test_split

import sklearn.datasets

DIGITS = os.path.join(os.path.dirname(sklearn.datasets.__file__), "data", "digits.csv.gz")


def load_digits():
    with gzip.open(DIGITS, "rt") as f:
        rows = np.loadtxt(f, delimiter=",")
    return rows[:, :64].astype(np.float32), rows[:, 64].astype(np.int64)


class DigitsNet(torch.nn.Module):
    """Raw pixels (0..16) in, probabilities out: the scaling and the softmax are in the graph."""

    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(64, 64)
        self.out = torch.nn.Linear(64, 10)

    def forward(self, x):
        h = torch.relu(self.hidden(x / 16.0))
        return torch.softmax(self.out(h), dim=1)


def train_torch(x, y):
    torch.manual_seed(0)
    net = DigitsNet()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    for epoch in range(60):
        perm = torch.randperm(len(xs))
        for i in range(0, len(xs), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            # The network ends in a softmax; train on its log.
            loss = torch.nn.functional.nll_loss(torch.log(net(xs[idx]) + 1e-9), ys[idx])
            loss.backward()
            opt.step()
    net.eval()
    return net


def train_xgb(x, y, seed, n_estimators, max_depth):
    model = xgb.XGBClassifier(n_estimators=n_estimators, max_depth=max_depth, learning_rate=0.3,
                              objective="multi:softprob", random_state=seed, n_jobs=1,
                              tree_method="hist")
    model.fit(x, y)
    return model


def accuracy(probabilities, labels):
    return float((np.argmax(probabilities, axis=1) == labels).mean())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "artifacts"))
    args = parser.parse_args()
    os.makedirs(os.path.join(args.out, "customers"), exist_ok=True)
    random.seed(0)
    np.random.seed(0)

    x, y = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    written = []

    net = train_torch(x_train, y_train)
    with torch.no_grad():
        p = net(torch.from_numpy(x_test)).numpy()
    print(f"torch accuracy {accuracy(p, y_test):.4f}")
    scripted = torch.jit.script(net)
    path = os.path.join(args.out, "digits.pt")
    scripted.save(path)
    written.append(path)

    path = os.path.join(args.out, "digits.onnx")
    torch.onnx.export(net, torch.zeros(1, 64), path, input_names=["pixels"], output_names=["probabilities"],
                      dynamic_axes={"pixels": {0: "batch"}, "probabilities": {0: "batch"}}, opset_version=11)
    written.append(path)

    model = train_xgb(x_train, y_train, seed=0, n_estimators=40, max_depth=4)
    print(f"xgboost accuracy {accuracy(model.predict_proba(x_test), y_test):.4f}")
    path = os.path.join(args.out, "digits_xgb.json")
    model.get_booster().save_model(path)
    written.append(path)

    rng = np.random.default_rng(0)
    for i in range(10):
        sample = rng.choice(len(x_train), size=len(x_train), replace=True)
        # Every class must be present for a 10-class model.
        sample = np.concatenate([sample, [np.where(y_train == c)[0][0] for c in range(10)]])
        customer = train_xgb(x_train[sample], y_train[sample], seed=i + 1, n_estimators=8, max_depth=3)
        print(f"customer {i} accuracy {accuracy(customer.predict_proba(x_test), y_test):.4f}")
        path = os.path.join(args.out, "customers", f"customer_{i}.json")
        customer.get_booster().save_model(path)
        written.append(path)

    path = os.path.join(args.out, "digits_test.json")
    with open(path, "w") as f:
        json.dump({"inputs": x_test.astype(int).tolist(), "labels": y_test.tolist()}, f, separators=(",", ":"))
        f.write("\n")
    written.append(path)

    with open(os.path.join(args.out, "SHA256SUMS"), "w") as f:
        for path in written:
            with open(path, "rb") as g:
                digest = hashlib.sha256(g.read()).hexdigest()
            f.write(f"{digest}  {os.path.relpath(path, args.out)}\n")


if __name__ == "__main__":
    main()
