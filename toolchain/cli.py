"""`tinycodec`: the toolchain's command line."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def _p(*a, **k):
    print(*a, **k, flush=True)


def cmd_boards(args) -> int:
    from .boards import list_boards, load_board
    for name in list_boards():
        b = load_board(name)
        _p(f"{name:14s} {b.description}  ({b.family.summary(b)}, multiplier: {b.hwmult})")
    return 0


def _models_dir(args) -> Path:
    """--models-dir, else the committed models/ folder."""
    from .pipeline import MODELS_DIR
    return Path(args.models_dir) if getattr(args, "models_dir", None) else MODELS_DIR


def _specs(args) -> Path | None:
    """Specs file of args.model: --specs, else the spec.toml saved with a user's model, else None (built-in)."""
    if getattr(args, "specs", None):
        return Path(args.specs)
    saved = _models_dir(args) / args.model / "spec.toml"
    return saved if saved.is_file() else None


def cmd_models(args) -> int:
    from .train.datasets import SPECS_FILE, load_specs
    for name, s in load_specs(args.specs or SPECS_FILE).items():
        have = "trained" if (_models_dir(args) / name / "model.json").exists() else "not trained"
        _p(f"{name:16s} {s.source:18s} {s.mode:8s} n={s.n:<3d} m={s.hidden:<3d} eps={s.eps}  [{have}]")
    return 0


def cmd_train(args) -> int:
    import json as _json

    from .stages import stage_dir
    from .train.autoencoder import FloatAE
    from .train.datasets import prepare
    from .train.fit import save_curve, save_model, train_stage
    from .train.model_card import write_card
    prep = prepare(args.model, _specs(args))
    _p(f"{args.model}: {len(prep.train)} train / {len(prep.val)} validation / {len(prep.test)} test windows")
    fm = train_stage(prep, args.variant, iters=args.iters, seed=args.seed, force=args.force)
    d = stage_dir(args.model)
    ae = FloatAE.from_dict(_json.loads((d / f"float_{args.variant}.json").read_text()))
    _p(f"{d}/model_{args.variant}.json: final validation RMSE "
       f"{ae.curve[-1].get('val_rmse', float('nan')):.4f} (sphered units), curve_{args.variant}.png")
    if args.save:
        out = _models_dir(args) / args.model
        save_model(fm, out / "model.json")
        from .train.datasets import SPECS_FILE, write_spec
        if _specs(args) is not None and _specs(args).resolve() != SPECS_FILE.resolve():
            write_spec(prep.spec, out / "spec.toml")  # a user's spec: build/run find its data through this copy
        save_curve(ae, out / "curve.csv", out / "curve.png")
        write_card(fm, prep, ae, out / "README.md")
        _p(f"saved {out}/model.json, README.md (model card), curve.png")
    return 0


def _load(args):
    from .boards import load_board
    from .pipeline import get_model
    return (get_model(args.model, getattr(args, "model_file", None), getattr(args, "models_dir", None)),
            load_board(args.target))


def cmd_build(args) -> int:
    from .pipeline import build
    fm, b = _load(args)
    built = build(fm, b)
    _p(f"{b.name}: {built.artifact}" + (f" and {built.image} ({built.image.stat().st_size} B)" if built.image else ""))
    if built.image is not None and not b.flash_bytes:  # runs from RAM (the K210): the image is loaded there
        _p(f"  image {built.flash_bytes} B + bss {built.ram_bytes} + stack {built.stack_reserve} / RAM {b.ram_bytes} B")
    elif built.flash_bytes is not None:
        _p(f"  flash {built.flash_bytes} / {b.flash_limit} B, RAM {built.ram_bytes} + stack "
           f"{built.stack_reserve} / {b.ram_bytes} B")
    return 0


