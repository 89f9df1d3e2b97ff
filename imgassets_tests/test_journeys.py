"""The README's journeys, each followed from what the user types to what the user sees, on the whole local stack:
the values asserted on are the ones the user gave (the source name, the class searched for, the number of images
and frames), read back from the CLI's output, Dagster's API and the viewer's pages in a real browser, never only
from an intermediate record.

| journey (README)                                   | test                                                     |
|----------------------------------------------------|----------------------------------------------------------|
| ingest a folder with --source; `query`             | test_a_folder_ingested_with_a_source_is_found_by_it      |
| ingest a video with --source                       | test_a_video_ingested_with_a_source_keeps_its_frames     |
| ingest --watch with --source                       | test_a_watched_folder_with_a_source_is_found_by_it       |
| overview, hour, image, search (class, source,      | test_the_viewer_shows_what_the_user_ingested (browser:   |
| confidence), CSV/Parquet download, phone width;    | frontend/e2e/journeys/*.spec.ts), screenshots in docs    |
| `versions backfill` and the compare page;          |                                                          |
| `versions add` of a YOLOv8-style export, compared  |                                                          |
| a backfill launched from Dagster's UI              | test_a_backfill_from_dagster_keeps_the_source            |
| describe a camera in sources.toml, ingest its clip; | test_a_clip_of_a_gate_counts_its_objects_and_crossings   |
| `query` its tracks and events; its source page     | (and the browser test's source page)                     |
| `dlq list`                                         | test_dlq_list_names_the_image_of_a_rejected_message      |
| Dagster's first contact (location, partitions)     | test_dagster_shows_the_imgassets_location_and_its_hours  |

`dlq replay` is followed in test_e2e (a dead-lettered batch replayed), the compare page in detail by the viewer's
browser tests.
"""

import json
import shutil
import signal
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import cv2
import pytest
from PIL import Image, ImageOps

from imgassets.core.settings import PROJECT_ROOT
from imgassets.detector import find_model_files
from imgassets.devtools.synthetic_clips import Clip, make_clip
from imgassets.stack import dagster_api
from imgassets_tests import layout_models
from imgassets_tests.conftest import FIGURES, PHOTOS
from imgassets_tests.e2e_stack import IMGASSETS, PORTS, Stack, browser_tests, cli, graphql, poll

pytestmark = pytest.mark.e2e

#: What the user types: a camera name for a folder, one for a video, one for a watched folder.
FOLDER_SOURCE, VIDEO_SOURCE, WATCH_SOURCE = "cam-journey", "cam-video", "cam-watch"
#: Each photo's file name and a class the detector finds in it (the demo photos; mirrored, so new content).
PHOTOS_WITH = {"dog.jpg": "dog", "horses.jpg": "horse"}
#: The camera the user describes in sources.toml, with a line and a zone, and whose clip they ingest.
TRACKS_SOURCE, TRACKS_LINE, TRACKS_ZONE = "cam-gate-journey", "gate", "left-half"
#: The name the user gives the model they add as a detector version.
ADDED_VERSION = "yolo_export"
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"


def _mirrored(photo: str, into: Path, name: str | None = None) -> Path:
    """A demo photo mirrored: the same objects in bytes never ingested before (ingest skips known content)."""
    target = into / (name or f"mirrored-{photo}")
    ImageOps.mirror(Image.open(PHOTOS / photo)).save(target, quality=92)
    return target


