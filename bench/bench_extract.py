"""How fast is face extraction? This project vs decode-all, the naive seed plan and the DFDC 1st-place detector.

Prints one table from one run, per real DFDC video in ../shared/data/dfdc and in total:
- decode-all s: `grab()` every frame, convert none (the floor for reading a video);
- project s: `extract.video_faces` with the default ExtractConfig (32 frames, MTCNN at 480 px on every 3rd
  sampled frame) as a run of at least `detect_compile_from` videos uses it (MTCNN's networks compiled by XLA,
  `extract.for_run`): sampling + detection + tracking + 128 px crops, in memory;
- naive s: the seed plan, `mtcnn` on each of the same 32 frames at full resolution, one at a time
  (sampling and crops included, like the project row);
- peer s: facenet-pytorch's MTCNN as the 1st-place DFDC solution runs it (one frame at a time at half
  resolution), detection alone on the same frames, from the optional env in bench/requirements-peer.txt;
- recall: frames with a face found / frames sampled (project: any face track / the main person's track);
- peak RSS of each approach, each measured in its own fresh process;
- CPU seconds (all threads) of decode-all and of the project: less sensitive to other load than wall time;
- detection alone, four ways on the same downscaled keyframes, timed in turn: mtcnn's own `detect_faces` (this
  project's path before 2026-12-07), the project's detector (the batch made a tensor once), the same with the
  proposal network (P-Net) compiled by XLA (`detect_compile` until 2026-12-07), and with all three networks
  compiled (`detect_compile` now), with their largest box difference;
- levers: the project row again with settings changed (LEVERS: a short run without XLA, detection resolution,
  detection stride, the defaults until 2026-12-07 (640 px, every 2nd frame, no XLA below 64 videos: the named
  baseline), decode overlap, TensorFlow's thread pools). Each ExtractConfig lever runs in its own process beside
  decode-all and the default, the three timed in turn, so its ratios compare runs under the same load; the
  thread-pool levers need a process each and are compared with the main run's decode-all.
Each approach is warmed up on every video first; timings are the best of --repeats runs, because other
processes on a shared machine only ever add time.

    .venv/bin/python bench/bench_extract.py [--repeats 2] [--peer-python .venv-peer/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DFDC = Path(os.environ.get("DFD_SHARED", REPO.parent / "shared")) / "data" / "dfdc"
VIDEOS = ["dfdc_train_part_10/widuwuoiur.mp4", "dfdc_train_part_0/brtujopkby.mp4", "dfdc_train_part_10/yhffcuhhjy.mp4"]
FRAMES = 32
PEER_THRESHOLDS = [0.85, 0.95, 0.95]  # the 1st-place solution's facenet-pytorch MTCNN settings
# Changes against the default ExtractConfig of a long run; "tf_threads" sets TensorFlow's (intra-op, inter-op)
# pools; "detect_compile_from": 0 is a run too short to compile (fewer than detect_compile_from videos).
BEFORE = {"detect_long_side": 640, "detect_stride": 2}  # the crops of the defaults until 2026-12-07
LEVERS = [{"detect_compile_from": 0}, {"detect_stride": 2}, {"detect_long_side": 640}, BEFORE,
          BEFORE | {"detect_compile_from": 0}, {"overlap_decode": False}, {"tf_threads": [1, 1]}]


def _config(changes: dict | None = None):
    """The bench's ExtractConfig: the defaults (all faces kept, to measure any-face recall) with `changes`, as a run
    of detect_compile_from videos runs it (compiled unless the changes turn compiling off)."""
    from dataclasses import replace

    from deepfake_detection.config import ExtractConfig
    from deepfake_detection.extract import for_run

    cfg = replace(ExtractConfig(frames=FRAMES), all_faces=True, **(changes or {}))
    return for_run(cfg, ExtractConfig().detect_compile_from)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return usage.ru_utime + usage.ru_stime


def _best(run, repeats: int):
    """(wall seconds, CPU seconds, result) of the fastest of `repeats` runs."""
    best = None
    for _ in range(repeats):
        start, cpu = time.perf_counter(), _cpu_seconds()
        result = run()
        seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
        if best is None or seconds < best[0]:
            best = (seconds, cpu, result)
    return best


def role_project(paths: list[str], repeats: int, changes: dict | None = None) -> dict:
    """This project's extraction with the default config (_config), or with `changes` (ExtractConfig fields, and
    "tf_threads" set before TensorFlow starts)."""
    from dataclasses import asdict

    changes = dict(changes or {})
    threads = changes.pop("tf_threads", None)
    if threads is not None:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads[0])
        tf.config.threading.set_inter_op_parallelism_threads(threads[1])

    from deepfake_detection.extract import detector_for, video_faces

    cfg = _config(changes)
    detector = detector_for(cfg)
    start = _cpu_seconds()
    for path in paths:
        video_faces(path, cfg, detector)  # warm-up: the first call at a new frame shape builds (or compiles) kernels
    out = {"config": asdict(cfg), "videos": {}, "warmup_cpu": _cpu_seconds() - start}
    for path in paths:
        seconds, cpu, faces = _best(lambda path=path: video_faces(path, cfg, detector), repeats)
        main = {f for f, t in zip(faces.frames, faces.tracks, strict=True) if t == 0}
        out["videos"][path] = {"seconds": seconds, "cpu": cpu, "found": len(set(faces.frames)), "main": len(main),
                               "sampled": faces.n_frames}
    out["rss_mb"] = _peak_rss_mb()
    return out


def role_pair(paths: list[str], repeats: int, changes: dict) -> dict:
    """decode-all, the default config and the default with `changes` (ExtractConfig fields only), in one process,
    timed in turn per video and repeat (the order rotating), so that load drifting during the bench hits all three
    alike; CPU seconds are the best of `repeats` per video."""
    import numpy as np

    from deepfake_detection.extract import detector_for, video_faces
    from deepfake_detection.video import decode_all

    cfgs = {"default": _config(), "lever": _config(changes)}
    detectors = {name: detector_for(cfg) for name, cfg in cfgs.items()}
    first_pass = {}
    for name, cfg in cfgs.items():
        start = _cpu_seconds()
        for path in paths:
            video_faces(path, cfg, detectors[name])  # warm-up: builds (or compiles) kernels per frame size
        first_pass[name] = _cpu_seconds() - start
    runs = {"decode-all": lambda path: decode_all(path)}
    runs |= {name: (lambda path, name=name: video_faces(path, cfgs[name], detectors[name])) for name in cfgs}
    out = {name: {"cpu": 0.0, "seconds": 0.0} for name in runs}
    found = {name: [0, 0] for name in cfgs}
    for path in paths:
        best = {name: (np.inf, np.inf) for name in runs}
        for i in range(repeats):
            names = list(runs)[i % 3:] + list(runs)[:i % 3]
            for name in names:
                start, cpu = time.perf_counter(), _cpu_seconds()
                result = runs[name](path)
                seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
                best[name] = min(best[name], (cpu, seconds))
                if name in found and i == 0:
                    found[name][0] += len(set(result.frames))
                    found[name][1] += result.n_frames
        for name in runs:
            out[name]["cpu"] += best[name][0]
            out[name]["seconds"] += best[name][1]
    for name in cfgs:
        out[name] |= {"found": found[name][0], "sampled": found[name][1], "first_pass_cpu": first_pass[name]}
    return out


def role_detectors(paths: list[str], repeats: int) -> dict:
    """MTCNN four ways on the frames the default extraction detects on (every 3rd of 32 sampled, and the last),
    downscaled to 480 px, in batches of 8, the four timed in turn per video (CPU seconds, best of `repeats`):
    the package's own `detect_faces` (this project's path before 2026-12-07), this project's detector with the batch
    made a tensor once, the same with only the proposal network (P-Net) compiled by XLA, and with all three
    networks compiled (`detect_compile`); compiled before timing."""
    from dataclasses import replace

    import numpy as np

    from deepfake_detection.config import ExtractConfig
    from deepfake_detection.extract import detector_for
    from deepfake_detection.faces import _downscale
    from deepfake_detection.video import sample_frames

    cfg = ExtractConfig(frames=FRAMES)
    eager, compiled = detector_for(cfg), detector_for(replace(cfg, detect_compile=True))
    pnet_only = detector_for(replace(cfg, detect_compile=True))
    for stage in pnet_only._model.stages[1:]:  # R-Net and O-Net back to eager, as detect_compile had them before
        stage._model = stage.model._model

    def package(batch):
        return eager._model.detect_faces(batch, output_type="numpy", box_format="xyxy",
                                         min_face_size=eager.min_face_size)

    variants = {"mtcnn's detect_faces (before)": package, "batch made a tensor once": eager._run_stages,
                "and the proposal network compiled (XLA)": pnet_only._run_stages,
                "and all three networks compiled (XLA)": compiled._run_stages}
    cpu = {name: 0.0 for name in variants}
    worst = {name: 0.0 for name in variants}
    frames = 0
    for path in paths:
        sampled = sample_frames(path, n=FRAMES).frames
        keyframes = sampled[::cfg.detect_stride] + ([sampled[-1]] if (len(sampled) - 1) % cfg.detect_stride else [])
        small = [_downscale(f, cfg.detect_long_side)[0] for f in keyframes]
        batches = [small[i:i + cfg.detect_batch] for i in range(0, len(small), cfg.detect_batch)]
        reference = [np.asarray(package(b)).reshape(-1, 16) for b in batches]
        best = {name: np.inf for name in variants}
        for name, run in variants.items():  # warm-up (and compile) at this frame size; largest box difference
            for batch, ref in zip(batches, reference, strict=True):
                rows = np.asarray(run(batch)).reshape(-1, 16)
                diff = np.abs(rows[:, 1:5] - ref[:, 1:5]).max(initial=0.0) if rows.shape == ref.shape else np.inf
                worst[name] = max(worst[name], float(diff))
        for i in range(repeats):
            for name in (list(variants) if i % 2 == 0 else list(variants)[::-1]):
                start = _cpu_seconds()
                for batch in batches:
                    variants[name](batch)
                best[name] = min(best[name], _cpu_seconds() - start)
        for name in variants:
            cpu[name] += best[name]
        frames += len(small)
    return {"frames": frames, "cpu": cpu, "worst": worst, "long_side": cfg.detect_long_side}


def role_naive(paths: list[str], repeats: int) -> dict:
    """The seed plan: sample, then mtcnn on every full-resolution frame, one at a time, then crop."""
    import numpy as np
    from mtcnn import MTCNN

    from deepfake_detection.config import ExtractConfig
    from deepfake_detection.faces import FaceBox, crop_face
    from deepfake_detection.video import sample_frames

    cfg = ExtractConfig(frames=FRAMES)
    detector = MTCNN()

    def run(path: str) -> int:
        found = 0
        for frame in sample_frames(path, n=FRAMES).frames:
            rows = np.asarray(detector.detect_faces(frame, output_type="numpy", box_format="xyxy")).reshape(-1, 16)
            rows = rows[rows[:, 5] >= cfg.min_confidence]
            if len(rows):
                found += 1
                best = rows[np.argmax((rows[:, 3] - rows[:, 1]) * (rows[:, 4] - rows[:, 2]))]
                crop_face(frame, FaceBox(*best[1:5]), cfg.margin, cfg.size)
        return found

    for path in paths:  # warm-up at each frame shape
        detector.detect_faces(sample_frames(path, n=1).frames[0], output_type="numpy")
    out = {"videos": {}}
    for path in paths:
        seconds, _, found = _best(lambda path=path: run(path), repeats)
        out["videos"][path] = {"seconds": seconds, "found": found}
    out["rss_mb"] = _peak_rss_mb()
    return out


def role_peer(frame_files: list[str], repeats: int) -> dict:
    """facenet-pytorch MTCNN, one frame at a time at half resolution (runs in the peer env)."""
    import numpy as np
    import torch
    from facenet_pytorch import MTCNN
    from PIL import Image

    detector = MTCNN(margin=0, thresholds=PEER_THRESHOLDS, device="cpu")

    def run(frames: np.ndarray) -> int:
        found = 0
        for frame in frames:
            image = Image.fromarray(frame)
            image = image.resize(size=[s // 2 for s in image.size])
            boxes, _ = detector.detect(image, landmarks=False)
            found += boxes is not None and len(boxes) > 0
        return found

    out = {"versions": {"torch": torch.__version__, "threads": torch.get_num_threads()}, "videos": {}}
    loaded = {f: np.load(f) for f in frame_files}
    for frames in loaded.values():
        run(frames[:1])  # warm-up
    for file, frames in loaded.items():
        seconds, _, found = _best(lambda frames=frames: run(frames), repeats)
        out["videos"][file] = {"seconds": seconds, "found": found}
    out["rss_mb"] = _peak_rss_mb()
    return out


def _child(python: str, role: str, items: list[str], repeats: int, changes: dict | None = None) -> dict:
    """Run one role in a fresh process (so its peak RSS is its own); returns its JSON result."""
    command = [python, __file__, "--role", role, "--repeats", str(repeats), "--changes", json.dumps(changes or {}),
               *items]
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"{role} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _peer_python(arg: str | None) -> str | None:
    candidates = [arg, os.environ.get("DFD_PEER_PYTHON"), str(REPO / ".venv-peer" / "bin" / "python")]
    return next((c for c in candidates if c and Path(c).exists()), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--peer-python", default=None,
                        help="python of the peer env (default: $DFD_PEER_PYTHON, .venv-peer)")
    parser.add_argument("--role", choices=["project", "pair", "detectors", "naive", "peer"], default=None,
                        help=argparse.SUPPRESS)
    parser.add_argument("--changes", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--no-levers", action="store_true", help="skip the lever rows (one changed setting each)")
    parser.add_argument("items", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        if args.role in ("project", "pair"):
            role = role_project if args.role == "project" else role_pair
            print(json.dumps(role(args.items, args.repeats, json.loads(args.changes))))
        else:
            roles = {"naive": role_naive, "peer": role_peer, "detectors": role_detectors}
            print(json.dumps(roles[args.role](args.items, args.repeats)))
        return

    import numpy as np
    import pandas as pd

    from deepfake_detection.video import decode_all, sample_frames

    paths = [str(DFDC / v) for v in VIDEOS if (DFDC / v).exists()]
    if not paths:
        sys.exit(f"no DFDC videos under {DFDC}")
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores; other processes add time)", flush=True)
    decode = {p: _best(lambda p=p: decode_all(p), args.repeats)[:2] for p in paths}
    shapes = {p: sample_frames(p, n=1).frames[0].shape for p in paths}
    project = _child(sys.executable, "project", paths, args.repeats)
    naive = _child(sys.executable, "naive", paths, args.repeats)
    peer_python, peer = _peer_python(args.peer_python), None
    if peer_python is None:
        print("peer: facenet-pytorch is not installed (see bench/requirements-peer.txt); skipping the peer column")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            files = []
            for i, path in enumerate(paths):  # the very frames the others sample, as RGB uint8 arrays
                files.append(str(Path(tmp) / f"{i}.npy"))
                np.save(files[-1], np.stack(sample_frames(path, n=FRAMES).frames))
            peer = _child(peer_python, "peer", files, args.repeats)
            peer["videos"] = {p: peer["videos"][f] for p, f in zip(paths, files, strict=True)}

    rows = []
    for path in paths:
        h, w = shapes[path][:2]
        pr, nv = project["videos"][path], naive["videos"][path]
        row = {"video": Path(path).name, "size": f"{w}x{h}", "decode-all s": decode[path][0],
               "project s": pr["seconds"], "project / decode": pr["seconds"] / decode[path][0],
               "cpu s decode / project": f"{decode[path][1]:.2f} / {pr['cpu']:.2f}", "naive s": nv["seconds"],
               "naive / project": nv["seconds"] / pr["seconds"]}
        if peer:
            row["peer detect s"] = peer["videos"][path]["seconds"]
        row["recall project (any / main person)"] = f"{pr['found']}/{pr['sampled']} / {pr['main']}/{pr['sampled']}"
        row["recall naive"] = f"{nv['found']}/{FRAMES}"
        if peer:
            row["recall peer"] = f"{peer['videos'][path]['found']}/{FRAMES}"
        rows.append(row)
    table = pd.DataFrame(rows)
    total = {"video": "total", "size": "", "decode-all s": table["decode-all s"].sum(),
             "project s": table["project s"].sum(), "naive s": table["naive s"].sum()}
    total["project / decode"] = total["project s"] / total["decode-all s"]
    total["naive / project"] = total["naive s"] / total["project s"]
    if peer:
        total["peer detect s"] = table["peer detect s"].sum()
    total["cpu s decode / project"] = (f"{sum(d[1] for d in decode.values()):.2f} / "
                                       f"{sum(v['cpu'] for v in project['videos'].values()):.2f}")
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True).fillna("")
    cfg = project["config"]
    print(f"\nproject config: {FRAMES} frames, MTCNN at long side {cfg['detect_long_side']} px, detect_stride "
          f"{cfg['detect_stride']}, detect_batch {cfg['detect_batch']}, overlap_decode {cfg['overlap_decode']}, "
          f"detect_compile {cfg['detect_compile']}; "
          f"best of {args.repeats} after warm-up")
    print(table.map(lambda v: f"{v:.2f}" if isinstance(v, float) else v).to_string(index=False))
    rss = {"project": project["rss_mb"], "naive": naive["rss_mb"]} | ({"peer": peer["rss_mb"]} if peer else {})
    print("\npeak RSS MB (own process each): " + ", ".join(f"{k} {v:.0f}" for k, v in rss.items()))
    if peer:
        print(f"peer: torch {peer['versions']['torch']}, {peer['versions']['threads']} threads")
    hd = table[table["size"].isin(["1920x1080", "1080x1920"])]
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"target project <= 2x decode-all on 1080p: {', '.join(f'{r:.2f}x' for r in hd['project / decode'])}")
    print(f"target naive / project >= 5: {total['naive / project']:.1f}x")
    if peer:
        print(f"target project faster than peer detection: {total['project s']:.2f} s "
              f"vs {total['peer detect s']:.2f} s")
    print(f"target peak RSS < 2048 MB: project {project['rss_mb']:.0f} MB")
    print_detectors(paths, args.repeats)
    if not args.no_levers:
        print_levers(paths, decode, project, args.repeats)


def _totals(result: dict) -> tuple[float, float, int, int]:
    """(wall s, CPU s, frames with a face, frames sampled) over every video of a project run."""
    videos = result["videos"].values()
    return (sum(v["seconds"] for v in videos), sum(v["cpu"] for v in videos), sum(v["found"] for v in videos),
            sum(v["sampled"] for v in videos))


def print_levers(paths: list[str], decode: dict, project: dict, repeats: int) -> None:
    """The project with one setting changed at a time. ExtractConfig levers run in one process with decode-all and
    the default, timed in turn (role_pair), so each ratio compares runs under the same load; TensorFlow's thread
    pools are process-wide, so those levers run in their own process against the main run's decode-all."""
    import pandas as pd

    decode_cpu = sum(d[1] for d in decode.values())
    rows = []
    for changes in [{}, *LEVERS]:
        if "tf_threads" in changes or not changes:
            result = project if not changes else _child(sys.executable, "project", paths, repeats, changes)
            seconds, cpu, found, sampled = _totals(result)
            row = {"lever": json.dumps(changes)[1:-1] or "default (its own process, as above)",
                   "project s": seconds, "cpu s": cpu, "decode-all cpu s": decode_cpu, "default cpu s": None,
                   "first pass cpu s": result["warmup_cpu"], "frames with a face": f"{found}/{sampled}"}
        else:
            pair = _child(sys.executable, "pair", paths, repeats, changes)
            lever = pair["lever"]
            row = {"lever": json.dumps(changes)[1:-1], "project s": lever["seconds"], "cpu s": lever["cpu"],
                   "decode-all cpu s": pair["decode-all"]["cpu"], "default cpu s": pair["default"]["cpu"],
                   "first pass cpu s": lever["first_pass_cpu"],
                   "frames with a face": f"{lever['found']}/{lever['sampled']}"}
        row["cpu / decode-all"] = row["cpu s"] / row["decode-all cpu s"]
        row["default / decode-all"] = (row["default cpu s"] / row["decode-all cpu s"]
                                       if row["default cpu s"] is not None else None)
        rows.append(row)
    table = pd.DataFrame(rows)
    columns = ["lever", "project s", "cpu s", "decode-all cpu s", "cpu / decode-all", "default cpu s",
               "default / decode-all", "frames with a face", "first pass cpu s"]
    print("\nlevers (one change each; CPU seconds over the 3 videos, best of the repeats; a lever's decode-all and "
          "default were timed in turn with it in one process; face frames include boxes interpolated between "
          "detections, detector recall per setting is bench_recall.py's table; first pass: the warm-up over the "
          "same videos, which builds or compiles kernels per frame size):")
    print(table[columns].map(lambda v: "" if v is None or v != v else f"{v:.2f}" if isinstance(v, float) else v)
          .to_string(index=False))


def print_detectors(paths: list[str], repeats: int) -> None:
    """MTCNN's detection alone, four ways, on the same downscaled keyframes (role_detectors)."""
    import pandas as pd

    result = _child(sys.executable, "detectors", paths, repeats)
    base = next(iter(result["cpu"].values()))
    table = pd.DataFrame([{"MTCNN": name, "cpu s": cpu, "ms cpu / frame": 1000 * cpu / result["frames"],
                           "vs detect_faces": cpu / base, "largest box difference px": result["worst"][name]}
                          for name, cpu in result["cpu"].items()])
    print(f"\ndetection alone on the {result['frames']} keyframes the default detects in the 3 videos "
          f"({result['long_side']} px, batches of 8; the four timed in turn per video; box differences against "
          "detect_faces):")
    print(table.map(lambda v: f"{v:.2g}" if isinstance(v, float) and v < 0.01 else f"{v:.2f}"
                    if isinstance(v, float) else v).to_string(index=False))


if __name__ == "__main__":
    main()
