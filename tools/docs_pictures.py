"""Draw the explanatory pictures of the documentation into docs/img.

    python tools/docs_pictures.py            # needs matplotlib (the eval extra)

The video-search picture is a diagram, not a measurement: one made-up shot with a scene cut,
laid out on faceless's default schedule (a full face look every 8th frame and after a cut, a
640-px pass between, a whole-frame plate search every 6th frame, closer looks at tracked
plates on every 2nd frame between).
"""

from __future__ import annotations

import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"

FRAMES = 31
CUT = 21  # a scene cut: a new shot starts here
FULL_EVERY = 8
TEXT_EVERY = 6
SPARSE_EVERY = 2

# One small face: in view from frame 1, too small for the 640-px pass, first found by the
# full look on frame 8, found again by closer looks, missed on 13-14 (gap filled), found on
# 15-16, detector silent from 17 (held by its look), gone at the cut.
FACE_VISIBLE = range(1, CUT)
FACE_FOUND = [8, 9, 10, 11, 12, 15, 16]
FACE_GAP = [13, 14]
FACE_HELD = [17, 18, 19, 20]
FACE_BACK = range(1, 8)  # hidden back over the frames since the previous full look
# One plate: in view from frame 4, unreadable until the search on frame 12 reads it, followed
# back by its look, found again by closer looks on 14 and 16 and by the search on 18, carried
# on by its motion to the cut.
PLATE_VISIBLE = range(4, CUT)
PLATE_FOUND = [12, 14, 16, 18]
PLATE_GAP = [13, 15, 17]
PLATE_AFTER = [19, 20]
PLATE_BACK = range(5, 12)


def schedule() -> dict[str, list[int]]:
    """Which frames get which search, as faceless's defaults lay them out."""
    full, low, plate_search, plate_closer = [], [], [], []
    since = None
    for i in range(FRAMES):
        if since is None or i == CUT or since + 1 >= FULL_EVERY:
            full.append(i)
            since = 0
        else:
            low.append(i)
            since += 1
        if i % TEXT_EVERY == 0:
            plate_search.append(i)
        elif i % SPARSE_EVERY == 0 and i != CUT and i in PLATE_VISIBLE and i > PLATE_FOUND[0]:
            plate_closer.append(i)
    return {"full": full, "low": low, "plate_search": plate_search, "plate_closer": plate_closer}


def video_search(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    s = schedule()
    closer = [i for i in FACE_FOUND + FACE_GAP + FACE_HELD if i not in s["full"]]
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 6.2), sharex=True, gridspec_kw={"height_ratios": [4, 3.4]})
    colours = {"full": "#1f4e79", "low": "#9dc3e6", "closer": "#f4b183",
               "search": "#375623", "pcloser": "#a9d18e"}

    def lane(ax, y, frames, colour, height=0.6, label=None):
        ax.bar(frames, [height] * len(frames), bottom=y - height / 2, width=0.8,
               color=colour, edgecolor="white", linewidth=0.5, label=label)

    lane(top, 3, s["full"], colours["full"])
    lane(top, 3, s["low"], colours["low"], height=0.3)
    lane(top, 2, closer, colours["closer"], height=0.3)
    lane(top, 1, s["plate_search"], colours["search"])
    lane(top, 0, s["plate_closer"], colours["pcloser"], height=0.3)
    top.set_yticks([3, 2, 1, 0], ["faces: full look (tall)\nor 640-px pass (short)",
                                  "faces: closer look\nwhere a track expects one",
                                  "plates, text:\nwhole-frame search",
                                  "plates, text: closer look\nat tracked ones"])
    top.set_ylim(-0.6, 3.6)
    top.set_title("What each frame is searched with (default settings)", loc="left",
                  fontsize=11)

    kinds = {
        "detected": "#2e75b6", "gap filled": "#ffc000", "held by its look": "#c55a11",
        "held by its motion": "#f8cbad", "hidden back": "#7f7f7f",
        "in view, not hidden": "#e7e6e6",
    }

    def track(ax, y, visible, found, rules):
        lane(ax, y, list(visible), kinds["in view, not hidden"], height=0.5)
        for frames, kind in rules:
            lane(ax, y, list(frames), kinds[kind], height=0.5)
        lane(ax, y, found, kinds["detected"], height=0.5)

    track(bottom, 1, FACE_VISIBLE, FACE_FOUND,
          [(FACE_BACK, "hidden back"), (FACE_GAP, "gap filled"),
           (FACE_HELD, "held by its look")])
    track(bottom, 0, PLATE_VISIBLE, PLATE_FOUND,
          [(PLATE_BACK, "held by its look"), (PLATE_GAP, "gap filled"),
           (PLATE_AFTER, "held by its motion")])
    bottom.set_yticks([1, 0], ["a small face", "a plate"])
    bottom.set_ylim(-0.6, 1.8)
    bottom.set_title("What tracking hides (it only adds regions to what was detected)",
                     loc="left", fontsize=11)
    bottom.legend(handles=[Patch(color=c, label=k) for k, c in kinds.items()], ncol=6,
                  loc="upper center", bbox_to_anchor=(0.5, -0.32), frameon=False, fontsize=9)
    for ax in (top, bottom):
        ax.axvline(CUT - 0.5, color="#c00000", linestyle="--", linewidth=1.2)
        ax.set_xlim(-0.7, FRAMES - 0.3)
        ax.tick_params(axis="y", length=0)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    bottom.text(CUT + 0.2, 0.5, "scene cut: the new shot's\nfirst frame gets a full look;\n"
                "every track ends", color="#c00000", fontsize=9, va="center")
    bottom.set_xticks(range(0, FRAMES, 2))
    bottom.set_xlabel("frame")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "video-search.png"
    video_search(path)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