def cmd_run(args) -> int:
    from .pipeline import build, run, verify
    from .train.datasets import prepare
    fm, b = _load(args)
    prep = prepare(args.model, _specs(args))
    X = prep.test[: args.windows]
    built = build(fm, b)
    eps_list = args.eps or prep.spec.eps
    ok = True
    for eps in eps_list:
        st: dict = {}
        dev = run(fm, built, X, eps, args.latent_bits, stats=st, mean_shift=args.mean_shift)
        v = verify(fm, X, eps, dev, args.latent_bits, args.mean_shift)
        cyc = [w.cycles if w.cycles is not None else w.cycles_raw for w in dev if w.cycles_raw is not None]
        ins = [w.instructions for w in dev if w.instructions is not None]
        raw_bits = X.size * fm.word_bits
        _p(f"{b.name} {fm.name} eps={eps}: {v.bit_exact}/{v.windows} windows bit-exact, "
           f"{v.violations} bound violations (max |err| {v.max_abs_err}), CR {raw_bits / max(v.bits, 1):.2f}"
           + (f", {np.mean(cyc):.0f} cycles/window" if cyc else "")
           + (f", {np.mean(ins):.0f} instructions/window (exact, QEMU -icount)" if ins else "")
           + (f", {v.imputed} readings imputed" if v.imputed else "")
           + (f"; RAM {built.ram_bytes} B static + {st['peak_stack_bytes']} B peak stack (measured)"
              if st.get("peak_stack_bytes") is not None else ""))
        ok &= v.bit_exact == v.windows and v.violations == 0
    return 0 if ok else 1


def cmd_decode(args) -> int:
    """Decode device output records (uint16 nbits, uint8 imputed, uint8 0, bytes) to CSV readings."""
    from .codecs import ae_codec
    from .pipeline import get_model
    fm = get_model(args.model, args.model_file, args.models_dir)
    raw = Path(args.input).read_bytes()
    rows, pos, k = [], 0, 0
    while pos < len(raw):
        if pos + 2 > len(raw):
            raise SystemExit(f"{args.input}: truncated record header at byte {pos}")
        nbits = raw[pos] | (raw[pos + 1] << 8)
        nbytes = (nbits + 7) // 8
        data = raw[pos + 4: pos + 4 + nbytes]
        if len(data) < nbytes:
            raise SystemExit(f"{args.input}: window {k} at byte {pos} needs {nbytes} bytes, {len(data)} left")
        x, miss = ae_codec.decode(fm, data, nbits, args.eps, args.latent_bits, args.mean_shift)
        q = fm.meta.get("quantum", 1.0)
        rows.append(",".join("" if m else f"{v * q:.6g}" for v, m in zip(x, miss)))
        pos += 4 + nbytes
        k += 1
    out = "\n".join(rows) + "\n"
    if args.output:
        Path(args.output).write_text(out)
        _p(f"decoded {k} windows to {args.output}")
    else:
        sys.stdout.write(out)
    return 0


def cmd_flash(args) -> int:
    from .boards import load_board
    from .flash import flash
    from .link.app import is_dynamic, load_app_model
    if is_dynamic(args.model, getattr(args, "models_dir", None)):
        fm, b = load_app_model(args.model, getattr(args, "models_dir", None)), load_board(args.target)
    else:
        fm, b = _load(args)
    return flash(fm, b, port=args.port, driver=args.driver, baud=args.baud, isp_board=args.board,
                 models_dir=getattr(args, "models_dir", None))


def cmd_bench_wsn(args) -> int:
    from .bench.wsn import run_bench, run_device_only
    if args.device_only:
        return run_device_only(args.models, args.boards, args.device_windows)
    return run_bench(models=args.models, quick=args.quick, device_windows=args.device_windows,
                     plot_only=args.plot_only)


def cmd_zoo(args) -> int:
    from .train.zoo import build_zoo
    paths = build_zoo(args.only or None, seed=args.seed, log=_p)
    for p in paths:
        _p(f"wrote {p}")
    return 0


