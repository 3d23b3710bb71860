"""Zoo model 4, ecg-beat-cnn: a 1-D CNN heartbeat classifier (AAMI classes N/S/V/F/Q) on 128-sample
MIT-BIH MLII windows centred on the annotated beats.

Why it is in the zoo: to exercise ops, not to be a good classifier: a residual ADD, MAX_POOL_2D,
AVERAGE_POOL_2D, a CONCATENATION of two branches, MUL gating by LOGISTIC, FULLY_CONNECTED and
SOFTMAX. It sees morphology only (no RR intervals), so S beats are hard across patients, as usual
for inter-patient MIT-BIH.

How it is built: inter-patient split (DS1 training, the last DS1 records validation, DS2 evaluation
on a class-capped seeded subset); N and V training beats subsampled (seeded), balanced class weights
capped at 20 (Q has a handful of beats in DS1), Adam with cosine decay for a fixed number of epochs
(no epoch selection). The held-out beats are stratified by class (BEAT_HELDOUT_QUOTA, topped up with
N beats) and their labels are stored with them.
"""
from __future__ import annotations

import time

import numpy as np

from .common import Built, N_HELDOUT, N_REPRESENTATIVE, _evenly, _keras, _q_through, _seed
from .ecg_data import AAMI, AAMI_SYMBOLS, _beats, _cap, _normalize_ecg

# ---------------------------------------------------------------- 4. ECG beat classifier

BEAT_HALF = 64
BEAT_EPOCHS = 20
BEAT_TRAIN_CAPS = {0: 5000, 2: 3000}          # N, V subsampled; S, F, Q all
BEAT_EVAL_CAPS = {0: 2000, 1: 1000, 2: 1000}   # DS2 evaluation subset
BEAT_HELDOUT_QUOTA = {0: 48, 1: 32, 2: 28, 3: 16, 4: 4}


def ecg_beat_cnn(batch_size: int | None):
    keras = _keras()
    from keras import layers
    x = keras.Input((2 * BEAT_HALF, 1), batch_size=batch_size, name="beat")
    h = layers.Conv1D(8, 7, padding="same", activation="relu", name="conv1")(x)
    h = layers.MaxPooling1D(2, name="pool1")(h)
    r = layers.Conv1D(8, 5, padding="same", activation="relu", name="res_conv1")(h)
    r = layers.Conv1D(8, 5, padding="same", name="res_conv2")(r)
    h = layers.Add(name="res_add")([h, r])
    h = layers.ReLU(name="res_relu")(h)
    h = layers.MaxPooling1D(2, name="pool2")(h)
    a = layers.Conv1D(8, 3, padding="same", activation="relu", name="branch_conv")(h)
    b = layers.AveragePooling1D(3, strides=1, padding="same", name="branch_avg")(h)
    h = layers.Concatenate(name="concat")([a, b])
    g = layers.Conv1D(16, 1, activation="sigmoid", name="gate")(h)
    h = layers.Multiply(name="gated")([h, g])
    h = layers.AveragePooling1D(4, name="pool3")(h)
    h = layers.Flatten(name="flatten")(h)
    h = layers.Dense(16, activation="relu", name="fc1")(h)
    h = layers.Dense(len(AAMI), name="logits")(h)
    y = layers.Softmax(name="softmax")(h)
    return keras.Model(x, y, name="ecg_beat_cnn")


def _recall(y: np.ndarray, pred: np.ndarray) -> list[float]:
    return [float((pred[y == k] == k).mean()) if (y == k).any() else float("nan") for k in range(len(AAMI))]


