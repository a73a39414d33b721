"""requirements.lock as data, with the standard library only (it runs before anything is installed).

    python .ci/lockfile.py verify            exit 1, naming each difference, unless the running Python's
                                             distributions are exactly the lock's (plus the project itself)
    python .ci/lockfile.py strays            distributions installed here that the lock does not list
    python .ci/lockfile.py without NAME...   the lock minus NAME... and every package only they need
"""
from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

LOCK = Path(__file__).resolve().parent.parent / "requirements.lock"
PROJECT = "iqa"
PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def canonical(name: str) -> str:
    """The name as package indexes compare it (PEP 503): `PyYAML`, `pyyaml` and `py_yaml` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def entries(text: str) -> dict[str, str]:
    """Each package's entry in the lock (pin, hashes, `# via` comments) by canonical name."""
    out: dict[str, str] = {}
    name = None
    for line in text.splitlines(keepends=True):
        pin = PIN.match(line)
        if pin:
            name = canonical(pin.group(1))
            out[name] = ""
        if name:
            out[name] += line
    return out


def pins(text: str) -> dict[str, str]:
    """{name: version} for every package the lock pins."""
    return {canonical(m.group(1)): m.group(2) for m in map(PIN.match, text.splitlines()) if m}


def requirers(entry: str) -> set[str]:
    """Who needs a package, from its `# via` comments (a constraints file `-c ...` needs nothing)."""
    names = set()
    for line in entry.splitlines()[1:]:
        text = line.strip().lstrip("#").strip().removeprefix("via").strip()
        if line.strip().startswith("#") and text and not text.startswith("-"):
            names.add(canonical(text.split()[0]))
    return names


def without(text: str, excluded: set[str]) -> str:
    """The lock's entries minus `excluded` and every package that only excluded packages need."""
    by_name = entries(text)
    unknown = excluded - by_name.keys()
    if unknown:
        raise SystemExit(f"{LOCK}: no package {', '.join(sorted(unknown))} in the lock")
    dropped = set(excluded)
    grew = True
    while grew:
        orphans = {name for name, entry in by_name.items()
                   if name not in dropped and requirers(entry) and requirers(entry) <= dropped}
        dropped |= orphans
        grew = bool(orphans)
    kept = [entry for name, entry in by_name.items() if name not in dropped]
    return f"# {LOCK.name} without {', '.join(sorted(dropped))}\n" + "".join(kept)


def installed() -> dict[str, str]:
    """{name: version} of the running Python's distributions; the first on sys.path wins, as for import."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        if dist.metadata["Name"]:  # a half-removed install leaves a folder without a name: not installed
            found.setdefault(canonical(dist.metadata["Name"]), dist.version)
    return found


def differences(locked: dict[str, str], present: dict[str, str]) -> list[str]:
    """One line per package whose installed version is not the locked one (the project is not locked)."""
    names = sorted((locked.keys() | present.keys()) - {PROJECT})
    return [f"{n}: lock {locked.get(n, '-')}, installed {present.get(n, '-')}"
            for n in names if locked.get(n) != present.get(n)]


def main(argv: list[str]) -> int:
    commands = ("verify", "strays", "without")
    if not argv or argv[0] not in commands or (argv[0] == "without") != (len(argv) > 1):
        raise SystemExit(__doc__)
    text = LOCK.read_text()
    if argv[0] == "without":
        print(without(text, {canonical(n) for n in argv[1:]}), end="")
    elif argv[0] == "strays":
        print("\n".join(sorted(installed().keys() - pins(text).keys() - {PROJECT})))
    else:
        diff = differences(pins(text), installed())
        same = f"{sys.prefix} holds exactly the {len(pins(text))} distributions of {LOCK.name}"
        print("\n".join([f"{sys.prefix} differs from {LOCK}:", *diff]) if diff else same)
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
