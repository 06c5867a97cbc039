"""Command line: ``python -m mer_utils.data.synthetic [--size quick|paper|tiny] [--root DIR] [--seed N] [--force]``.

Without ``--force`` the set is generated only when missing or stale (:func:`ensure_synthetic`); with it, the
chosen layouts are rewritten (:func:`generate`).
"""
from __future__ import annotations

import argparse
import json
import time

from . import LAYOUTS, SIZES, ensure_synthetic, generate, read_marker


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mer_utils.data.synthetic",
                                     description="Generate the synthetic micro-expression sets in the licensed "
                                                 "datasets' layouts.")
    parser.add_argument("--size", default="quick", choices=sorted(SIZES))
    parser.add_argument("--root", default=None, help="output folder (default data/synthetic/<size>)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets", nargs="*", choices=list(LAYOUTS), default=None,
                        help="only these layouts (implies --force)")
    parser.add_argument("--force", action="store_true", help="rewrite even when a complete set exists")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes writing layouts in parallel (default 1; up to 4 for --size paper)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.force or args.datasets:
        root = generate(args.size, root=args.root, seed=args.seed, datasets=args.datasets, progress=not args.quiet,
                        workers=args.workers)
    else:
        root = ensure_synthetic(args.size, root=args.root, seed=args.seed, progress=not args.quiet,
                                workers=args.workers)
    marker = read_marker(root) or {}
    print(f"{root}: size={marker.get('size')} seed={marker.get('seed')} frames={marker.get('frames')} "
          f"generated in {marker.get('seconds')} s (this call {time.perf_counter() - start:.1f} s)")
    print(json.dumps(marker.get("counts", {})))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