def cmd_nn_generate(args) -> int:
    from toolchain.nn.codegen import generate_nn
    from toolchain.nn.pipeline import generate, resolve_model
    if args.out:
        name, path = resolve_model(args.model)
        gen = generate_nn(path, args.out, name=args.name or name)
    else:
        gen = generate(args.model)
    _p(f"{gen.out_dir}/{gen.name}.c: {len(gen.lowered.steps)} steps, arena {gen.arena_bytes} B, "
       f"constants {gen.weight_bytes} B of weights; kernels: {', '.join(p.name for p in gen.sources[1:])}")
    return 0


def cmd_nn_verify(args) -> int:
    from toolchain.nn.pipeline import verify
    v = verify(args.model, args.target, n_random=args.random, n_heldout=args.heldout, measure=not args.no_cycles)
    per = f", {v.counts_mean:.0f} {v.count_kind} per inference" if v.counts_mean is not None else ""
    _p(f"{v.model} on {v.board}: {v.n_inputs} inputs ({v.n_heldout} held-out), "
       f"{'bit-exact with TFLite Micro' if v.bit_exact else f'{len(v.mismatches)} DIFFER from TFLite Micro'}; "
       f"arena {v.arena_bytes} B (TFLM {v.tflm_arena_bytes} B, of which {v.tflm_head_bytes} B activations), "
       f"flash {v.footprint.get('flash')} B{per}")
    return 0 if v.bit_exact else 1


def cmd_bench_nn(args) -> int:
    from .bench.nn import run_bench
    path = run_bench(args.models, args.targets, log=_p)
    _p(f"wrote {path} and {path.with_name('nn_arena_vs_tflm.png')}")
    return 0


def cmd_demo(args) -> int:
    from .bench.demo import demo
    return demo(args.target)


