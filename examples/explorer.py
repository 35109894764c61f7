"""An interactive explorer for teaching: SGD's learning rate × momentum on seed 000's regression, one page.

600 settings (30 learning rates × 20 momenta, 100 steps each) run in one call; the page has a slider for each, and
moving them draws that setting's path over the loss map beside its loss curve, a diverging one marked where it
blows up. It is one HTML file that works offline (needs plotly: pip install 'landscape[explore]'); where headless
Chromium is installed, the script also takes a screenshot of it (the README gallery's).

    python examples/explorer.py [OUT_DIR] [--quick]
"""

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import landscape as ls


def screenshot(page: Path, png: Path) -> bool:
    """Take a screenshot of ``page`` with headless Chromium; False when it is not installed."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        return False
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
                        "--hide-scrollbars", "--window-size=1300,690", "--virtual-time-budget=10000",
                        f"--screenshot={png.resolve()}", page.resolve().as_uri()],
                       check=True, capture_output=True, timeout=300)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="examples/out", help="folder for the page (default examples/out)")
    parser.add_argument("--quick", action="store_true", help="an 8 × 5 sweep and a coarse map (for tests)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    n_lr, n_momentum, n_map = (8, 5, 61) if args.quick else (30, 20, 201)
    prob = ls.problems.seed_regression()
    sw = ls.sweep(prob, ls.optim.SGD, 100, lr=np.logspace(-3, 0.5, n_lr), momentum=np.linspace(0, 0.99, n_momentum),
                  keep="params")  # every setting's loss curve and path
    m = ls.loss_map(prob, ls.Axis("bias", -5, 8, n_map), ls.Axis("weight", -5, 8, n_map))
    page = ls.plot.explore(m, sw, out / "explorer.html", start={"lr": 0.03, "momentum": 0.9})  # a momentum spiral
    print(f"{page.name}: {sw.size} settings × 100 steps, {(sw.status == ls.Status.DIVERGED).sum()} diverged, "
          f"{page.stat().st_size / 1e6:.1f} MB")
    if screenshot(page, out / "explorer.png"):
        print("explorer.png: the page in headless Chromium")
    else:
        print("no Chromium: skipped the screenshot")


if __name__ == "__main__":
    main()
