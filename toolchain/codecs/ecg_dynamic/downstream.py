"""The downstream tasks, trained once in the project and frozen while the codec trains.

(a) beats: AAMI N S V F Q from a 180-sample window (0.5 s) of the segment around each annotated R
    peak plus four RR features (previous and next RR and the mean of the last ten, each over the
    record's mean RR, and the previous RR in seconds), inter-patient (DS1 training records, DS2 never);
    RR intervals come from the annotations, on raw and decompressed signals alike, so after
    decompression only the morphology changes;
(b) R peaks: a fully convolutional net marks the samples within +-8 (22 ms) of an annotated R peak
    (ground truth = the MIT-BIH beat annotations); its per-segment loss is the mean BCE. Scoring after
    decompression uses a standard detector (wfdb XQRS) matched one-to-one at 150 ms;
(c) rhythm: N / A / O / ~ (CinC 2017) from a whole segment, trained on CinC training segments and
    DS1 segments labelled from the MIT-BIH rhythm annotations (AFIB, AFL -> A, other rhythms -> O).
Per-segment losses (B,) are differentiable with respect to the reconstructed segment, so the codec's
phase 2 trains through them. Windows near a segment edge come from the segment padded symmetrically
(np.pad / tf.pad 'symmetric'): a segment is decoded on its own.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ... import paths
from . import FS, SEG_N, TASKS
from .segments import AAMI, RHYTHMS, cinc_segments, normalize, record_segments

H = 90                 # half beat window (samples)
K = 20                 # beats per segment kept (5.7 s; > 210 bpm would be cut, none in MIT-BIH DS1/DS2)
RPEAK_TOL = 8          # samples either side of an R annotation marked positive
N_RR = 4
F1_CLASSES = (0, 1, 2, 3)   # AAMI reporting: macro-F1 over N, S, V, F (Q: a handful of beats)
SEED = 0


def tasks_dir() -> Path:
    return paths.models_dir() / "ecg-dynamic" / "tasks"


def _log(msg: str) -> None:
    print(f"[ecg-tasks] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- batches


@dataclass
class TaskBatch:
    """Per-segment inputs and labels of every task (rows are segments)."""
    x_norm: np.ndarray       # (S, 2048) float32
    record: np.ndarray       # (S,) record (int) or CinC name (str)
    seg: np.ndarray          # (S,)
    beat_off: np.ndarray     # (S, K) int32, -1 = no beat
    beat_cls: np.ndarray     # (S, K) int32
    beat_rr: np.ndarray      # (S, K, 4) float32
    rpeak_target: np.ndarray  # (S, 2048) float32
    rpeak_mask: np.ndarray   # (S,) float32: 1 where R-peak ground truth exists (MIT-BIH)
    rhythm: np.ndarray       # (S,) int32, 0..3

    @property
    def n_beats(self) -> int:
        return int((self.beat_off >= 0).sum())


def _rr_features(samples: np.ndarray) -> np.ndarray:
    """(n, 4) RR features of a record's beats from their sample positions."""
    s = samples.astype(np.float64)
    rr = np.diff(s)
    mean_rr = float(np.mean(rr)) if len(rr) else FS
    pre = np.concatenate([[mean_rr], rr])
    post = np.concatenate([rr, [mean_rr]])
    c = np.cumsum(np.concatenate([[0.0], pre]))
    idx = np.arange(len(pre))
    lo = np.maximum(idx - 9, 0)
    local = (c[idx + 1] - c[lo]) / (idx + 1 - lo)
    return np.stack([pre / mean_rr, post / mean_rr, local / mean_rr, pre / FS], 1).astype(np.float32)