def cmd_data(args) -> int:
    from .data.fetch import cli_main
    return cli_main(args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tinycodec", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def user_models(p):
        p.add_argument("--specs", type=Path, help="a specs TOML of your own (e.g. source = \"file\" tables "
                                                  "over your CSV/Parquet/WFDB data) instead of models/specs.toml")
        p.add_argument("--models-dir", type=Path, help="folder of trained models <DIR>/<model>/ (train --save "
                                                       "writes there; default: the repo's models/)")

    def common(p, target=True):
        p.add_argument("--model", default="gsb-temporal", help="model name (models/specs.toml, or --specs FILE)")
        p.add_argument("--model-file", type=Path, help="use this model.json instead of models/<model>/")
        user_models(p)
        if target:
            p.add_argument("--target", default="msp430f1611", help="board folder under targets/")

    sub.add_parser("boards", help="list boards").set_defaults(fn=cmd_boards)
    p = sub.add_parser("models", help="list model specs")
    user_models(p)
    p.set_defaults(fn=cmd_models)
    p = sub.add_parser("train", help="train + quantize a model (stage files in build/<model>/host)")
    common(p, target=False)
    p.add_argument("--variant", default="ae", choices=["ae", "wae", "sae"])
    p.add_argument("--iters", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", action="store_true", help="also write models/<model>/ (model, card, curve)")
    p.add_argument("--force", action="store_true", help="retrain even if the stage is up to date")
    p.set_defaults(fn=cmd_train)
    p = sub.add_parser("build", help="generate C and build it for a board")
    common(p)
    p.set_defaults(fn=cmd_build)
    p = sub.add_parser("run", help="run held-out windows on a board, compare with Python, decode on the host")
    common(p)
    p.add_argument("--windows", type=int, default=200)
    p.add_argument("--eps", type=int, action="append", help="error bound(s), native units (default: the spec's)")
    p.add_argument("--latent-bits", type=int, default=None, help="bits per latent unit (default: the model's)")
    p.add_argument("--mean-shift", type=int, default=0, help="window mean sent on a 2^t grid (0..8)")
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("decode", help="decode a board's link stream (--port/--file/--udp) or a file of "
                                      "device output records (--input)",
                       description="Link streams: tinycodec decode --port PORT | --file CAPTURE | --udp PORT "
                                   "[--model M] [--out F --format csv|wfdb|parquet] (see tinycodec decode --port x "
                                   "--help). Device output records of the simulator harness: --input FILE --eps N. "
                                   "Images: --format png --model CODEC --out DIR --file PACKETS | --udp PORT "
                                   "(see tinycodec decode --format png --help).")
    common(p, target=False)
    p.add_argument("--input", required=True)
    p.add_argument("--output")
    p.add_argument("--eps", type=int, required=True)
    p.add_argument("--latent-bits", type=int, default=None, help="bits per latent unit (default: the model's)")
    p.add_argument("--mean-shift", type=int, default=0, help="window mean sent on a 2^t grid (0..8)")
    p.set_defaults(fn=cmd_decode)
    p = sub.add_parser("flash", help="flash a real board (mspdebug for MSP430, kflash for K210)")
    common(p)
    p.add_argument("--port", help="serial port (K210 default: board.toml's, /dev/ttyUSB0)")
    p.add_argument("--driver", help="mspdebug driver: rf2500, tilib, ezfet, uif, ... (default: the board's)")
    p.add_argument("--baud", type=int, help="kflash: baud rate after the ISP handshake (default: the board's)")
    p.add_argument("--board", help="kflash: dev board for the DTR/RTS reset (dan, bit, kd233, goE, ...)")
    p.set_defaults(fn=cmd_flash)
    p = sub.add_parser("bench-wsn", help="rate-distortion + device tables into results/")
    p.add_argument("--models", nargs="*", default=None)
    p.add_argument("--quick", action="store_true", help="fewer windows (smoke run)")
    p.add_argument("--device-windows", type=int, default=None)
    p.add_argument("--plot-only", action="store_true", help="redraw results/wsn_cr_vs_eps.png from the CSV")
    p.add_argument("--device-only", action="store_true",
                   help="only the device rows of --boards (session choices from the existing table)")
    p.add_argument("--boards", nargs="+", default=["cortex-m-qemu"], help="with --device-only")
    p.set_defaults(fn=cmd_bench_wsn)
    p = sub.add_parser("zoo", help="train + convert the int8 TFLite model zoo into models/zoo/")
    p.add_argument("--only", nargs="+", metavar="NAME", help="build only these zoo models")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(fn=cmd_zoo)
    p = sub.add_parser("nn-generate", help="int8 .tflite (or zoo name) -> C99 with a static arena")
    p.add_argument("model", help="zoo model name or path to an int8 .tflite")
    p.add_argument("--out", type=Path, help="output folder (default build/<model>/nn/)")
    p.add_argument("--name", help="C identifier prefix (default: the model name)")
    p.set_defaults(fn=cmd_nn_generate)
    p = sub.add_parser("nn-verify", help="run generated C on a board and compare with TFLite Micro")
    p.add_argument("model", help="zoo model name or path to an int8 .tflite")
    p.add_argument("--target", default="native", help="board folder under targets/")
    p.add_argument("--random", type=int, default=100, help="random int8 inputs besides the held-out ones")
    p.add_argument("--heldout", type=int, default=None, help="use only the first N held-out inputs")
    p.add_argument("--no-cycles", action="store_true", help="MSP430: skip the cycle probe (half the time)")
    p.set_defaults(fn=cmd_nn_verify)
    p = sub.add_parser("bench-nn", help="zoo x boards -> results/nn_codegen.csv")
    p.add_argument("--models", nargs="*", default=None)
    p.add_argument("--targets", nargs="*", default=None)
    p.set_defaults(fn=cmd_bench_nn)
    p = sub.add_parser("demo", help="end to end on one board in a few minutes")
    p.add_argument("--target", default="msp430f1611")
    p.set_defaults(fn=cmd_demo)
    p = sub.add_parser("data", help="data sets: list them, verify a data root, fetch what is missing or bad")
    dsub = p.add_subparsers(dest="data_cmd", required=True)
    for name, hlp in (("list", "sets, sizes and source URLs of the catalog"),
                      ("verify", "check every file's size and SHA-256 (exit 0 all ok, 1 otherwise)"),
                      ("fetch", "download missing or bad files (resumable; refuses checksum mismatches)")):
        q = dsub.add_parser(name, help=hlp)
        q.add_argument("--catalog", help="catalog JSON (default toolchain/data/catalog.json)")
        if name != "list":
            q.add_argument("--root", help="data root (default $TINYCODEC_DATA or <repo>/../shared/data)")
            q.add_argument("sets", nargs="*", metavar="SET", help="data sets (default: all)")
        if name == "fetch":
            q.add_argument("--mirror", help="base URL of a copy of a data root (<URL>/<set>/<file>); "
                                            "default: the original sources (PhysioNet via wfdb, HTTP)")
            q.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout in seconds")
        q.set_defaults(fn=cmd_data)
    # The ECG codec's commands have their own parsers (toolchain/codecs/ecg_dynamic/): listed here for
    # --help, handed their arguments untouched.
    ecg = {"train-ecg": ("toolchain.codecs.ecg_dynamic.train", "train the multi-level ECG codec (3 phases) "
                         "into models/ecg-dynamic (resumable)"),
           "bench-ecg": ("toolchain.codecs.ecg_dynamic.bench", "Dynamic-Deep evaluation on MIT-BIH DS2 -> "
                         "results/ecg_dynamic.csv + PNGs"),
           "ecg-cost": ("toolchain.codecs.ecg_dynamic.cost", "yearly cloud cost of raw / lossless / dynamic "
                        "ECG storage from a config of your prices"),
           "bench-image": ("toolchain.codecs.image.bench", "image codec (Starfish): NAS on the K210, training, "
                           "rate-quality, packet loss, LoRa network, deployment -> results/image_*.csv, nas.csv"),
           "nas-image": ("toolchain.codecs.image.nas_run", "the image codec's hardware-aware NAS alone "
                         "(resumable; --storage URL for many machines)")}
    for name, (_mod, hlp) in ecg.items():
        sub.add_parser(name, help=hlp, add_help=False)
    sub.add_parser("image-encode", help="your pictures -> an image codec's LoRa packets in a packets file "
                   "(decode them with decode --format png)", add_help=False)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["image-encode"]:
        from .codecs.image.gateway import encode_main
        return encode_main(argv[1:])
    if argv[:1] == ["decode"]:
        from .codecs.image.gateway import decode_main, wants_png
        if wants_png(argv[1:]):   # the image gateway: packets file or Semtech UDP -> PNG files
            return decode_main(argv[1:])
    if argv[:1] and argv[0] in ecg:
        import importlib
        return importlib.import_module(ecg[argv[0]][0]).main(argv[1:])
    if argv[:1] == ["decode"] and any(a.split("=")[0] in ("--port", "--file", "--udp") for a in argv[1:]):
        # A board's link stream (serial port, pty, capture file, LoRa via UDP): host_tools' decoder.
        from host_tools.decode_cli import main as decode_link
        return decode_link(argv[1:])
    args = ap.parse_args(argv)
    from .families.common import BuildError, FitError, Unsupported
    from toolchain.nn.lower import UnsupportedModelError
    from toolchain.nn.targets import TargetError
    from toolchain.nn.tflite_model import TfliteFormatError
    from .data import DataError
    try:
        return args.fn(args)
    except (FileNotFoundError, KeyError, ValueError, RuntimeError, DataError, FitError, BuildError,
            UnsupportedModelError, TfliteFormatError, TargetError, Unsupported) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        _p(f"tinycodec: error: {msg}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:  # an optional part that is not installed: name its extra
        extra = _EXTRA_OF.get((e.name or "").split(".")[0])
        if extra is None:
            raise
        _p(f"tinycodec: error: {args.cmd} needs {e.name}, which is not installed "
           f"(pip install 'tinycodec[{extra}]', or make setup)", file=sys.stderr)
        return 2


# Top-level modules of the optional parts -> the pyproject extra that installs them.
_EXTRA_OF = {"tensorflow": "nn", "keras": "nn", "tflite_micro": "nn", "PIL": "nn", "serial": "link",
             "pyarrow": "link", "kflash": "k210"}


if __name__ == "__main__":
    sys.exit(main())