def _build_ecg_beat_cnn(seed: int) -> Built:
    from ...data import mitdb_split
    keras = _keras()
    split = mitdb_split()
    rng = np.random.default_rng(seed)
    Xtr, ytr = _cap(*_beats(split["train"], BEAT_HALF), BEAT_TRAIN_CAPS, rng)
    Xva, yva = _cap(*_beats(split["val"], BEAT_HALF), {0: 2000}, rng)
    Xev, yev = _cap(*_beats(split["test"], BEAT_HALF), BEAT_EVAL_CAPS, rng)
    Xtr, Xva, Xev = (_normalize_ecg(a)[..., None] for a in (Xtr, Xva, Xev))
    counts = np.bincount(ytr, minlength=len(AAMI))
    cw = {k: float(len(ytr) / (len(AAMI) * c)) if c else 0.0 for k, c in enumerate(counts)}
    cw = {k: min(v, 20.0) for k, v in cw.items()}  # Q has a handful of beats in DS1
    _seed(seed)
    model = ecg_beat_cnn(None)
    lr = keras.optimizers.schedules.CosineDecay(3e-3, BEAT_EPOCHS * int(np.ceil(len(Xtr) / 64)))
    model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.time()
    hist = model.fit(Xtr, ytr, validation_data=(Xva, yva), epochs=BEAT_EPOCHS, batch_size=64,
                     class_weight=cw, shuffle=True, verbose=0)
    train_s = time.time() - t0
    va_rec = _recall(yva, model.predict(Xva, verbose=0).argmax(1))
    m1 = ecg_beat_cnn(1)
    m1.set_weights(model.get_weights())
    p_ev = model.predict(Xev, verbose=0)
    held_i = []
    for k, q in BEAT_HELDOUT_QUOTA.items():
        i = np.flatnonzero(yev == k)
        held_i.append(i[_evenly(len(i), q)] if len(i) else i)
    held_i = np.concatenate(held_i)
    if len(held_i) < N_HELDOUT:  # fill with normal beats not yet taken
        rest = np.setdiff1d(np.flatnonzero(yev == 0), held_i)
        held_i = np.concatenate([held_i, rest[_evenly(len(rest), N_HELDOUT - len(held_i))]])
    held_i = np.sort(held_i)[:N_HELDOUT]

    def quality(tfl: bytes):
        _, yq, io_ = _q_through(tfl, Xev)
        pi = yq.reshape(len(Xev), -1).argmax(1)
        pf = p_ev.argmax(1)
        rows = [(f"accuracy, DS2 eval subset ({len(Xev)} beats)", f"{(pf == yev).mean():.3f}",
                 f"{(pi == yev).mean():.3f}"),
                ("balanced accuracy (mean recall over classes present)",
                 f"{np.nanmean(_recall(yev, pf)):.3f}", f"{np.nanmean(_recall(yev, pi)):.3f}")]
        for k, (rf, ri) in enumerate(zip(_recall(yev, pf), _recall(yev, pi))):
            rows.append((f"recall {AAMI[k]} ({int((yev == k).sum())} beats)", f"{rf:.3f}", f"{ri:.3f}"))
        rows.append((f"accuracy, {N_HELDOUT} held-out beats", f"{(pf[held_i] == yev[held_i]).mean():.3f}",
                     f"{(pi[held_i] == yev[held_i]).mean():.3f}"))
        rows.append(("int8 argmax equal to float argmax", "-", f"{(pi == pf).mean():.3f}"))
        return rows

    h = hist.history
    tr_counts = ", ".join(f"{AAMI[k]} {c}" for k, c in enumerate(counts))
    ev_counts = ", ".join(f"{AAMI[k]} {c}" for k, c in enumerate(np.bincount(yev, minlength=len(AAMI))))
    return Built(
        model=m1, representative=Xtr[_evenly(len(Xtr), N_REPRESENTATIVE)], heldout=Xev[held_i],
        labels=yev[held_i].astype(np.int8),
        data=(f"MIT-BIH Arrhythmia Database, lead MLII, one window of {2 * BEAT_HALF} samples "
              f"(0.36 s) centred on each annotated beat (`wfdb.rdann(..., 'atr')`, window "
              f"[R - {BEAT_HALF}, R + {BEAT_HALF})), normalized as (adu - window mean) / 200 (mV). AAMI "
              f"classes from the beat symbols: " + "; ".join(f"{c}: {' '.join(AAMI_SYMBOLS[c])}" for c in AAMI)
              + f" (labels 0..4 in that order; other annotations skipped). Inter-patient split: training "
              f"= DS1 records {split['train']} (N subsampled to {BEAT_TRAIN_CAPS[0]}, V to "
              f"{BEAT_TRAIN_CAPS[2]}, seeded; {tr_counts}), validation = DS1 records {split['val']}, "
              f"evaluation = DS2 records (class-capped seeded subset: {ev_counts}). Held-out inputs: "
              f"{len(held_i)} DS2 beats of that subset, stratified ("
              + ", ".join(f"{AAMI[k]} {int((yev[held_i] == k).sum())}" for k in range(len(AAMI)))
              + "); `labels` holds their classes."),
        train=(f"Adam, learning rate 3e-3 with cosine decay to 0, sparse categorical cross-entropy with balanced class weights (capped at 20: "
               + ", ".join(f"{AAMI[k]} {w:.2f}" for k, w in cw.items())
               + f"), batch 64, {BEAT_EPOCHS} epochs (fixed; no epoch selection), {train_s:.1f} s on the CPU; "
               f"final training accuracy {h['accuracy'][-1]:.3f}, validation accuracy "
               f"{h['val_accuracy'][-1]:.3f}, validation recall "
               + ", ".join(f"{AAMI[k]} {r:.2f}" for k, r in enumerate(va_rec) if not np.isnan(r))
               + f" ({', '.join(f'{AAMI[k]} {c}' for k, c in enumerate(np.bincount(yva, minlength=len(AAMI))))} "
               "validation beats)."),
        train_s=train_s, quality=quality,
        notes=["Morphology only (no RR intervals), so S beats are hard across patients, as usual for "
               "inter-patient MIT-BIH, and the four validation records disagree with DS2 (their V and F beats "
               "are mostly missed); the model exists to exercise ops, not to be a good classifier.",
               "The DS2 evaluation subset is class-capped, so its plain accuracy is not the DS2 "
               "prevalence-weighted accuracy; per-class recalls are unaffected by the caps."])


