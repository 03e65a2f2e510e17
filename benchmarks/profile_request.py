"""Profile the request path of one variant with pyinstrument.

``python benchmarks/profile_request.py [VARIANT] [N]`` (default reqlog-tcp, 5000)
prints pyinstrument's call tree for N requests through the WSGI handler. Used
to find what to speed up; pyinstrument is in benchmarks/requirements.txt.
"""

from __future__ import annotations

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import measure


def main() -> None:
    from pyinstrument import Profiler

    variant = sys.argv[1] if len(sys.argv) > 1 else "reqlog-tcp"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    workdir = tempfile.mkdtemp(prefix="reqlog-profile-")
    _, stack = measure._setup(variant, workdir)
    one = measure.wsgi_driver()
    for _ in range(300):
        one()
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(count):
        one()
    profiler.stop()
    stack.drain()
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    stack.close()
    os._exit(0)


if __name__ == "__main__":
    main()