def mitdb_task_batch(records) -> TaskBatch:
    rows = {k: [] for k in ("x", "rec", "seg", "off", "cls", "rr", "tgt", "rh")}
    for r in records:
        rs = record_segments(int(r))
        S = rs.n_segments
        feats = _rr_features(rs.beat_sample)
        seg_of = rs.beat_sample // SEG_N
        off = np.full((S, K), -1, np.int32)
        cls = np.zeros((S, K), np.int32)
        rr = np.zeros((S, K, N_RR), np.float32)
        tgt = np.zeros((S, SEG_N), np.float32)
        for s in range(S):
            m = np.flatnonzero(seg_of == s)[:K]
            off[s, :len(m)] = rs.beat_sample[m] - s * SEG_N
            cls[s, :len(m)] = rs.beat_class[m]
            rr[s, :len(m)] = feats[m]
        # R-peak map from every beat annotation (of any class) within the segments
        for b in rs.beat_sample[rs.beat_sample < S * SEG_N]:
            s, o = divmod(int(b), SEG_N)
            tgt[s, max(o - RPEAK_TOL, 0):o + RPEAK_TOL + 1] = 1.0
        rows["x"].append(normalize(rs.x))
        rows["rec"].append(np.full(S, int(r)))
        rows["seg"].append(np.arange(S))
        rows["off"].append(off)
        rows["cls"].append(cls)
        rows["rr"].append(rr)
        rows["tgt"].append(tgt)
        rows["rh"].append(rs.rhythm.astype(np.int32))
    c = {k: np.concatenate(v) for k, v in rows.items()}
    return TaskBatch(c["x"], c["rec"], c["seg"], c["off"], c["cls"], c["rr"], c["tgt"],
                     np.ones(len(c["x"]), np.float32), c["rh"])


def cinc_task_batch(part: str) -> TaskBatch:
    cs = cinc_segments(part)
    S = len(cs.x)
    seg = np.zeros(S, np.int64)
    for i in range(1, S):
        seg[i] = seg[i - 1] + 1 if cs.record[i] == cs.record[i - 1] else 0
    return TaskBatch(normalize(cs.x), cs.record, seg, np.full((S, K), -1, np.int32), np.zeros((S, K), np.int32),
                     np.zeros((S, K, N_RR), np.float32), np.zeros((S, SEG_N), np.float32),
                     np.zeros(S, np.float32), cs.label.astype(np.int32))


# ---------------------------------------------------------------- models


def beat_model():
    from ...train.zoo.common import _keras
    keras = _keras()
    from keras import layers
    w = keras.Input((2 * H, 1), name="beat")
    rr = keras.Input((N_RR,), name="rr")
    h = layers.Conv1D(16, 7, padding="same", activation="relu")(w)
    h = layers.MaxPooling1D(2)(h)
    h = layers.Conv1D(32, 5, padding="same", activation="relu")(h)
    h = layers.MaxPooling1D(2)(h)
    h = layers.Conv1D(32, 5, padding="same", activation="relu")(h)
    h = layers.GlobalAveragePooling1D()(h)
    r = layers.Dense(16, activation="relu")(rr)
    h = layers.Concatenate()([h, r])
    h = layers.Dense(32, activation="relu")(h)
    h = layers.Dropout(0.3)(h)
    return keras.Model([w, rr], layers.Dense(len(AAMI), activation="softmax")(h), name="beat_classifier")


def rpeak_model():
    from ...train.zoo.common import _keras
    keras = _keras()
    from keras import layers
    x = keras.Input((SEG_N, 1), name="segment")
    h = x
    for d in (1, 2, 4, 8):
        h = layers.Conv1D(16, 9, padding="same", dilation_rate=d, activation="relu")(h)
    return keras.Model(x, layers.Conv1D(1, 1)(h), name="rpeak_fcn")  # logits


def rhythm_model():
    from ...train.zoo.common import _keras
    keras = _keras()
    from keras import layers
    x = keras.Input((SEG_N, 1), name="segment")
    h = x
    for ch in (16, 16, 32, 32, 32, 32):
        h = layers.Conv1D(ch, 7, strides=2, padding="same", activation="relu")(h)   # -> 32 steps
    h = layers.Flatten()(h)
    h = layers.Dropout(0.3)(h)
    h = layers.Dense(32, activation="relu")(h)
    return keras.Model(x, layers.Dense(len(RHYTHMS), activation="softmax")(h), name="rhythm_classifier")


