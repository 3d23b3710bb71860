"""Zoo model 5, image-encoder: a small 2-D convolutional image encoder (32x32 RGB -> 8x8x8 tanh
latent) on the flower photos (flowers_227, 5 classes).

Why it is in the zoo: the zoo's one 2-D model; it exercises PAD, strided 'valid' and 'same' CONV_2D,
DEPTHWISE_CONV_2D with ReLU6, 1x1 CONV_2D and TANH.

How it is built: trained as an autoencoder with a throwaway Conv2DTranspose decoder that is not
exported (its float form scores the int8 latent by PSNR on the card), on the training images and
their horizontal flips; the split is per class by file name, every 5th image is test.
"""
from __future__ import annotations

import time

import numpy as np

from .common import Built, N_HELDOUT, N_REPRESENTATIVE, _deq_out, _evenly, _keras, _q_through, _seed

# ---------------------------------------------------------------- 5. image encoder

IMG = 32
IMG_EPOCHS = 30
FLOWERS = ("daisy", "dandelion", "rose", "sunflower", "tulip")


def _flowers() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train x, train y, test x, test y): RGB scaled to [-1, 1]; test = every 5th image per class."""
    from PIL import Image

    from ...data import data_root
    root = data_root() / "flowers_227"
    parts = {True: ([], []), False: ([], [])}
    for k, cls in enumerate(FLOWERS):
        files = sorted((root / cls).glob("*.jpg"))
        if not files:
            raise FileNotFoundError(f"no JPEGs in {root / cls}")
        for i, f in enumerate(files):
            with Image.open(f) as im:
                a = np.asarray(im.convert("RGB").resize((IMG, IMG), Image.Resampling.BOX), dtype=np.float32)
            xs, ys = parts[i % 5 == 4]
            xs.append(a / 127.5 - 1.0)
            ys.append(k)
    (xtr, ytr), (xte, yte) = parts[False], parts[True]
    return np.stack(xtr), np.array(ytr), np.stack(xte), np.array(yte)


def image_encoder_models(batch_size: int | None):
    keras = _keras()
    from keras import layers
    x = keras.Input((IMG, IMG, 3), batch_size=batch_size, name="image")
    h = layers.ZeroPadding2D(1, name="pad")(x)
    h = layers.Conv2D(8, 3, strides=2, padding="valid", activation="relu", name="conv1")(h)
    h = layers.DepthwiseConv2D(3, padding="same", activation="relu6", name="dwconv")(h)
    h = layers.Conv2D(16, 1, activation="relu", name="pwconv")(h)
    h = layers.Conv2D(8, 3, strides=2, padding="same", name="conv2")(h)
    z = layers.Activation("tanh", name="latent")(h)
    enc = keras.Model(x, z, name="image_encoder")
    zi = keras.Input(tuple(int(s) for s in z.shape[1:]), batch_size=batch_size)
    h = layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(zi)
    h = layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(h)
    o = layers.Conv2D(3, 3, padding="same", activation="tanh")(h)
    dec = keras.Model(zi, o, name="image_decoder_throwaway")
    return enc, dec


def _psnr(x, xh) -> np.ndarray:
    """PSNR in dB per image, on [-1, 1] pixels (peak-to-peak 2), i.e. the same as on 0..255."""
    mse = ((x - xh) ** 2).reshape(len(x), -1).mean(1)
    return 10 * np.log10(4.0 / np.maximum(mse, 1e-12))


def _build_image_encoder(seed: int) -> Built:
    keras = _keras()
    xtr, ytr, xte, yte = _flowers()
    xaug = np.concatenate([xtr, xtr[:, :, ::-1]])  # + horizontal flips
    _seed(seed)
    enc, dec = image_encoder_models(None)
    xin = keras.Input((IMG, IMG, 3))
    ae = keras.Model(xin, dec(enc(xin)))
    ae.compile(keras.optimizers.Adam(3e-3), "mse")
    t0 = time.time()
    hist = ae.fit(xaug, xaug, validation_data=(xte, xte), epochs=IMG_EPOCHS, batch_size=32,
                  shuffle=True, verbose=0)
    train_s = time.time() - t0
    enc1, _ = image_encoder_models(1)
    enc1.set_weights(enc.get_weights())
    z_te = enc.predict(xte, verbose=0)
    xh_te = dec.predict(z_te, verbose=0)
    held_i = _evenly(len(xte), N_HELDOUT)

    def quality(tfl: bytes):
        _, zq, io_ = _q_through(tfl, xte)
        z_i = _deq_out(zq, io_).reshape(z_te.shape)
        xh_i = dec.predict(z_i, verbose=0)
        pf, pi = _psnr(xte, xh_te), _psnr(xte, xh_i)
        return [
            (f"PSNR dB, encoder + throwaway float decoder ({len(xte)} test images, mean)",
             f"{pf.mean():.2f}", f"{pi.mean():.2f}"),
            (f"PSNR dB ({N_HELDOUT} held-out images, mean)", f"{pf[held_i].mean():.2f}",
             f"{pi[held_i].mean():.2f}"),
            ("latent RMSE vs float (latent in -1..1)", "0", f"{np.sqrt(np.mean((z_i - z_te) ** 2)):.4f}"),
        ]

    h = hist.history
    return Built(
        model=enc1, representative=xtr[_evenly(len(xtr), N_REPRESENTATIVE)], heldout=xte[held_i],
        labels=yte[held_i].astype(np.int8),
        data=(f"Flowers (`flowers_227/`, 750 RGB JPEGs, 227x227, 5 classes: {', '.join(FLOWERS)} = labels "
              f"0..4), resized to {IMG}x{IMG} with PIL's box filter, pixels scaled to [-1, 1] "
              f"(p / 127.5 - 1). Split: per class, files sorted by name, every 5th (index 4, 9, ...) is "
              f"test: {len(xtr)} training / {len(xte)} test images. Representative data: 200 evenly spaced "
              f"training images; held-out: {len(held_i)} evenly spaced test images (`labels` = class)."),
        train=(f"Trained as an autoencoder with a throwaway decoder (Conv2DTranspose 16, 16 -> Conv2D 3 + "
               f"tanh; not exported): Adam 3e-3, MSE, batch 32, {IMG_EPOCHS} epochs over the training images "
               f"and their horizontal flips ({len(xaug)}), {train_s:.1f} s on the CPU; final training MSE "
               f"{h['loss'][-1]:.5f}, test MSE {h['val_loss'][-1]:.5f} (pixels in [-1, 1])."),
        train_s=train_s, quality=quality)


