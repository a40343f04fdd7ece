"""`detect`: is this video fake? A verdict with its evidence, for a person holding one suspicious file.

The second front end over the same stages as `predict`: frames -> tracked faces (extract.video_faces, or
extract.image_faces for a still) -> every model on every face (predict.score_faces) -> the video score
(Ensemble.video_probability, so `detect` and `predict` give one video the same P(FAKE)). On top it adds what
a reader needs to judge the number:

- a 95 % interval from a bootstrap over the video's frames (resampled within each face track);
- the P(FAKE) of every face in every sampled frame, per model and from the stack, and per face track (the
  video is as fake as its most fake person; the report says which track drove the verdict);
- Grad-CAM overlays of the most-fake and most-real faces;
- the training data and known limits from the model card.

Per input it writes `OUT/<name>/result.json` and a self-contained `OUT/<name>/report.html` (images embedded);
for several inputs also `OUT/index.html`, a sortable table. Bad inputs (missing, empty, truncated, not a video,
no face) get both files with the reason and the verdict "unknown", never a made-up 0.5, and never stop the
other inputs.
"""

from __future__ import annotations

import base64
import html
import io as _bytes_io
import logging
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from deepfake_detection import __version__
from deepfake_detection.artifacts import ModelsDir
from deepfake_detection.config import IMAGE_EXTENSIONS, SEED, VIDEO_EXTENSIONS, ExtractConfig, PredictConfig
from deepfake_detection.io import atomic_write_bytes, atomic_write_json, atomic_write_text, write_errors

log = logging.getLogger(__name__)

DEFAULT_MODELS = Path("models/zoo")
RESULT_FILE = "result.json"
REPORT_FILE = "report.html"
INDEX_FILE = "index.html"
THRESHOLD = 0.5  # P(FAKE) at or above which a face or video is called FAKE
N_BOOT = 500  # bootstrap resamples of frames for the interval
N_EXAMPLES = 3  # most-fake and most-real faces shown with Grad-CAM
UNKNOWN = "unknown"


@dataclass
class DetectConfig:
    """How `detect` turns one input into a verdict and a report."""

    threshold: float = THRESHOLD
    n_boot: int = N_BOOT
    examples: int = N_EXAMPLES
    gradcam: bool = True
    seed: int = SEED


@dataclass
class Detection:
    """Everything result.json holds for one input."""

    input: str
    name: str  # its folder under OUT
    kind: str  # video / image
    status: str  # ok / partial, or why there is no verdict: missing / unreadable / no_face / error
    reason: str
    verdict: str  # FAKE / REAL / uncertain / unknown
    p_fake: float | None = None
    interval: list[float] | None = None  # 95 % bootstrap over frames; None for a single image or no face
    summary: str = ""  # the verdict in plain words
    driving_track: int | None = None
    tracks: list[dict] = field(default_factory=list)  # track, p_fake, faces
    models: list[dict] = field(default_factory=list)  # name, aggregation, p_fake, mean_face_p, seconds
    faces: list[dict] = field(default_factory=list)  # frame, track, detected, confidence, box, p_<model>, p_stack
    timings: dict = field(default_factory=dict)  # seconds per step
    figures: list[str] = field(default_factory=list)  # PNG files beside result.json (also embedded in the report)
    model_card: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)


# --- inputs ------------------------------------------------------------------------------------------------
def input_kind(path: Path) -> str:
    """'image' for an image extension, else 'video' (anything else is tried as a video and reported)."""
    return "image" if path.suffix.lower() in IMAGE_EXTENSIONS else "video"


