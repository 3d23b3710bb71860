"""`tinycodec decode`: a board's link -> decoded signal file, with live link statistics.

Sources (one):
    --port PORT [--baud 115200]   a board on a serial port (or a virtual board's pty). pyserial drops
                                  what was pending when the port opens, and a board announces its
                                  session only when it (re)identifies, so "identify" is sent first
                                  (it restarts the board's window numbering); --no-identify listens only
    --file CAPTURE                a captured byte stream (LinkClient(capture=...)); stops at its end
    --udp PORT [--host 127.0.0.1] LoRa uplinks from a gateway's Semtech UDP packet forwarder

--model defaults to the one the board names in its IDENTIFY ("ecg-dynamic": the ECG dynamic codec
folder, $TINYCODEC_ECG_DYNAMIC or models/ecg-dynamic; --models-dir DIR looks in DIR/<model> first).
--out PATH --format csv|wfdb|parquet (default: from PATH's suffix) writes the decoded samples in
native units; samples lost on the link or missing at the sensor are written empty (CSV), null
(Parquet) or as WFDB's invalid sample. For the ECG dynamic codec, CSV and Parquet also get
per-sample `level` and `flag` columns, and WFDB an annotation file <record>.lvl (one '='
annotation per segment at its first sample, aux_note "level=2 cg=32 flag=none").
--duration S stops a port or UDP source after S seconds (default: until Ctrl-C).

Progress (windows, frames, CRC failures, sequence gaps, resyncs) goes to stderr; the final
summary names what was lost: message sequence numbers and window numbers.
Exit status: 0 decoded; 1 nothing decodable, or undecodable windows (or, with --strict, any
loss); 2 bad arguments or a source that cannot be opened.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from toolchain.link.frames import MsgType

from .decoder import HostDecoder, is_dynamic, load_codec_model
from .writers import FORMATS, SegmentInfo, write_signals

CHUNK = 65536
REFRESH_S = 0.2


class SourceError(RuntimeError):
    pass


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="tinycodec decode", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--port", help="serial port of the board, e.g. /dev/ttyUSB0 or a virtual board's /dev/pts/N")
    src.add_argument("--file", type=Path, help="captured byte stream")
    src.add_argument("--udp", type=int, metavar="PORT", help="UDP port for a Semtech packet forwarder's PUSH_DATA")
    ap.add_argument("--baud", type=int, default=115200)
    ap.add_argument("--host", default="127.0.0.1", help="--udp: address to listen on (default 127.0.0.1)")
    ap.add_argument("--no-identify", action="store_true", help="--port: do not ask the board to identify")
    ap.add_argument("--model", help="codec model (default: the one named in the board's IDENTIFY)")
    ap.add_argument("--models-dir", type=Path, help="folder of models (<dir>/<model>/model.json, or "
                                                    "<dir>/ecg-dynamic/codec.json) to look in first")
    ap.add_argument("--out", type=Path, help="write the decoded signal here")
    ap.add_argument("--format", choices=FORMATS, help="output format (default: from --out's suffix)")
    ap.add_argument("--duration", type=float, help="--port/--udp: stop after this many seconds")
    ap.add_argument("--strict", action="store_true", help="exit 1 if any message or window was lost")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return ap


def _out_format(out: Path, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffix = out.suffix.lower()
    by_suffix = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".hea": "wfdb", ".dat": "wfdb", "": "wfdb"}
    if suffix not in by_suffix:
        raise SourceError(f"--out {out}: cannot tell the format from {suffix!r}; give --format {'|'.join(FORMATS)}")
    return by_suffix[suffix]


def _model_loader(errors: list[str], models_dir: Path | None = None):
    def load(name: str):
        try:
            return load_codec_model(name, models_dir)
        except Exception as e:  # noqa: BLE001 - reported in the summary; the stream goes on
            errors.append(f"model {name!r} named by the board cannot be loaded: {e}")
            return None
    return load


# --- sources: each yields after every read so the progress bar and the clock can move -------------

def _file_source(path: Path, dec: HostDecoder) -> Iterator[None]:
    try:
        f = open(path, "rb")
    except OSError as e:
        raise SourceError(f"--file {path}: {e.strerror or e}") from None
    with f:
        while chunk := f.read(CHUNK):
            dec.feed(chunk)
            yield


def _port_source(port: str, baud: int, dec: HostDecoder, identify: bool) -> Iterator[None]:
    from .link_client import LinkClient

    try:
        client = LinkClient(port, baud, decoder=dec)
    except Exception as e:  # noqa: BLE001 - serial.SerialException, OSError
        raise SourceError(f"--port {port}: cannot open at {baud} baud: {e}") from None
    try:
        if identify:
            client.send(MsgType.COMMAND, b"identify")
        while True:
            try:
                client.poll(0.05)
            except Exception as e:  # noqa: BLE001 - serial.SerialException, OSError: the port went away
                dec.stats.note(f"--port {port}: reading stopped: {e}")
                return
            yield
    finally:
        client.close()


def _udp_source(host: str, port: int, dec: HostDecoder, stats_out: dict) -> Iterator[None]:
    from .semtech_udp import UdpListener

    try:
        listener = UdpListener(host, port)
    except OSError as e:
        raise SourceError(f"--udp {host}:{port}: cannot listen: {e.strerror or e}") from None
    stats_out["udp"] = listener.stats
    try:
        while True:
            for up in listener.poll(0.05):
                dec.feed_packet(up.payload)
            yield
    finally:
        listener.close()


# --- progress and summary ---------------------------------------------------------------------------

def _figures(dec: HostDecoder) -> dict[str, int]:
    s = dec.stream.stats
    return {"frames": s.frames_ok + dec.stats.packets - sum(dec.stats.packets_bad.values()),
            "crc": s.crc_errors + dec.stats.packets_bad.get("crc", 0),
            "gaps": len(dec.stats.lost_messages), "resyncs": s.resyncs}


def summary_lines(dec: HostDecoder, extra: dict) -> list[str]:
    """What was decoded and exactly what was lost."""
    a, s = dec.stats, dec.stream.stats
    lost_w = dec.lost_windows()
    from host_tools.testing.faults import ranges

    lines = []
    if dec.board:
        lines.append("board: " + " ".join(f"{k}={v}" for k, v in dec.board.items()))
    seen = f"; numbers {min(dec.windows)}..{max(dec.windows)} seen" if dec.windows else ""
    lines.append(f"windows: {a.windows - a.window_errors} decoded, {a.window_errors} undecodable, "
                 f"{len(lost_w)} lost" + (f" ({ranges(lost_w)})" if lost_w else "") + seen)
    lines.append(f"messages: {a.messages} received, {len(a.lost_messages)} lost"
                 + (f" (seq {ranges(a.lost_messages)})" if a.lost_messages else "")
                 + f"; reports {a.reports} ({a.report_errors} bad)")
    if s.bytes_in:
        lines.append(f"stream: {s.bytes_in} bytes, {s.frames_ok} frames, CRC failures {s.crc_errors}, COBS errors "
                     f"{s.cobs_errors}, too long {s.too_long}, short {s.short_frames}, resyncs {s.resyncs}, "
                     f"{s.bytes_discarded} bytes discarded")
    if a.packets:
        bad = ", ".join(f"{k} {v}" for k, v in sorted(a.packets_bad.items())) or "none"
        lines.append(f"packets: {a.packets} uplinks, rejected: {bad}")
    if "udp" in extra:
        u = extra["udp"]
        lines.append(f"udp: {u.datagrams} datagrams ({u.push_data} PUSH_DATA, {u.pull_data} PULL_DATA), "
                     f"{u.radio_crc_bad} radio CRC failures, {u.malformed} malformed")
    for e in a.errors[:10]:
        lines.append(f"note: {e}")
    if len(a.errors) > 10:
        lines.append(f"note: ... {len(a.errors) - 10} more")
    return lines


def _channels(dec: HostDecoder) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Channels in native units and their validity (received and not missing at the sensor)."""
    fm = dec.model
    values, received = dec.signal()
    valid = received.copy()
    for k, w in dec.windows.items():
        if w.missing is not None and k >= 0:
            valid[k * fm.n:(k + 1) * fm.n] &= ~w.missing
    name = dec.board.get("model", fm.name) if dec.board else fm.name
    if fm.mode == "temporal" or is_dynamic(fm):
        return {name: values}, {name: valid}
    v, ok = values.reshape(-1, fm.n), valid.reshape(-1, fm.n)  # spatial: one row per instant
    return ({f"s{j}": v[:, j] for j in range(fm.n)}, {f"s{j}": ok[:, j] for j in range(fm.n)})