# ---------------------------------------------------------------- beat windows


def beat_windows_np(x_norm: np.ndarray, off: np.ndarray) -> np.ndarray:
    """(S, K, 2H) windows around the offsets (rows of -1 give the first window; masked later)."""
    p = np.pad(x_norm, ((0, 0), (H, H)), mode="symmetric")
    o = np.maximum(off, 0)
    idx = o[..., None] + np.arange(2 * H)[None, None, :]
    return np.take_along_axis(p[:, None, :], idx, axis=2)


def _beat_windows_tf(tf, xhat, off):
    x = tf.reshape(xhat, (-1, SEG_N))
    p = tf.pad(x, [[0, 0], [H, H]], mode="SYMMETRIC")
    o = tf.maximum(off, 0)
    idx = o[..., None] + tf.range(2 * H)[None, None, :]
    return tf.gather(p, idx, batch_dims=1)


# ---------------------------------------------------------------- the frozen tasks


class Tasks:
    """The three frozen models, their per-segment losses and their scores."""

    def __init__(self, beat, rpeak, rhythm, weights: dict[str, float], meta: dict | None = None):
        self.beat, self.rpeak, self.rhythm = beat, rpeak, rhythm
        for m in (beat, rpeak, rhythm):
            m.trainable = False
        self.weights = weights
        self.meta = meta or {}

    def segment_losses(self, xhat, batch: TaskBatch) -> dict:
        """Per-segment losses (B,) as tensors, differentiable w.r.t. xhat (B, 2048[, 1])."""
        from ...train.zoo.common import _tf
        tf = _tf()
        x = tf.reshape(tf.cast(xhat, tf.float32), (-1, SEG_N))
        B = tf.shape(x)[0]
        off = tf.constant(batch.beat_off)
        valid = tf.cast(off >= 0, tf.float32)
        w = _beat_windows_tf(tf, x, off)
        p = self.beat([tf.reshape(w, (-1, 2 * H, 1)), tf.reshape(tf.constant(batch.beat_rr), (-1, N_RR))],
                      training=False)
        ce = tf.keras.losses.sparse_categorical_crossentropy(tf.reshape(tf.constant(batch.beat_cls), (-1,)), p)
        ce = tf.reshape(ce, (B, K)) * valid
        beat = tf.reduce_sum(ce, 1) / tf.maximum(tf.reduce_sum(valid, 1), 1.0)
        logits = tf.reshape(self.rpeak(x[..., None], training=False), (-1, SEG_N))
        bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.constant(batch.rpeak_target), logits=logits)
        rpeak = tf.reduce_mean(bce, 1) * tf.constant(batch.rpeak_mask)
        pr = self.rhythm(x[..., None], training=False)
        rhythm = tf.keras.losses.sparse_categorical_crossentropy(tf.constant(batch.rhythm), pr)
        return {"beat": beat, "rpeak": rpeak, "rhythm": rhythm}

    def segment_losses_np(self, xhat: np.ndarray, batch: TaskBatch, chunk: int = 256) -> dict[str, np.ndarray]:
        from .export import take
        out = {t: [] for t in TASKS}
        for b in range(0, len(xhat), chunk):
            sl = np.arange(b, min(b + chunk, len(xhat)))
            r = self.segment_losses(np.asarray(xhat[sl], np.float32), take(batch, sl))
            for t in TASKS:
                out[t].append(np.asarray(r[t]))
        return {t: np.concatenate(v) for t, v in out.items()}

    def beat_probs(self, x_norm: np.ndarray, batch: TaskBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Class probabilities of every beat of the batch: (probs (n, 5), true (n,), segment row (n,))."""
        rows, cols = np.nonzero(batch.beat_off >= 0)
        w = beat_windows_np(x_norm, batch.beat_off)[rows, cols]
        p = self.beat.predict([w[..., None], batch.beat_rr[rows, cols]], verbose=0, batch_size=2048)
        return p, batch.beat_cls[rows, cols], rows


def macro_f1_from(true: np.ndarray, pred: np.ndarray, classes=F1_CLASSES) -> dict:
    f1 = {}
    for k in range(len(AAMI)):
        tp = int(((pred == k) & (true == k)).sum())
        fp = int(((pred == k) & (true != k)).sum())
        fn = int(((pred != k) & (true == k)).sum())
        f1[AAMI[k]] = 2 * tp / max(2 * tp + fp + fn, 1)
    return {"macro_f1": float(np.mean([f1[AAMI[k]] for k in classes])), "f1": f1}


def beat_scores(x_norm: np.ndarray, batch: TaskBatch, tasks: "Tasks | None" = None) -> dict:
    """Predictions for every beat of the batch from (reconstructed) segments, and macro-F1 (N S V F)."""
    tasks = tasks or load_tasks()
    p, true, rows = tasks.beat_probs(x_norm, batch)
    pred = p.argmax(1)
    return {"pred": pred, "true": true, "row": rows, **macro_f1_from(true, pred)}


def qrs_detect(signal_adu: np.ndarray, fs: float = FS) -> np.ndarray:
    """R peaks of a whole record by wfdb's XQRS (on mV with the 11-bit baseline removed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from wfdb import processing
        sig = (np.asarray(signal_adu, np.float64) - 1024.0) / 200.0
        return np.asarray(processing.xqrs_detect(sig, fs, verbose=False), np.int64)


def match_qrs(ref: np.ndarray, det: np.ndarray, fs: float = FS, tol_s: float = 0.150) -> tuple[int, int, int]:
    """One-to-one matching within tol (wfdb.processing.compare_annotations): (tp, fp, fn)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from wfdb import processing
    if len(det) == 0 or len(ref) == 0:
        return 0, len(det), len(ref)
    c = processing.compare_annotations(np.asarray(ref), np.asarray(det), int(round(tol_s * fs)))
    return int(c.tp), int(c.fp), int(c.fn)


def load_tasks(where: Path | None = None) -> Tasks:
    from ...train.zoo.common import _keras
    keras = _keras()
    d = Path(where) if where else tasks_dir()
    meta_p = d / "tasks.json"
    if not meta_p.is_file():
        raise FileNotFoundError(f"{meta_p}: no downstream task models (train them: "
                                "python -m toolchain.codecs.ecg_dynamic.downstream --train)")
    meta = json.loads(meta_p.read_text())
    ms = [keras.models.load_model(d / f"{n}.keras", compile=False) for n in ("beat", "rpeak", "rhythm")]
    return Tasks(*ms, weights=meta["weights"], meta=meta)


# ---------------------------------------------------------------- training


def _beat_arrays(batch: TaskBatch):
    rows, cols = np.nonzero(batch.beat_off >= 0)
    w = beat_windows_np(batch.x_norm, batch.beat_off)[rows, cols]
    return w[..., None], batch.beat_rr[rows, cols], batch.beat_cls[rows, cols]


def _class_weights(y: np.ndarray, n: int, cap: float) -> dict[int, float]:
    c = np.bincount(y, minlength=n)
    return {k: float(min(len(y) / (n * v), cap)) if v else 0.0 for k, v in enumerate(c)}


def train_tasks(out: Path | None = None, seed: int = SEED, epochs: dict | None = None) -> dict:
    from ...data import mitdb_split
    from ...train.zoo.common import _keras, _limit_threads, _seed
    keras = _keras()
    _limit_threads(2)
    ep = {"beat": 12, "rpeak": 4, "rhythm": 12, **(epochs or {})}
    out = Path(out) if out else tasks_dir()
    out.mkdir(parents=True, exist_ok=True)
    split = mitdb_split()
    tb, vb, eb = (mitdb_task_batch(split[k]) for k in ("train", "val", "test"))
    ctr, cte = cinc_task_batch("train"), cinc_task_batch("test")
    fig: dict = {"seconds": {}}

    _seed(seed)
    t0 = time.time()
    wtr, rtr, ytr = _beat_arrays(tb)
    wva, rva, yva = _beat_arrays(vb)
    bm = beat_model()
    steps = ep["beat"] * int(np.ceil(len(ytr) / 256))
    bm.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
               "sparse_categorical_crossentropy")
    bm.fit([wtr, rtr], ytr, validation_data=([wva, rva], yva), epochs=ep["beat"], batch_size=256, verbose=0,
           class_weight=_class_weights(ytr, len(AAMI), 30.0), shuffle=True)
    fig["seconds"]["beat"] = time.time() - t0
    wte, rte, yte = _beat_arrays(eb)
    pe = bm.predict([wte, rte], verbose=0, batch_size=4096).argmax(1)
    fig["beat_ds2"] = macro_f1_from(yte, pe)
    fig["beat_val"] = macro_f1_from(yva, bm.predict([wva, rva], verbose=0, batch_size=4096).argmax(1))
    _log(f"beat: DS2 macro-F1 {fig['beat_ds2']['macro_f1']:.3f} {fig['beat_ds2']['f1']} ({fig['seconds']['beat']:.0f} s)")

    _seed(seed + 1)
    t0 = time.time()
    rp = rpeak_model()
    rp.compile(keras.optimizers.Adam(2e-3), keras.losses.BinaryCrossentropy(from_logits=True))
    rp.fit(tb.x_norm[..., None], tb.rpeak_target[..., None], epochs=ep["rpeak"], batch_size=32, verbose=0)
    fig["seconds"]["rpeak"] = time.time() - t0

    _seed(seed + 2)
    t0 = time.time()
    rm = rhythm_model()
    xr = np.concatenate([ctr.x_norm, tb.x_norm])[..., None]
    yr = np.concatenate([ctr.rhythm, tb.rhythm])
    steps = ep["rhythm"] * int(np.ceil(len(yr) / 64))
    rm.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
               "sparse_categorical_crossentropy")
    rm.fit(xr, yr, epochs=ep["rhythm"], batch_size=64, verbose=0, shuffle=True,
           class_weight=_class_weights(yr, len(RHYTHMS), 10.0),
           validation_data=(vb.x_norm[..., None], vb.rhythm))
    fig["seconds"]["rhythm"] = time.time() - t0
    fig["rhythm_cinc_test"] = rhythm_scores(rm, cte)
    pa = rm.predict(eb.x_norm[..., None], verbose=0, batch_size=256).argmax(1)
    tp = int(((pa == 1) & (eb.rhythm == 1)).sum())
    fig["rhythm_ds2_af_f1"] = 2 * tp / max(int((pa == 1).sum() + (eb.rhythm == 1).sum()), 1)
    _log(f"rhythm: CinC test {fig['rhythm_cinc_test']}, DS2 AF F1 {fig['rhythm_ds2_af_f1']:.3f}")

    tasks = Tasks(bm, rp, rm, {t: 1.0 for t in TASKS})
    # L_w weights: each task's mean loss on raw DS1 validation segments contributes 1 / 3
    raw = tasks.segment_losses_np(vb.x_norm, vb)
    weights = {t: float(1.0 / (3 * max(float(np.mean(raw[t])), 1e-6))) for t in TASKS}
    fig["raw_val_loss"] = {t: float(np.mean(raw[t])) for t in TASKS}
    fig["rpeak_ds2"] = rpeak_scores(rp, eb)
    for name, m in (("beat", bm), ("rpeak", rp), ("rhythm", rm)):
        m.save(out / f"{name}.keras")
    meta = {"weights": weights, "H": H, "K": K, "rpeak_tol": RPEAK_TOL, "seed": seed, "epochs": ep,
            "rr_features": ["pre/mean", "post/mean", "local10/mean", "pre seconds"], "figures": fig}
    (out / "tasks.json").write_text(json.dumps(meta, indent=1) + "\n")
    _write_card(out, meta, split)
    return meta


def rhythm_scores(model, cb: TaskBatch) -> dict:
    """Challenge F1 = mean F1 of N, A, O, per segment and per record (mean segment probabilities)."""
    p = model.predict(cb.x_norm[..., None], verbose=0, batch_size=256)

    def f1s(y, q):
        return {RHYTHMS[k]: 2 * int(((q == k) & (y == k)).sum()) / max(int((q == k).sum() + (y == k).sum()), 1)
                for k in range(len(RHYTHMS))}
    seg = f1s(cb.rhythm, p.argmax(1))
    names = np.unique(cb.record)
    pr = np.array([p[cb.record == n].mean(0).argmax() for n in names])
    yr = np.array([cb.rhythm[cb.record == n][0] for n in names])
    rec = f1s(yr, pr)
    return {"segment_f1": seg, "segment_challenge_f1": float(np.mean([seg[c] for c in "NAO"])),
            "record_f1": rec, "record_challenge_f1": float(np.mean([rec[c] for c in "NAO"]))}


def rpeak_scores(model, b: TaskBatch) -> dict:
    """Peaks of the net's output (local maxima > 0.5, 200 ms apart) matched at 150 ms."""
    from scipy.signal import find_peaks
    lg = model.predict(b.x_norm[..., None], verbose=0, batch_size=128)[..., 0]
    tp = fp = fn = 0
    for s in range(len(lg)):
        pk, _ = find_peaks(lg[s], height=0.0, distance=int(0.2 * FS))
        ref = np.flatnonzero(np.diff(np.concatenate([[0], b.rpeak_target[s]])) > 0) + RPEAK_TOL
        ref = np.minimum(ref, SEG_N - 1)
        a, c, d = match_qrs(ref, pk)
        tp, fp, fn = tp + a, fp + c, fn + d
    return {"se": tp / max(tp + fn, 1), "ppv": tp / max(tp + fp, 1)}


def _write_card(out: Path, meta: dict, split: dict) -> None:
    f = meta["figures"]
    b = f["beat_ds2"]
    r = f["rhythm_cinc_test"]
    lines = [
        "# ecg-dynamic downstream tasks (frozen during codec training)", "",
        "Made by `python -m toolchain.codecs.ecg_dynamic.downstream --train` (seed "
        f"{meta['seed']}); loaded by `downstream.load_tasks()`. Keras models, float (cloud side).", "",
        f"Data: MIT-BIH DS1 training records {split['train']}, validation {split['val']}; DS2 {split['test']} for "
        "the figures only. CinC 2017 subset: every 5th record per class (sorted by name) is test.", "",
        f"- beat classifier (window {2 * H} samples + RR features {meta['rr_features']}), {meta['epochs']['beat']} "
        f"epochs, {f['seconds']['beat']:.0f} s: DS2 (all beats, raw) macro-F1 over N S V F "
        f"**{b['macro_f1']:.3f}**; per class " + ", ".join(f"{k} {v:.3f}" for k, v in b["f1"].items()),
        f"- R-peak FCN (+-{meta['rpeak_tol']} samples), {meta['epochs']['rpeak']} epochs, {f['seconds']['rpeak']:.0f} s: "
        f"DS2 Se {f['rpeak_ds2']['se']:.4f}, PPV {f['rpeak_ds2']['ppv']:.4f} (its own peaks at 150 ms)",
        f"- rhythm classifier, {meta['epochs']['rhythm']} epochs, {f['seconds']['rhythm']:.0f} s: CinC test challenge "
        f"F1 (mean of N, A, O) per segment {r['segment_challenge_f1']:.3f}, per record {r['record_challenge_f1']:.3f} "
        f"(per-record F1 {r['record_f1']}); DS2 AF-vs-rest segment F1 {f['rhythm_ds2_af_f1']:.3f}. 5.7 s segments hold "
        "few beats: the challenge's full-record classifiers score far higher.",
        f"- loss weights for L_w (each task's mean raw DS1-validation loss contributes 1/3): {meta['weights']}",
        f"- mean raw DS1-validation losses: {f['raw_val_loss']}", ""]
    (out / "README.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="train the ECG codec's downstream task models")
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--train-if-missing", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    out = a.out or tasks_dir()
    if a.train or (a.train_if_missing and not (out / "tasks.json").is_file()):
        train_tasks(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