def expand_inputs(paths: list[str | Path]) -> list[Path]:
    """The files to check: each named file as given, and the videos and images directly inside a named folder.

    A folder whose name ends like a video or image (`clip.mp4/`) is an input, reported as unreadable, not a folder
    to look into."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir() and path.suffix.lower() not in (*VIDEO_EXTENSIONS, *IMAGE_EXTENSIONS):
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in (*VIDEO_EXTENSIONS, *IMAGE_EXTENSIONS))
            skipped = sum(1 for p in path.iterdir() if p.is_file()) - len(found)
            if skipped:
                log.info("%s: %d file(s) that are neither video nor image skipped", path, skipped)
            out += found
        else:
            out.append(path)
    return out


def output_names(paths: list[Path]) -> list[str]:
    """One folder name per input: the file name made filesystem-safe, suffixed -2, -3 ... when names repeat."""
    names, seen = [], {}
    for path in paths:
        base = re.sub(r"[^\w.\-]+", "_", path.name).strip("._") or "input"
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return names


# --- model card --------------------------------------------------------------------------------------------
def card_summary(models: ModelsDir, stacker: dict | None) -> dict:
    """What the models were trained on and their known limits, from MODEL_CARD.md, and the stacker's CV scores."""
    card, models_dir = models.card, models.path
    summary: dict = {"models_dir": str(models_dir), "package_version": __version__}
    if stacker is not None and "cv" in stacker:
        summary["cv"] = stacker["cv"]
    if not card.is_file():
        summary["note"] = f"no MODEL_CARD.md in {models_dir}: training data and limits unknown"
        return summary
    sections: dict[str, list[str]] = {}
    current = "header"
    for line in card.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
        elif line.strip():
            sections.setdefault(current, []).append(line.strip())
    summary["card"] = str(card)
    summary["version"] = next((text for text in sections.get("header", []) if not text.startswith("#")), "")
    summary["training_data"] = [text.lstrip("- ") for text in sections.get("Training data and its terms", [])]
    summary["limits"] = [text.lstrip("- ") for text in sections.get("Known limits and failure modes", [])]
    return summary