def _segments(dec: HostDecoder) -> list[SegmentInfo] | None:
    """The ECG dynamic codec's decoded segments (level, flag) in sample order; None for other codecs."""
    if not is_dynamic(dec.model):
        return None
    n = dec.model.n
    return [SegmentInfo(k * n, n, w.level, w.flag) for k, w in sorted(dec.windows.items())
            if k >= 0 and w.values is not None and w.level is not None]


def _sampling_hz(model) -> float | None:
    if is_dynamic(model):
        from toolchain.codecs.ecg_dynamic import FS
        return FS
    model_name = model.name
    try:
        from toolchain.link.app import SAMPLE_MS
        from toolchain.train.datasets import load_specs
        return 1000.0 / SAMPLE_MS[load_specs()[model_name].source]
    except (KeyError, ImportError, FileNotFoundError, ZeroDivisionError):
        return None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    err = sys.stderr
    try:
        fmt = _out_format(args.out, args.format) if args.out else None
        notes: list[str] = []
        if args.model:
            try:
                dec = HostDecoder(model=load_codec_model(args.model, args.models_dir))
            except Exception as e:  # noqa: BLE001
                raise SourceError(f"--model {args.model}: {e}") from None
        else:
            dec = HostDecoder(models_loader=_model_loader(notes, args.models_dir))
        extra: dict = {}
        if args.file:
            src = _file_source(args.file, dec)
        elif args.port:
            src = _port_source(args.port, args.baud, dec, not args.no_identify)
        else:
            src = _udp_source(args.host, args.udp, dec, extra)
        _run(src, dec, args, err)
    except SourceError as e:
        print(f"tinycodec decode: {e}", file=err)
        return 2
    dec.finish()
    for n in notes:
        dec.stats.note(n)
    if args.model and dec.board and dec.board.get("model") not in (None, args.model):
        dec.stats.note(f"the board says it runs model {dec.board['model']!r}; decoded with --model {args.model}")
    print("\n".join(summary_lines(dec, extra)))
    decoded = dec.stats.windows - dec.stats.window_errors
    if args.out and dec.model is not None and decoded:
        chans, valid = _channels(dec)
        fs = _sampling_hz(dec.model)
        if fmt == "wfdb" and fs is None:
            print(f"tinycodec decode: no sampling rate known for model {dec.model.name}; WFDB needs one",
                  file=err)
            return 2
        paths = write_signals(args.out, fmt, chans, fs=fs, valid=valid, segments=_segments(dec))
        print("wrote " + ", ".join(map(str, paths)))
    elif args.out:
        print(f"nothing written to {args.out}: no window could be decoded")
    if decoded == 0 or dec.stats.window_errors:
        return 1
    if args.strict and (dec.stats.lost_messages or dec.lost_windows()):
        return 1
    return 0


def _run(src: Iterator[None], dec: HostDecoder, args: argparse.Namespace, err) -> None:
    from tqdm import tqdm

    end = time.monotonic() + args.duration if args.duration is not None and not args.file else None
    bar = tqdm(unit=" windows", file=err, disable=args.no_progress, dynamic_ncols=True, mininterval=REFRESH_S)
    shown, last = 0, 0.0
    try:
        for _ in src:
            now = time.monotonic()
            if now - last >= REFRESH_S:
                bar.update(dec.stats.windows - shown)
                shown = dec.stats.windows
                bar.set_postfix(_figures(dec), refresh=False)
                last = now
            if end is not None and now >= end:
                break
    except KeyboardInterrupt:
        pass
    finally:
        bar.update(dec.stats.windows - shown)
        bar.set_postfix(_figures(dec), refresh=False)
        bar.close()


if __name__ == "__main__":
    sys.exit(main())
