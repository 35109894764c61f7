"""Regenerate the README gallery: run the examples, copy the chosen figures into examples/gallery/ as small PNGs.

    python examples/make_gallery.py [--max-kb 200]

A figure larger than --max-kb is reduced to a 256-colour palette (and, if still too large, scaled down).
"""

import argparse
import importlib.util
import tempfile
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
GALLERY = {  # file in examples/gallery/: (example script, figure it writes)
    "sgd_momentum.png": ("sgd_parameters.py", "sgd_momentum.png"),
    "optimizers_contour.png": ("optimizer_comparison.py", "optimizers_contour.png"),
    "optimizers_surface.png": ("optimizer_comparison.py", "optimizers_surface.png"),
    "sweep_sgd.png": ("hyperparameter_sweep.py", "sweep_sgd.png"),
    "test_functions.png": ("test_functions.py", "test_functions.png"),
    "cnn_plane.png": ("real_network.py", "cnn_plane.png"),
    "explorer.png": ("explorer.py", "explorer.png"),  # a screenshot: needs plotly and headless Chromium
}


def run_example(script: str, out: Path) -> None:
    spec = importlib.util.spec_from_file_location(Path(script).stem, HERE / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main([str(out)])


def shrink(source: Path, target: Path, max_bytes: int) -> int:
    """Write ``source`` to ``target`` in at most ``max_bytes``: as it is if it fits, else as a palette PNG (scaled
    down if needed)."""
    image = Image.open(source).convert("RGB")
    image.save(target, optimize=True)
    if target.stat().st_size <= max_bytes:
        return target.stat().st_size
    scale = 1.0
    while True:
        size = (round(image.width * scale), round(image.height * scale))
        small = image if scale == 1.0 else image.resize(size, Image.Resampling.LANCZOS)
        small.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(target, optimize=True)
        if target.stat().st_size <= max_bytes or scale < 0.4:
            return target.stat().st_size
        scale *= 0.85


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-kb", type=int, default=200, help="largest file size in KiB (default 200)")
    parser.add_argument("--out", default=str(HERE / "gallery"), help="gallery folder (default examples/gallery)")
    args = parser.parse_args(argv)
    gallery = Path(args.out)
    gallery.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for script in dict.fromkeys(script for script, _ in GALLERY.values()):
            run_example(script, Path(tmp))
        for name, (_, figure) in GALLERY.items():
            size = shrink(Path(tmp) / figure, gallery / name, args.max_kb * 1024)
            print(f"{gallery / name}: {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