def _sql(stack: Stack, text: str) -> list[dict]:
    """Rows of `imgassets query --format json` over the last two hours, as the user runs it."""
    result = cli(stack.env, "query", "--last", "2h", "--format", "json", text, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _images_from(stack: Stack, source: str, wanted: int, timeout: float = 240) -> list[dict]:
    """The images table's rows of `source`, once it holds `wanted` of them."""
    query = f"SELECT image_key, source, counts, upload_hour FROM images WHERE source = '{source}' ORDER BY 1"
    rows = poll(lambda: _sql(stack, query), lambda found: len(found) >= wanted, timeout, every=2)
    assert len(rows) == wanted, f"{len(rows)} of {wanted} images of {source} in the images table: {rows}"
    return rows


@pytest.fixture(scope="module")
def folder_ingest(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`imgassets ingest --source cam-journey DIR`: two photos and a file that is not an image."""
    folder = tmp_path_factory.mktemp("journey")
    for photo in PHOTOS_WITH:
        _mirrored(photo, folder)
    bad = folder / "notes.jpg"
    bad.write_text("not an image")
    result = cli(stack.env, "ingest", "--source", FOLDER_SOURCE, str(folder))
    return {"result": result, "bad": bad, "rows": _images_from(stack, FOLDER_SOURCE, len(PHOTOS_WITH))}


def test_a_folder_ingested_with_a_source_is_found_by_it(stack: Stack, folder_ingest: dict) -> None:
    from imgassets.core import layout
    from imgassets.core.records import DetectionRecord

    result = folder_ingest["result"]
    output = result.stdout + result.stderr
    assert result.returncode == 1, output  # one file failed: the command says so
    assert "sent 2, already ingested 0, failed 1" in result.stdout, output
    assert output.count(str(folder_ingest["bad"])) == 1, f"the failed file is reported once:\n{output}"

    rows = folder_ingest["rows"]
    assert {row["source"] for row in rows} == {FOLDER_SOURCE}
    assert {name: any(name in row["image_key"] for row in rows) for name in PHOTOS_WITH} == dict.fromkeys(
        PHOTOS_WITH, True
    )
    for row in rows:  # what the detector found in each photo reaches the table
        label = next(label for name, label in PHOTOS_WITH.items() if name in row["image_key"])
        assert dict(row["counts"]).get(label, 0) >= 1, row
    dogs = _sql(stack, f"SELECT count(*) AS n FROM detections WHERE source = '{FOLDER_SOURCE}' AND label = 'dog'")
    assert dogs[0]["n"] >= 1
    # The hour summary and each detection record carry the name too.
    for hour in {layout.parse_image_key(row["image_key"]).partition for row in rows}:
        summary = stack.store.get_json(layout.summary_key(hour))
        in_hour = [row for row in rows if layout.parse_image_key(row["image_key"]).partition == hour]
        assert summary["source_counts"].get(FOLDER_SOURCE) == len(in_hour), summary["source_counts"]
    for row in rows:
        key = layout.parse_image_key(row["image_key"]).detection_key
        record = stack.store.get_record(key, DetectionRecord)
        assert record.provenance.source is not None and record.provenance.source.name == FOLDER_SOURCE


def _clip(path: Path, photos: list[str], size: tuple[int, int] = (640, 480)) -> Path:
    """A video of real photos, one second each (1 fps): its frames are known by construction."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 1.0, size)
    assert writer.isOpened(), "OpenCV cannot write mp4v here"
    for photo in photos:
        image = cv2.imread(str(PHOTOS / photo))
        assert image is not None, photo
        frame = cv2.resize(cv2.flip(image, 1), size, interpolation=cv2.INTER_AREA)
        writer.write(frame)
    writer.release()
    return path


def test_a_video_ingested_with_a_source_keeps_its_frames(stack: Stack, tmp_path: Path) -> None:
    from imgassets.core import layout
    from imgassets.core.records import DetectionRecord

    clip = _clip(tmp_path / "gate.mp4", ["dog.jpg", "horses.jpg", "person.jpg"])
    result = cli(stack.env, "ingest", "--every", "1", "--source", VIDEO_SOURCE, str(clip))
    assert result.returncode == 0 and "sent 3, already ingested 0, failed 0" in result.stdout, result.stdout
    rows = _images_from(stack, VIDEO_SOURCE, 3)
    frames = []
    for row in rows:
        record = stack.store.get_record(layout.parse_image_key(row["image_key"]).detection_key, DetectionRecord)
        source = record.provenance.source
        assert source is not None and source.name == VIDEO_SOURCE and source.video_frame is not None
        assert source.video_frame.video.endswith("gate.mp4")
        frames.append((source.video_frame.timestamp_s, dict(row["counts"])))
    frames.sort()
    assert [round(at) for at, _ in frames] == [0, 1, 2]
    # Each second shows its photo: what the detector finds in the frames is what the clip was made of.
    found = {label: counts.get(label, 0) for (_, counts), label in zip(frames, ["dog", "horse", "person"], strict=True)}
    assert all(found.values()), frames


def test_a_watched_folder_with_a_source_is_found_by_it(stack: Stack, tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    watcher = subprocess.Popen(
        [IMGASSETS, "ingest", "--watch", "--source", WATCH_SOURCE, str(incoming)],
        env=stack.env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)  # the watcher has scanned the empty folder and watches it
        staged = _mirrored("giraffe.jpg", tmp_path, "arrived.jpg")
        shutil.move(staged, incoming / staged.name)  # lands whole, as a camera's upload would
        rows = _images_from(stack, WATCH_SOURCE, 1)
    finally:
        watcher.send_signal(signal.SIGINT)
        out, err = watcher.communicate(timeout=30)
    assert rows[0]["image_key"].endswith("-arrived.jpg") and dict(rows[0]["counts"]).get("giraffe", 0) >= 1, rows
    assert "arrived.jpg" in out, out + err


@pytest.fixture(scope="module")
def tracked_clip(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """The user describes their gate camera in sources.toml, then `imgassets ingest --every 0.125 --source
    cam-gate-journey gate.mp4`: a clip whose objects, crossings and visits are known by construction
    (imgassets/devtools/synthetic_clips.py). Ready when the hours' track summaries count every frame."""
    from imgassets.core import layout
    from imgassets.core.records import TrackSummary

    clip = make_clip(tmp_path_factory.mktemp("gate-clip"))
    sources = Path(stack.env["IMGASSETS_SOURCES_FILE"])
    sources.write_text(sources.read_text() + clip.sources_toml(TRACKS_SOURCE, TRACKS_LINE, TRACKS_ZONE))
    result = cli(stack.env, "ingest", "--every", str(1 / clip.fps), "--source", TRACKS_SOURCE, str(clip.path))
    ingested = time.monotonic()
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"sent {clip.frames}, already ingested 0, failed 0" in result.stdout, result.stdout
    rows = _images_from(stack, TRACKS_SOURCE, clip.frames, timeout=600)
    hours = sorted({layout.parse_image_key(row["image_key"]).partition for row in rows})

    def tracked_frames() -> int:
        found = [stack.store.get_optional(layout.track_summary_key(hour)) for hour in hours]
        summaries = [TrackSummary.model_validate_json(stored.data) for stored in found if stored is not None]
        return sum(s.sources[TRACKS_SOURCE].frames for s in summaries if TRACKS_SOURCE in s.sources)

    assert poll(tracked_frames, lambda frames: frames == clip.frames, 300, every=1) == clip.frames
    FIGURES.append(
        f"tracks: the {clip.frames} frames of the gate clip all tracked {time.monotonic() - ingested:.1f} s after "
        "`ingest` returned (polled every second, from their images-table rows)"
    )
    return clip


def test_a_clip_of_a_gate_counts_its_objects_and_crossings(stack: Stack, tracked_clip: Clip) -> None:
    """What `imgassets query` answers over the tracks and events tables is the clip's truth: three people, a
    truck and a dog (one person leaves the zone and comes back, two cross each other, the dog stands still),
    three crossings in and two out of the line the user drew, six visits of the zone."""
    clip = tracked_clip
    source = f"source = '{TRACKS_SOURCE}'"
    unique = _sql(stack, f"SELECT label, count(DISTINCT track_id) AS n FROM tracks WHERE {source} GROUP BY 1")
    assert {row["label"]: row["n"] for row in unique} == clip.unique()
    crossings = _sql(
        stack,
        f"SELECT direction, count(*) AS n FROM events WHERE {source} AND kind = 'crossing' AND name = "
        f"'{TRACKS_LINE}' GROUP BY 1",
    )
    assert {row["direction"]: row["n"] for row in crossings} == clip.crossing_counts()
    visits = _sql(
        stack, f"SELECT count(*) AS n FROM events WHERE {source} AND kind = 'zone' AND name = '{TRACKS_ZONE}'"
    )
    assert visits[0]["n"] == sum(clip.zone_visits.values())


@pytest.fixture(scope="module")
def version_backfill(stack: Stack, folder_ingest: dict) -> str:
    """`imgassets versions backfill conf03 --last 2h --wait`, as `make up` suggests."""
    result = cli(stack.env, "versions", "backfill", "conf03", "--last", "2h", "--wait", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "COMPLETED_SUCCESS" in result.stdout and "/compare?version=conf03" in result.stdout, result.stdout
    return "conf03"


def test_a_version_backfill_tracks_the_version_s_detections(
    stack: Stack, tracked_clip: Clip, version_backfill: str
) -> None:
    """`versions backfill conf03` fills conf03's tracks too: every frame of the clip tracked under conf03, and the
    compare page's answer has both versions' distinct objects."""
    from imgassets.core import layout
    from imgassets.core.records import TrackSummary

    rows = _images_from(stack, TRACKS_SOURCE, tracked_clip.frames)
    hours = sorted({layout.parse_image_key(row["image_key"]).partition for row in rows})
    summaries = [
        stack.store.get_record(layout.track_summary_key(hour, version_backfill), TrackSummary) for hour in hours
    ]
    assert {s.version for s in summaries} == {version_backfill}
    assert sum(s.sources[TRACKS_SOURCE].frames for s in summaries) == tracked_clip.frames
    # The answer the compare page shows, from the query endpoint, with the local stack's token.
    token = (Path(stack.env["IMGASSETS_HOME"]) / "query-token").read_text().strip()
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORTS['query']}/versions/{version_backfill}/compare?last=2h",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        page = json.load(answer)
    assert page["unique_a"].get("person", 0) >= tracked_clip.unique()["person"], page["unique_a"]
    assert page["unique_b"].get("person", 0) >= 1, page["unique_b"]


@pytest.fixture(scope="module")
def added_version(stack: Stack, folder_ingest: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`imgassets versions add yolo_export --onnx yolo-export.onnx` (a YOLOv8-style export: names and size in its
    metadata), then `imgassets versions backfill yolo_export --last 2h --wait`."""
    model = layout_models.save(
        layout_models.yolov8(find_model_files().labels), tmp_path_factory.mktemp("models") / "yolo-export.onnx"
    )
    added = cli(stack.env, "versions", "add", ADDED_VERSION, "--onnx", str(model), timeout=300)
    assert added.returncode == 0, added.stdout + added.stderr
    assert "layout yolov8, input 416, 80 classes" in added.stdout, added.stdout
    assert "Dagster reloaded the code location" in added.stdout, added.stdout
    filled = cli(stack.env, "versions", "backfill", ADDED_VERSION, "--last", "2h", "--wait", timeout=600)
    assert filled.returncode == 0, filled.stdout + filled.stderr
    assert "COMPLETED_SUCCESS" in filled.stdout, filled.stdout
    return {"name": ADDED_VERSION, "model": model.name, "layout": "yolov8"}


def test_the_viewer_shows_what_the_user_ingested(
    stack: Stack, folder_ingest: dict, version_backfill: str, added_version: dict, tracked_clip: Clip
) -> None:
    """The pages in a real browser, with the user's values: the source's images on the overview, the hour page
    and the search (by source, class and confidence), its downloads, the image page; each page at phone width;
    the README's screenshots of the viewer and of Dagster's UI."""
    rows = folder_ingest["rows"]
    env = stack.env | {
        "VIEWER_URL": f"http://127.0.0.1:{PORTS['viewer']}",
        "DAGSTER_URL": f"http://127.0.0.1:{PORTS['dagster']}",
        "IMGASSETS_CLI": IMGASSETS,
        "JOURNEY_SOURCE": FOLDER_SOURCE,
        "JOURNEY_IMAGES": json.dumps({row["image_key"]: dict(row["counts"]) for row in rows}),
        "JOURNEY_CLASS": "dog",
        "JOURNEY_VIDEO_SOURCE": VIDEO_SOURCE,
        "JOURNEY_VERSION": version_backfill,
        "JOURNEY_ADDED": json.dumps(added_version),
        "JOURNEY_TRACKS": json.dumps(
            {
                "source": TRACKS_SOURCE,
                "unique": tracked_clip.unique(),
                "crossings": {TRACKS_LINE: tracked_clip.crossing_counts()},
                "zones": [TRACKS_ZONE],
                "visits": {TRACKS_ZONE: sum(tracked_clip.zone_visits.values())},
                "lines": [TRACKS_LINE],
            }
        ),
        "SCREENSHOTS_DIR": str(SCREENSHOTS),
    }
    browser_tests(env, "journeys")
    assert {path.name for path in SCREENSHOTS.glob("*.png")} >= {
        "viewer-overview.png",
        "viewer-hour.png",
        "viewer-image.png",
        "viewer-search.png",
        "viewer-phone.png",
        "dagster-assets.png",
        "dagster-runs.png",
    }


def test_a_backfill_from_dagster_keeps_the_source(stack: Stack, folder_ingest: dict) -> None:
    """The journey hour backfilled as from Dagster's Materialize dialog (all four assets): a backfill has no
    Kafka message, so the source comes from the image's stored metadata; the table keeps the user's name, and
    each check result shows its hour."""
    from imgassets.core import layout
    from imgassets.stack import dagster_api

    rows = folder_ingest["rows"]
    hours = sorted({layout.parse_image_key(row["image_key"]).partition for row in rows})
    url = f"http://127.0.0.1:{PORTS['dagster']}"
    assets = [["raw_images"], ["detections"], ["detection_summary"], ["detection_table"]]
    backfill = dagster_api.launch_backfill(url, assets, hours, "journey: backfill from the UI")
    state = poll(
        lambda: dagster_api.backfill_state(url, backfill),
        lambda found: found.status in dagster_api.FINAL_STATES,
        300,
        every=2,
    )
    assert state.status in ("COMPLETED", "COMPLETED_SUCCESS"), state
    again = _images_from(stack, FOLDER_SOURCE, len(rows))
    assert [(row["image_key"], row["source"]) for row in again] == [(row["image_key"], FOLDER_SOURCE) for row in rows]
    checks = graphql(
        """query ($partition: String) {
          assetCheckExecutions(assetKey: {path: ["detection_summary"]}, checkName: "summary_covers_all_detections",
                               partition: $partition, limit: 5) { runId evaluation { partition success } }
        }""",
        {"partition": hours[-1]},
    )["assetCheckExecutions"]
    assert checks and all(c["evaluation"]["partition"] == hours[-1] for c in checks if c["evaluation"]), checks


def test_a_backfill_that_fails_says_why(stack: Stack, folder_ingest: dict, tmp_path: Path) -> None:
    """A version whose model file went away after `versions add`: `versions backfill --wait` fails, naming the
    step and the missing file, without sending the user to Dagster's UI. The versions file is restored after."""
    versions = Path(stack.env["IMGASSETS_DETECTOR_VERSIONS_FILE"])
    before = versions.read_text()
    model = layout_models.save(layout_models.yolov8(find_model_files().labels), tmp_path / "moved-away.onnx")
    try:
        added = cli(stack.env, "versions", "add", "moved_away", "--onnx", str(model), timeout=300)
        assert added.returncode == 0, added.stdout + added.stderr
        model.unlink()
        filled = cli(stack.env, "versions", "backfill", "moved_away", "--last", "1h", "--wait", timeout=600)
        assert filled.returncode == 1, filled.stdout + filled.stderr
        assert "ended COMPLETED_FAILED" in filled.stderr, filled.stderr
        assert "moved_away__detections: " in filled.stderr and f"model files missing: {model}" in filled.stderr
    finally:
        versions.write_text(before)
        dagster_api.reload_location(f"http://127.0.0.1:{PORTS['dagster']}", "imgassets")


def test_dlq_list_names_the_image_of_a_rejected_message(stack: Stack) -> None:
    """A producer of the user's own announces an image with an upload time outside the key's hour: the sensor
    dead-letters it, and `imgassets dlq list` shows the image key and the reason."""
    from imgassets.core import layout, messages
    from imgassets.core.settings import get_settings
    from imgassets_tests import helpers

    since = datetime.now(UTC)
    key = layout.image_key("ab" * 32, "gate.jpg", since)
    value = json.loads(
        messages.encode(
            messages.ImageMessage(
                bucket=stack.env["IMGASSETS_S3_BUCKET"],
                key=key,
                size=10,
                sha256="ab" * 32,
                content_type="image/jpeg",
                uploaded_at=since,
                source=messages.Source(path="/cams/gate.jpg", name="gate"),
            )
        )
    )
    value["uploaded_at"] = "2026-01-01T00:00:00Z"  # not the key's hour
    producer = helpers.Deployment(get_settings()).producer()
    producer.send(get_settings().kafka_topic, key=key.encode(), value=json.dumps(value).encode()).get(timeout=30)
    producer.close()

    def listed() -> str:
        return cli(stack.env, "dlq", "list", "--since", since.isoformat(), timeout=120).stdout

    output = poll(listed, lambda text: key in text, 60, every=2)
    line = next((line for line in output.splitlines() if key in line), "")
    assert line.split()[1] == "message" and "uploaded_at" in line, output


def test_dagster_shows_the_imgassets_location_and_its_hours(stack: Stack) -> None:
    """The code location is named for the product, and the partitions the UI lists start on the day the stack
    was installed (the first `stack up` writes it to the .env), not at a fixed date thousands of hours ago."""
    data = graphql(
        """{ workspaceOrError { ... on Workspace { locationEntries { name } } }
             assetNodes(assetKeys: [{path: ["detections"]}]) { partitionKeysByDimension { partitionKeys } } }""",
        {},
    )
    assert [entry["name"] for entry in data["workspaceOrError"]["locationEntries"]] == ["imgassets"]
    (node,) = data["assetNodes"]
    (dimension,) = node["partitionKeysByDimension"]
    keys = dimension["partitionKeys"]
    written = Path(stack.env["IMGASSETS_ENV_FILE"]).read_text()
    assert f"IMGASSETS_PARTITIONS_START={keys[0]}\n" in written
    assert keys[0] == stack.started.strftime("%Y-%m-%d-00:00")
    hours = (datetime.now(UTC) - stack.started.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds()
    assert abs(len(keys) - (hours // 3600 + 2)) <= 1, len(keys)  # every hour since the start, and the next