# --- scoring -----------------------------------------------------------------------------------------------
def bootstrap_interval(ensemble, face_probs: dict[str, np.ndarray], tracks: np.ndarray, cfg: PredictConfig,
                       n_boot: int, seed: int) -> list[float] | None:
    """95 % percentile interval of the video P(FAKE) over resamples of frames within each face track.

    It measures how much the verdict hangs on which frames were sampled, not the models' own error (the
    model card's cross-validated scores say that). None when no track has two frames to resample.
    """
    members = [np.flatnonzero(tracks == t) for t in np.unique(tracks)]
    if n_boot <= 0 or max(len(m) for m in members) < 2:
        return None
    rng = np.random.default_rng(seed)
    scores = np.empty(n_boot)
    for b in range(n_boot):
        rows = np.concatenate([rng.choice(m, size=len(m), replace=True) for m in members])
        scores[b] = ensemble.video_probability({n: p[rows] for n, p in face_probs.items()}, tracks[rows], cfg)[0]
    low, high = np.percentile(scores, [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]


def verdict_of(p: float, interval: list[float] | None, threshold: float) -> str:
    """FAKE or REAL when the interval lies on one side of the threshold (or, without one, by p); else uncertain."""
    low, high = interval if interval is not None else (p, p)
    if low >= threshold:
        return "FAKE"
    if high < threshold:
        return "REAL"
    return "uncertain"


def plain_words(det: Detection, threshold: float) -> str:
    """The verdict as a sentence, with its uncertainty."""
    if det.verdict == UNKNOWN:
        return f"No verdict: {det.reason}."
    if det.interval is not None:
        spread = f"95 % interval {det.interval[0]:.2f}-{det.interval[1]:.2f} over resampled frames"
    elif det.kind == "image":
        spread = "a single image, so no interval over frames"
    else:
        spread = "no interval: bootstrap off, or one frame per face"
    lead = {"FAKE": "Likely FAKE", "REAL": "Likely REAL",
            "uncertain": f"Uncertain, leaning {'FAKE' if det.p_fake >= threshold else 'REAL'}"}[det.verdict]
    people = f" {len(det.tracks)} faces were scored; face {det.driving_track} drove the verdict." \
        if len(det.tracks) > 1 else ""
    return f"{lead}: P(FAKE) = {det.p_fake:.2f} ({spread}; threshold {threshold:g}).{people}"


def face_table(faces, face_probs: dict[str, np.ndarray], stack: np.ndarray) -> list[dict]:
    """One row per scored face crop: where it is, whether it was detected or interpolated, and its P(FAKE)s."""
    rows = []
    for i in range(len(stack)):
        row = {"frame": int(faces.frames[i]), "track": int(faces.tracks[i]), "detected": bool(faces.detected[i]),
               "confidence": round(float(faces.confidences[i]), 4),
               "box": [round(float(v), 1) for v in faces.boxes[i]]}
        row.update({f"p_{name}": round(float(p[i]), 4) for name, p in face_probs.items()})
        row["p_stack"] = round(float(stack[i]), 4)
        rows.append(row)
    return rows


def model_rows(ensemble, face_probs: dict[str, np.ndarray], tracks: np.ndarray, seconds: dict[str, float],
               cfg: PredictConfig) -> list[dict]:
    """Per model: its own video P(FAKE) (aggregated per track, max over tracks), mean face P and its time."""
    from deepfake_detection.aggregate import aggregate

    rows = []
    for model in ensemble.models:
        if model.name in face_probs:
            p = face_probs[model.name]
            rows.append({"name": model.name, "aggregation": model.aggregation, "input_px": model.size,
                         "p_fake": round(aggregate(p, model.aggregation, cfg, tracks), 4),
                         "mean_face_p": round(float(np.mean(p)), 4), "seconds": round(seconds[model.name], 3)})
    return rows


def gradcam_examples(ensemble, crops: np.ndarray, stack: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray,
                                                                                       list[str], str] | None:
    """(crops, heat maps, titles, model name) for the k most-fake and k most-real faces, with the first model
    that Grad-CAM can explain (one with convolutional maps); None when no model can be explained."""
    from deepfake_detection.explain import gradcam_heatmaps, has_feature_maps
    from deepfake_detection.faces import resize_crop

    order = np.argsort(-stack, kind="stable")
    chosen = list(dict.fromkeys([*order[:k], *order[::-1][:k]]))  # most fake first, then most real
    model = next((m for m in ensemble.models if has_feature_maps(m.model)), None)  # not e.g. the spectral model
    if model is None:
        return None
    images = np.stack([resize_crop(crops[i], model.size, model.resize) for i in chosen])
    heat = gradcam_heatmaps(model.model, images.astype(np.float32))
    titles = [f"{'most fake' if j < k else 'most real'}: P={stack[i]:.2f}" for j, i in enumerate(chosen)]
    return images, heat, titles, model.name


def _png(figure) -> bytes:
    """A matplotlib Figure as PNG bytes."""
    buffer = _bytes_io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def detect_one(path: Path, name: str, models: Future, detector, extract_cfg: ExtractConfig, cfg: PredictConfig,
               dcfg: DetectConfig, card: dict) -> tuple[Detection, dict[str, bytes]]:
    """Score one input: (the Detection, its figures as PNG bytes by name). Bad input gives a Detection with the
    reason and no figures. models: a Future of the Ensemble, awaited only once faces are found, so the models of
    a cold start load while the first video is decoded and its faces detected."""
    from deepfake_detection import plots
    from deepfake_detection.extract import image_faces, video_faces
    from deepfake_detection.predict import score_faces

    timings: dict[str, float] = {}
    kind = input_kind(path)
    settings = {"frames": extract_cfg.frames, "detector": extract_cfg.detector, "all_faces": extract_cfg.all_faces,
                "crop_px": extract_cfg.size, "margin": extract_cfg.margin, "threshold": dcfg.threshold,
                "n_boot": dcfg.n_boot, "seed": dcfg.seed}
    det = Detection(str(path), name, kind, "ok", "", UNKNOWN, model_card=card, settings=settings)
    start = time.perf_counter()
    faces = image_faces(path, extract_cfg, detector) if kind == "image" else video_faces(path, extract_cfg, detector)
    timings["faces"] = time.perf_counter() - start
    det.status, det.reason = faces.status, faces.reason
    crops = np.asarray(faces.crops)
    if len(crops) == 0:
        det.status = faces.status if faces.status != "ok" else "no_face"
        det.reason = faces.reason or "no face found"
        det.timings = {k: round(v, 3) for k, v in timings.items()}
        det.summary = plain_words(det, dcfg.threshold)
        return det, {}
    tracks = np.asarray(faces.tracks, int)
    ensemble = models.result()
    face_probs, model_seconds = score_faces(ensemble, [m.name for m in ensemble.models], crops, cfg)
    timings["models"] = sum(model_seconds.values())
    t0 = time.perf_counter()
    p_video, per_track = ensemble.video_probability(face_probs, tracks, cfg)
    det.interval = bootstrap_interval(ensemble, face_probs, tracks, cfg, dcfg.n_boot, dcfg.seed)
    stack = ensemble.combine_rows(face_probs)  # the stack applied to each face on its own, for the timeline
    timings["stack_and_bootstrap"] = time.perf_counter() - t0
    det.p_fake = round(float(p_video), 4)
    det.verdict = verdict_of(det.p_fake, det.interval, dcfg.threshold)
    det.driving_track = int(max(per_track, key=per_track.get))
    det.tracks = [{"track": t, "p_fake": round(p, 4), "faces": int((tracks == t).sum())} for t, p in per_track.items()]
    det.models = model_rows(ensemble, face_probs, tracks, model_seconds, cfg)
    det.faces = face_table(faces, face_probs, stack)
    used = len(set(faces.frames))
    if kind == "video" and used < extract_cfg.frames:
        det.reason = "; ".join(r for r in (det.reason, f"faces in {used} of {extract_cfg.frames} sampled frames") if r)
    det.summary = plain_words(det, dcfg.threshold)
    figures = {}
    t0 = time.perf_counter()
    if kind == "video":
        figures["timeline"] = _png(plots.plot_detection_timeline(
            pd.DataFrame(det.faces).rename(columns={"p_stack": "p"}), det.p_fake, det.interval, dcfg.threshold))
    timings["timeline"] = time.perf_counter() - t0
    if dcfg.gradcam:
        t0 = time.perf_counter()
        examples = gradcam_examples(ensemble, crops, stack, dcfg.examples)
        if examples is not None:
            images, heat, titles, explained = examples
            figures["gradcam"] = _png(plots.plot_gradcam(images, heat, titles))
            det.settings["gradcam_model"] = explained
        timings["gradcam"] = time.perf_counter() - t0
    det.timings = {k: round(v, 3) for k, v in timings.items()}
    return det, figures


# --- HTML --------------------------------------------------------------------------------------------------
STYLE = """body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}.verdict{font-size:1.25em;padding:.8em 1em;border-radius:6px;margin:1em 0}
.FAKE{background:#fde2e1}.REAL{background:#e1f5e4}.uncertain{background:#fff4d6}.unknown{background:#eee}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f4f4f4}img{max-width:100%}.small{color:#666;font-size:.9em}th.sortable{cursor:pointer}"""


def _table(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list | tuple):
        return "–".join(_cell(v) for v in value)
    return str(value)


def _card_html(card: dict) -> str:
    parts = [f"<p class='small'>Models: <code>{html.escape(card.get('models_dir', ''))}</code>; package "
             f"{html.escape(card.get('package_version', ''))}. {html.escape(card.get('version', ''))}</p>"]
    for title, key in (("Trained on", "training_data"), ("Known limits", "limits")):
        if card.get(key):
            items = "".join(f"<li>{html.escape(line)}</li>" for line in card[key])
            parts.append(f"<h3>{title}</h3><ul>{items}</ul>")
    if card.get("note"):
        parts.append(f"<p>{html.escape(card['note'])}</p>")
    return "".join(parts)


def report_html(det: Detection, figures: dict[str, bytes]) -> str:
    """One self-contained page: verdict, timeline, Grad-CAM, per-track and per-model tables, model card."""
    title = html.escape(Path(det.input).name)
    body = [f"<h1>Is <code>{title}</code> fake?</h1>",
            f"<div class='verdict {html.escape(det.verdict)}'><b>{html.escape(det.verdict.upper())}</b> — "
            f"{html.escape(det.summary)}</div>"]
    cv = det.model_card.get("cv", {}).get("stack_calibrated")
    if cv:
        body.append(f"<p><b>How far to trust it.</b> On DFDC faces they never saw in training, these models score "
                    f"ROC AUC {cv['roc_auc']:.3f} and balanced log loss {cv['balanced_log_loss']:.3f} "
                    "(cross-validated, model card below; 0.5 and 0.693 are chance). That, not the interval, says how "
                    "often such a verdict is right: the interval only shows how much it depends on which frames "
                    "were sampled.</p>")
    if det.reason:
        body.append(f"<p class='small'>Notes: {html.escape(det.reason)}</p>")
    if "timeline" in figures:
        body.append("<h2>P(FAKE) over the video</h2><img alt='P(FAKE) per frame' src='"
                    + _data_uri(figures["timeline"]) + "'>"
                    "<p class='small'>Each point is one face in one sampled frame, scored by the stack; hollow points "
                    "are faces whose box was interpolated between detections. The shaded band is the 95 % interval "
                    "of the video score.</p>")
    if "gradcam" in figures:
        body.append(f"<h2>Most fake and most real faces</h2><img alt='Grad-CAM of the most fake and most real faces' "
                    f"src='{_data_uri(figures['gradcam'])}'><p class='small'>Grad-CAM of "
                    f"<code>{html.escape(det.settings['gradcam_model'])}</code>: where it looks when it calls a face "
                    "FAKE.</p>")
    if det.tracks:
        body.append("<h2>Per face track</h2>" + _table(det.tracks, ["track", "p_fake", "faces"]))
    if det.models:
        body.append("<h2>Per model</h2>" + _table(det.models, ["name", "p_fake", "mean_face_p", "aggregation",
                                                                "input_px", "seconds"]))
    body.append("<h2>The models</h2>" + _card_html(det.model_card))
    timing = ", ".join(f"{k} {v:.2f} s" for k, v in det.timings.items() if v is not None)  # None: not yet known
    body.append(f"<p class='small'>Status {html.escape(det.status)}. Time: {html.escape(timing)}. Full numbers in "
                f"<code>{RESULT_FILE}</code>.</p>")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>detect: {title}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n")


SORT_SCRIPT = """document.querySelectorAll('th.sortable').forEach(function(th, col){
  th.addEventListener('click', function(){
    var body = th.closest('table').tBodies[0], rows = Array.from(body.rows), dir = th.dataset.dir === 'asc' ? -1 : 1;
    th.dataset.dir = dir === 1 ? 'asc' : 'desc';
    rows.sort(function(a, b){
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v, nx = parseFloat(x), ny = parseFloat(y);
      return dir * (isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : nx - ny);
    });
    rows.forEach(function(r){ body.appendChild(r); });
  });
});"""


def index_html(detections: list[Detection]) -> str:
    """A sortable table of every input, each linking to its report."""
    columns = ["input", "verdict", "p_fake", "interval", "faces", "status", "reason"]
    head = "".join(f"<th class='sortable'>{c}</th>" for c in columns)
    rows = []
    for d in detections:
        values = {"input": d.input, "verdict": d.verdict, "p_fake": d.p_fake, "interval": d.interval,
                  "faces": len(d.faces), "status": d.status, "reason": d.reason}
        cells = []
        for c in columns:
            text = html.escape(_cell(values[c]))
            sort_key = html.escape(str(values[c] if values[c] is not None else ""))
            if c == "input":
                text = f"<a href='{html.escape(d.name)}/{REPORT_FILE}'>{text}</a>"
            cells.append(f"<td data-v='{sort_key}'>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>detect: {len(detections)} inputs"
            f"</title><style>{STYLE}</style></head><body><h1>detect: {len(detections)} inputs</h1>"
            f"<p class='small'>Click a column to sort.</p><table><thead><tr>{head}</tr></thead><tbody>"
            f"{''.join(rows)}</tbody></table><script>{SORT_SCRIPT}</script></body></html>\n")


# --- the command -------------------------------------------------------------------------------------------
def write_detection(det: Detection, figures: dict[str, bytes], out_dir: Path) -> Path:
    """result.json, report.html (self-contained) and the figures as NAME.png of one input, atomically; returns
    its folder."""
    folder = out_dir / det.name
    for name, png in figures.items():
        atomic_write_bytes(png, folder / f"{name}.png")
    det.figures = sorted(f"{name}.png" for name in figures)
    atomic_write_json(asdict(det), folder / RESULT_FILE)
    atomic_write_text(report_html(det, figures), folder / REPORT_FILE)
    return folder


def detect_paths(paths: list[str | Path], models_dir: ModelsDir | str | Path | None = None,
                 out_dir: str | Path = "detect", cfg: PredictConfig | None = None, dcfg: DetectConfig | None = None,
                 extract_cfg: ExtractConfig | None = None) -> list[Detection]:
    """Check every input (files, or the videos and images in folders); write their reports; return the results.

    Models: models_dir (a folder of model folders, with its stacker/ when present), by default the shipped zoo.
    """
    # TensorFlow, Keras and mtcnn are imported here, in this thread: two threads importing them at once deadlock
    from deepfake_detection.models import load_model  # noqa: F401
    from deepfake_detection.predict import inference_detector, inference_extract_config, load_ensemble, serving_margin

    cfg, dcfg = cfg or PredictConfig(), dcfg or DetectConfig()
    models_dir, out_dir = ModelsDir(models_dir or DEFAULT_MODELS), Path(out_dir)
    inputs = expand_inputs(paths)
    if not inputs:
        raise FileNotFoundError(f"no video or image in {', '.join(map(str, paths))}")
    stacker_dir = models_dir.stacker if models_dir.has_stacker() else None
    stacker = stacker_dir.load() if stacker_dir is not None else None
    videos = sum(input_kind(p) == "video" for p in inputs)  # each image is detected alone, at its own size
    detector = inference_detector(extract_cfg or ExtractConfig(), cfg, videos)  # imports mtcnn too
    loading = ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-models")
    started, loaded = time.perf_counter(), []
    models = loading.submit(load_ensemble, models_dir, stacker_dir, cfg)  # overlaps the first input's decoding
    models.add_done_callback(lambda _: loaded.append(time.perf_counter() - started))
    size = max(m["size"] for m in stacker["models"]) if stacker is not None else max(
        m.size for m in models.result().models)  # without a stacker the sizes are known only once loaded
    extract = inference_extract_config(extract_cfg, size, cfg, serving_margin(stacker))
    card = card_summary(models_dir, stacker)
    detections = []
    for path, name in zip(tqdm(inputs, desc="detect", unit="input"), output_names(inputs), strict=True):
        t0 = time.perf_counter()
        try:
            det, figures = detect_one(path, name, models, detector, extract, cfg, dcfg, card)
        except Exception as exc:  # noqa: BLE001 - one input must not cost the others; the reason is reported
            log.exception("%s failed", path)
            det = Detection(str(path), name, input_kind(path), "error", f"{type(exc).__name__}: {exc}", UNKNOWN,
                            model_card=card)
            det.summary, figures = plain_words(det, dcfg.threshold), {}
        det.timings["load_models_once"] = round(loaded[0], 3) if loaded else None  # still loading: not known
        det.timings["total_without_load"] = round(time.perf_counter() - t0, 3)
        try:
            write_detection(det, figures, out_dir)
        except Exception:  # noqa: BLE001 - a report that cannot be written must not cost the other inputs
            log.exception("%s: its report could not be written", path)
        log.info("%s: %s", path.name, det.summary)
        detections.append(det)
    models.result()  # surfaces a loading error even when no input had a face
    loading.shutdown()
    write_errors([(d.input, d.status, d.reason) for d in detections], out_dir)
    if len(detections) > 1:
        atomic_write_text(index_html(detections), out_dir / INDEX_FILE)
    return detections


__all__ = ["DetectConfig", "Detection", "detect_paths", "detect_one", "bootstrap_interval", "verdict_of",
           "expand_inputs", "output_names", "card_summary", "report_html", "index_html"]
