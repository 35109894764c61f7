"""Animations of paths unfolding over a loss map (seed 004's GIFs): Pillow for GIF, ffmpeg for MP4.

The map is drawn once; each frame only redraws the paths (blitting), so a 60-frame GIF takes about a second.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from landscape import _checks
from landscape._files import atomic_write


class Animation(NamedTuple):
    """The file written, its number of ``frames``, and the step shown in each frame (``steps``)."""

    path: Path
    frames: int
    steps: np.ndarray


def frame_indices(n_points: int, every: int = 1, max_frames: int = 60) -> np.ndarray:
    """Indices of the recorded points shown by successive frames: every ``every``-th, always the last one, and
    at most ``max_frames`` of them (evenly thinned)."""
    _checks.integer("plot.animate", "every", every, 1, "a positive integer")
    _checks.integer("plot.animate", "max_frames", max_frames, 1, "a positive integer")
    index = np.arange(0, n_points, every)
    if index[-1] != n_points - 1:
        index = np.append(index, n_points - 1)
    if len(index) > max_frames:
        index = index[np.unique(np.round(np.linspace(0, len(index) - 1, max_frames)).astype(int))]
    return index


def animate(m, trajs, path, *, fps: float = 10, every: int = 1, max_frames: int = 60, labels=None, colors=None,
            kind: str = "filled", log: bool = False, sqrt: bool = False, levels=None, cmap: str | None = None,
            surface: bool = False, figsize=(6.4, 5.0), dpi: int = 80, hold: float = 1.5,
            legend: bool | str = True) -> Animation:
    """Write an animation of ``trajs`` unfolding over the map ``m`` to ``path`` (``.gif``; ``.mp4`` when ffmpeg is
    on the PATH), atomically.

    Args:
        m: the loss map drawn behind the paths (its axes name the two parameters shown).
        trajs: a Trajectory or ``compare``'s ``{label: Trajectory}``.
        path: the file to write.
        fps: frames per second.
        every: advance the paths by ``every`` recorded points per frame.
        max_frames: at most this many frames (longer runs are evenly thinned); the last frame is the full path.
        labels, colors, legend: as in :func:`~landscape.plot.trajectories`.
        kind, log, sqrt, levels, cmap: how the map is drawn (:func:`~landscape.plot.loss_map`).
        surface: animate over the 3-D surface instead (:func:`~landscape.plot.surface`).
        figsize, dpi: frame size (inches, dots per inch).
        hold: seconds the last frame stays before the GIF loops.

    Returns:
        An :class:`Animation` (``path``, ``frames``, ``steps``).
    """
    import matplotlib.pyplot as plt

    from landscape.plot.maps import loss_map
    from landscape.plot.maps import surface as draw_surface
    from landscape.plot.paths import path_data, trajectories

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"plot.animate: {str(path)!r}: expected a file ending in .gif or .mp4.")
    ffmpeg = shutil.which("ffmpeg")
    if suffix == ".mp4" and ffmpeg is None:
        raise ValueError(f"plot.animate: writing {str(path)!r} needs ffmpeg on the PATH, which was not found; "
                         "write a .gif instead (Pillow, always available).")
    if not (isinstance(fps, (int, float)) and fps > 0):
        raise ValueError(f"plot.animate: fps must be a positive number, got {fps!r}.")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot write {str(path)!r}: directory {str(directory)!r} does not exist.")

    fig = plt.figure(figsize=figsize, dpi=dpi, layout="constrained")
    try:
        paths = path_data(trajs, labels, x=m.x_label, y=m.y_label)
        n_points = max(len(p.x) for p in paths)
        index = frame_indices(n_points, every, max_frames)
        steps_of = max((p.traj for p in paths), key=lambda t: len(t.steps)).steps
        if surface:
            ax = fig.add_subplot(projection="3d")
            drawn = draw_surface(m, trajs=trajs, ax=ax, log=log, sqrt=sqrt, labels=labels, colors=colors)
        else:
            ax = fig.add_subplot()
            loss_map(m, ax=ax, kind=kind, log=log, sqrt=sqrt, levels=levels, cmap=cmap, mark_min=True)
            drawn = trajectories(trajs, ax=ax, labels=labels, colors=colors, legend=legend, x=m.x_label,
                                 y=m.y_label)
        lines = drawn.lines
        # what each frame shows of a path is what was drawn of it (a diverged path: until it leaves the map for good)
        shown = [np.asarray(line.get_data_3d() if surface else line.get_data(), float) for line in lines]
        heads = []
        for line, cross in zip(lines, drawn.diverged):
            if cross is not None:  # it appears when its path gets there
                cross.set_animated(True)
            line.set_animated(True)
            (head,) = ax.plot(*([[]] * (3 if surface else 2)), marker="o", markersize=8, color=line.get_color(),
                              markeredgecolor="white", linestyle="none", animated=True, zorder=8)
            heads.append(head)
        caption, title = ax.title, ax.get_title()  # the title counts the steps: it never covers the paths
        caption.set_animated(True)
        canvas = fig.canvas
        canvas.draw()
        background = canvas.copy_from_bbox(fig.bbox)
        frames = []
        for k in index:
            canvas.restore_region(background)
            for line, head, cross, data in zip(lines, heads, drawn.diverged, shown):
                upto = min(k, data.shape[1] - 1) + 1
                if surface:
                    line.set_data_3d(*data[:, :upto])
                    head.set_data_3d(*data[:, upto - 1:upto])
                else:
                    line.set_data(*data[:, :upto])
                    head.set_data(*data[:, upto - 1:upto])
                ax.draw_artist(line)
                ax.draw_artist(head)
                if cross is not None and upto == data.shape[1]:
                    ax.draw_artist(cross)
            step = int(steps_of[min(k, len(steps_of) - 1)])
            caption.set_text(f"{title}, step {step}" if title else f"step {step}")
            ax.draw_artist(caption)
            canvas.blit(fig.bbox)
            frames.append(np.asarray(canvas.buffer_rgba())[..., :3].copy())
    finally:
        plt.close(fig)

    shown_steps = np.asarray(steps_of)[np.minimum(index, len(steps_of) - 1)]
    if suffix == ".gif":
        from PIL import Image

        images = [Image.fromarray(frame) for frame in frames]
        durations = [round(1000 / fps)] * len(images)
        durations[-1] = max(durations[-1], round(1000 * hold))
        atomic_write(path, lambda f: images[0].save(f, format="GIF", save_all=True, append_images=images[1:],
                                                       duration=durations, loop=0, disposal=1))
    else:
        video = _mp4(ffmpeg, frames, fps, path)
        atomic_write(path, lambda f: f.write(video))
    return Animation(path, len(frames), shown_steps)


def _mp4(ffmpeg: str, frames: list, fps: float, path: Path) -> bytes:
    """The frames as an H.264 MP4 (even frame size), encoded by ffmpeg in a scratch directory."""
    height, width = frames[0].shape[:2]
    with tempfile.TemporaryDirectory(prefix="landscape-mp4-") as scratch:
        target = Path(scratch) / "animation.mp4"
        command = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                   f"{width}x{height}", "-r", str(fps), "-i", "-", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
                   "-pix_fmt", "yuv420p", "-vcodec", "libx264", str(target)]
        result = subprocess.run(command, input=b"".join(frame.tobytes() for frame in frames), capture_output=True,
                                check=False)
        if result.returncode != 0:
            raise OSError(f"plot.animate: ffmpeg failed writing {str(path)!r}: "
                          f"{result.stderr.decode(errors='replace').strip()[-500:]}")
        return target.read_bytes()
