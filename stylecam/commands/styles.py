"""List the built-in styles."""
from __future__ import annotations

from ..paths import asset_path
from ..styles import BANK_FILE, load_bank

HELP = "List the built-in styles (usable by name with --style)."
EXAMPLES = """  stylecam styles
  stylecam image photo.jpg --style $(stylecam styles --names | head -n 1) -o out.png
"""


def add_arguments(p):
    p.add_argument("--names", action="store_true", help="print only the names, one per line")


def run(args) -> int:
    bank = load_bank()
    if args.names:
        print("\n".join(sorted(bank)))
        return 0
    if not bank:
        print(f"no built-in styles installed ({asset_path(BANK_FILE)} is missing); "
              "build them with: python -m stylecam.tools.make_bank --styles DIR")
        return 1
    print(f"{len(bank)} built-in styles (from {asset_path(BANK_FILE)}):")
    for name in sorted(bank):
        print(f"  {name}")
    return 0
