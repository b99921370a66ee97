"""Run the generator's command line: ``python -m crmlib.synth [--profile P] --customers N --out DIR``."""

from __future__ import annotations

from crmlib.synth._cli import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main())
